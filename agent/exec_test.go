package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// execEnv makes the test binary connect to the agent's socket and, once the agent has accepted the
// connection, exec another binary that keeps the connection (CLOEXEC cleared); inheritedEnv makes
// that binary call the Workload API on the inherited connection, then on a fresh one.
const (
	execEnv      = "LANYARD_AGENT_TEST_EXEC"      // socket|binary to exec
	inheritedEnv = "LANYARD_AGENT_TEST_INHERITED" // fd|socket
)

func execChildMain(spec string) int {
	socket, target, _ := strings.Cut(spec, "|")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: socket})
	}
	if err != nil {
		fmt.Println("connect", err)
		return 1
	}
	// The agent attests at accept, then sends its HTTP/2 SETTINGS: peeked (not read) here, it says
	// the connection was attested as this process, still running the test binary.
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 10})
	if _, _, err := unix.Recvfrom(fd, make([]byte, 9), unix.MSG_PEEK); err != nil {
		fmt.Println("peek", err)
		return 1
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
		fmt.Println("fcntl", err)
		return 1
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, execEnv+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, inheritedEnv+"="+strconv.Itoa(fd)+"|"+socket)
	err = syscall.Exec(target, []string{target}, env)
	fmt.Println("exec", err)
	return 1
}

func inheritedMain(spec string) int {
	fdText, socket, _ := strings.Cut(spec, "|")
	fd, err := strconv.Atoi(fdText)
	if err != nil {
		fmt.Println("fd", err)
		return 1
	}
	f := os.NewFile(uintptr(fd), "inherited")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Println("fileconn", err)
		return 1
	}
	var once sync.Once
	conn, err := grpc.NewClient("passthrough:///inherited", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			c := net.Conn(nil)
			once.Do(func() { c = nc })
			if c == nil {
				return nil, errors.New("the inherited connection was used already")
			}
			return c, nil
		}))
	if err != nil {
		fmt.Println("client", err)
		return 1
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := workload.NewSpiffeWorkloadAPIClient(conn).FetchX509SVID(
		metadata.AppendToOutgoingContext(ctx, "workload.spiffe.io", "true"), &workload.X509SVIDRequest{})
	var resp *workload.X509SVIDResponse
	if err == nil {
		resp, err = stream.Recv()
	}
	if err != nil {
		fmt.Printf("inherited %s %s\n", status.Code(err), status.Convert(err).Message())
	} else {
		var ids []string
		for _, s := range resp.GetSvids() {
			ids = append(ids, s.GetSpiffeId())
		}
		fmt.Println("inherited ids", strings.Join(ids, ","))
	}
	svids, err := workloadapi.FetchX509SVIDs(ctx, workloadapi.WithAddr("unix://"+socket))
	if err != nil {
		fmt.Println("fresh", status.Code(err))
		return 0
	}
	var ids []string
	for _, s := range svids {
		ids = append(ids, s.ID.String())
	}
	fmt.Println("fresh ids", strings.Join(ids, ","))
	return 0
}

// A process that connects and then execs a registered binary, keeping the connection, does not get
// that binary's identity on the connection it made before (the kernel's start time does not change
// across execve): the agent refuses it with PermissionDenied, saying to reconnect. A connection the
// same process makes after the exec is attested as the registered binary.
func TestAProcessThatExecsAfterConnectingIsRefusedOnTheOldConnection(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	ctx := ctxFor(t, 2*time.Minute)
	agent := joinTokenAgent(t, s.GRPCAddr)
	registered := copyTestBinary(t)
	id := newID(s, "exec")
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if err := s.RegisterForAgent(ctx, id, agent.ID, fmt.Sprintf("unix:uid:%d", uid), "unix:path:"+registered); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return runChild(t, registered, uid, gid, agent.Addr()) == "ids "+id.String() })

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), execEnv+"="+agent.Socket+"|"+registered)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the exec'ing child: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "inherited PermissionDenied ") ||
		!strings.Contains(lines[0], "changed its executable since it connected; reconnect") {
		t.Fatalf("the connection made before the exec was served as the exec'd binary:\n%s", out)
	}
	if lines[1] != "fresh ids "+id.String() {
		t.Fatalf("a connection made after the exec is not attested as the registered binary:\n%s", out)
	}
}

// Each connection's pidfd is closed with it: many connections opened and closed leave the agent
// with as many open files as before.
func TestConnectionsLeaveNoOpenFilesBehind(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	agent := joinTokenAgent(t, s.GRPCAddr)
	fds := func() int {
		entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", agent.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	call := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		workloadapi.FetchX509SVIDs(ctx, agent.clientOption()) // refused: this process has no entry
	}
	for range 5 {
		call()
	}
	time.Sleep(200 * time.Millisecond)
	before := fds()
	for range 100 {
		call()
	}
	var after int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if after = fds(); after <= before+5 || time.Now().After(deadline) {
			break
		}
	}
	if after > before+5 {
		t.Fatalf("the agent had %d open files before 100 connections and %d after they closed", before, after)
	}
}

// callThenExecEnv makes the test binary a Workload API client (childMain) that then execs another
// binary, the same process, which asks again on a connection of its own (childMain too).
const callThenExecEnv = "LANYARD_AGENT_TEST_CALL_THEN_EXEC" // address|binary to exec

func callThenExecMain(spec string) int {
	addr, target, _ := strings.Cut(spec, "|")
	childMain(addr)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, callThenExecEnv+"=") {
			env = append(env, kv)
		}
	}
	err := syscall.Exec(target, []string{target}, append(env, childEnv+"="+addr))
	fmt.Println("exec", err)
	return 1
}

// A process that got an identity as a registered binary and then execs another binary is attested
// afresh when it connects again: the selectors cached for it (by pid and start time, which execve
// keeps) are the registered binary's, and are not handed to the one it became.
func TestAProcessThatExecsAnotherBinaryDoesNotKeepTheIdentityCachedForIt(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	ctx := ctxFor(t, 2*time.Minute)
	cfg := filepath.Join(openDir(t), "agent.json")
	// A cache long enough that the exec'd binary always asks while the first answer is cached.
	if err := os.WriteFile(cfg, []byte(`{"attestation_cache": "1m"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	token, err := s.AgentJoinToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	agent := startAgent(t, s.GRPCAddr, []string{"LANYARD_JOIN_TOKEN=" + token}, "--config", cfg)
	registered := copyTestBinary(t)
	id := newID(s, "exec")
	if err := s.RegisterForAgent(ctx, id, agent.ID, fmt.Sprintf("unix:uid:%d", os.Getuid()), "unix:path:"+registered); err != nil {
		t.Fatal(err)
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	waitFor(t, func() bool { return runChild(t, registered, uid, gid, agent.Addr()) == "ids "+id.String() })

	unregistered, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(registered)
	cmd.Env = append(os.Environ(), callThenExecEnv+"="+agent.Addr()+"|"+unregistered)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the exec'ing child: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != "ids "+id.String() {
		t.Fatalf("the registered binary did not get its identity before the exec:\n%s", out)
	}
	if lines[1] != "error PermissionDenied" {
		t.Fatalf("after exec'ing an unregistered binary the same process got %q, want PermissionDenied", lines[1])
	}
}
