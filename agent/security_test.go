package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// refusal runs the agent with args (after --server and --bundle) and returns its stderr; the agent
// must exit with an error without serving.
func refusal(t *testing.T, args ...string) string {
	t.Helper()
	s := needServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBin, append([]string{"--server", s.GRPCAddr, "--bundle", s.BundleFile}, args...)...)
	cmd.Env = append(os.Environ(), "LANYARD_JOIN_TOKEN=")
	log := &lockedBuffer{}
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("the agent did not exit within a minute:\n%s", log.String())
	}
	if err == nil {
		t.Fatalf("the agent exited 0:\n%s", log.String())
	}
	return log.String()
}

func wantSaid(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("the agent's refusal does not say %q:\n%s", w, out)
		}
	}
}

// A socket directory (like /tmp/lanyard) that another local user made, or that others may write
// into, is refused with a message naming it: whoever controls it could replace the socket.
func TestTheAgentRefusesASocketDirectoryItDoesNotSolelyOwn(t *testing.T) {
	t.Parallel()
	base := openDir(t)
	open := filepath.Join(base, "lanyard")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	out := refusal(t, "--socket", filepath.Join(open, "agent.sock"), "--data-dir", filepath.Join(base, "data"))
	wantSaid(t, out, "socket's directory", open, "mode 0777", "writable")

	needRoot(t)
	theirs := filepath.Join(base, "theirs")
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	out = refusal(t, "--socket", filepath.Join(theirs, "agent.sock"), "--data-dir", filepath.Join(base, "data"))
	wantSaid(t, out, "socket's directory", theirs, "owned by uid 65534")
}

// A data directory that others may write into or read, or that another user owns, is refused
// before the agent reads or writes its key there.
func TestTheAgentRefusesADataDirectoryItDoesNotSolelyOwn(t *testing.T) {
	t.Parallel()
	base := openDir(t)
	socket := filepath.Join(base, "agent.sock")
	for _, m := range []os.FileMode{0o777, 0o755} {
		dir := filepath.Join(base, "data"+m.String())
		if err := os.Mkdir(dir, m); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, m)
		out := refusal(t, "--socket", socket, "--data-dir", dir)
		wantSaid(t, out, "data directory", dir, "0700")
	}

	needRoot(t)
	theirs := filepath.Join(base, "theirs")
	if err := os.Mkdir(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	out := refusal(t, "--socket", socket, "--data-dir", theirs)
	wantSaid(t, out, "data directory", theirs, "owned by uid 65534")
}

// A file at the old temporary name that someone made beforehand, readable by all, does not receive
// the agent's key: the key file is 0600 and the stale file is left as it was.
func TestTheAgentKeyIsNeverWrittenIntoAFileMadeBeforehand(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	data := filepath.Join(openDir(t), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(data, "agent-key.pem.tmp")
	if err := os.WriteFile(stale, []byte("stale\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(stale, 0o666)
	token, err := s.AgentJoinToken(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	agent := startAgent(t, s.GRPCAddr, []string{"LANYARD_JOIN_TOKEN=" + token}, "--data-dir", data)

	fi, err := os.Stat(filepath.Join(data, "agent-key.pem"))
	if err != nil {
		t.Fatalf("the agent keeps no key on disk: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("the agent key file has mode %04o, not 0600", fi.Mode().Perm())
	}
	if got, err := os.ReadFile(stale); err != nil || string(got) != "stale\n" {
		t.Fatalf("the file made beforehand was used (%v): %q", err, got)
	}
	entries, _ := os.ReadDir(data)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("a temporary file is left behind: %s", e.Name())
		}
	}
	// The socket is open to every user, and a regular socket, not something reached through a link.
	si, err := os.Lstat(agent.Socket)
	if err != nil || si.Mode()&os.ModeSocket == 0 || si.Mode().Perm() != 0o777 {
		t.Fatalf("the socket: %v %v", si.Mode(), err)
	}
}
