package peer

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A real unix socket: the handshake reports this process, and its selectors name its uid and binary.
func TestTheKernelNamesTheCaller(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := net.Dial("unix", path)
		if err == nil {
			time.Sleep(time.Second)
			c.Close()
		}
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, auth, err := Credentials{}.ServerHandshake(conn)
	if err != nil {
		t.Fatal(err)
	}
	info := auth.(Info)
	if int(info.PID) != os.Getpid() || int(info.UID) != os.Getuid() || info.StartTime == 0 {
		t.Fatalf("info %+v", info)
	}
	selectors, err := NewAttestor(time.Second).Selectors(info)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	for _, want := range []string{"unix:uid:" + strconv.Itoa(os.Getuid()), "unix:gid:" + strconv.Itoa(os.Getgid()),
		"unix:path:" + exe} {
		if !slices.Contains(selectors, want) {
			t.Errorf("selectors %v lack %s", selectors, want)
		}
	}
}

// A pid whose start time differs from the one seen at accept is another process now.
func TestAReusedPidIsRefused(t *testing.T) {
	start, err := StartTime(int32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewAttestor(time.Second).Selectors(Info{PID: int32(os.Getpid()), UID: 0, StartTime: start + 1})
	if err != ErrGone {
		t.Fatalf("got %v, want ErrGone", err)
	}
}

func TestEveryEntrySelectorMustMatch(t *testing.T) {
	caller := []string{"unix:uid:1000", "unix:path:/usr/bin/api"}
	cases := []struct {
		entry []string
		want  bool
	}{
		{[]string{"unix:uid:1000"}, true},
		{[]string{"unix:uid:1000", "unix:path:/usr/bin/api"}, true},
		{[]string{"unix:uid:1000", "unix:path:/usr/bin/other"}, false},
		{[]string{"unix:uid:1001"}, false},
		{nil, false}, // an entry without selectors matches nobody
	}
	for _, c := range cases {
		if got := Matches(c.entry, caller); got != c.want {
			t.Errorf("Matches(%v) = %v, want %v", c.entry, got, c.want)
		}
	}
}

// Where the kernel has SO_PEERPIDFD, the handshake holds the connecting process's pidfd, checks
// it on every call, and closes it with the connection.
func TestThePidfdIsHeldWithTheConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	conn, auth, err := Credentials{}.ServerHandshake(raw)
	if err != nil {
		t.Fatal(err)
	}
	info := auth.(Info)
	if info.pidfd == nil {
		conn.Close()
		// Not a silent skip: the agent falls back to the start time there, which this test does not cover.
		if os.Getenv("LANYARD_SKIP_PIDFD_TESTS") == "true" {
			t.Skip("LANYARD_SKIP_PIDFD_TESTS=true: the pidfd check is not tested")
		}
		t.Fatal("this kernel has no SO_PEERPIDFD (Linux 6.5 or newer); set LANYARD_SKIP_PIDFD_TESTS=true to skip this test on purpose")
	}
	if info.Exe == (ExeID{}) || info.Exe != ExeOf(int32(os.Getpid())) {
		t.Fatalf("the executable at accept: %+v", info.Exe)
	}
	if _, err := NewAttestor(time.Second).Selectors(info); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if _, err := NewAttestor(time.Second).Selectors(info); err != ErrGone {
		t.Fatalf("after the connection closed its pidfd: %v, want ErrGone", err)
	}
}

// A caller whose executable is not the one seen at accept is refused, with a message to reconnect.
func TestAnotherExecutableThanAtAcceptIsRefused(t *testing.T) {
	start, err := StartTime(int32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	exe := ExeOf(int32(os.Getpid()))
	exe.Ino++
	_, err = NewAttestor(time.Second).Selectors(Info{PID: int32(os.Getpid()), StartTime: start, Exe: exe})
	if err != ErrExecChanged || !strings.Contains(err.Error(), "reconnect") {
		t.Fatalf("got %v, want ErrExecChanged", err)
	}
}
