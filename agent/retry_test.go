package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeAddr is a local address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// exitOf runs the agent with env and args (after --socket, --server, --bundle, --data-dir) until it
// exits, and returns its stderr and how long it ran; the test fails if it serves or outlives limit.
func exitOf(t *testing.T, serverAddr string, env []string, limit time.Duration, args ...string) (string, time.Duration) {
	t.Helper()
	s := needServer(t)
	dir := openDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBin, append([]string{"--socket", filepath.Join(dir, "agent.sock"),
		"--server", serverAddr, "--bundle", s.BundleFile, "--data-dir", filepath.Join(dir, "data")}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	log := &lockedBuffer{}
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := time.Now()
	out, err := cmd.Output()
	took := time.Since(started)
	if ctx.Err() != nil {
		t.Fatalf("the agent did not exit within %s:\n%s", limit, log.String())
	}
	if err == nil || strings.Contains(string(out), "lanyard-agent serving") {
		t.Fatalf("the agent served (%v):\n%s%s", err, out, log.String())
	}
	return log.String(), took
}

// An agent started before the server listens retries (each retry logged with the status and the
// wait, never the token) and attests with its join token once the server comes up.
func TestAnAgentStartedBeforeTheServerListensAttestsOnceItComesUp(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	token, err := s.AgentJoinToken(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	up := make(chan error, 1)
	time.AfterFunc(4*time.Second, func() {
		_, err := newProxyOn(t, addr, s.GRPCAddr)
		up <- err
	})
	agent := startAgent(t, addr, []string{"LANYARD_JOIN_TOKEN=" + token})
	if err := <-up; err != nil {
		t.Fatalf("the server's stand-in could not listen on %s: %v", addr, err)
	}
	if !strings.HasPrefix(agent.ID, "spiffe://lanyard.local/lanyard/agent/join_token/") {
		t.Fatalf("agent ID %s", agent.ID)
	}
	log := agent.log.String()
	if !strings.Contains(log, "node attestation failed, retrying") || !strings.Contains(log, "code=Unavailable") ||
		!strings.Contains(log, "wait=") {
		t.Fatalf("the agent did not log its retries with the status and the wait:\n%s", log)
	}
	if strings.Contains(log, token) {
		t.Fatalf("the agent logged its join token:\n%s", log)
	}
}

// A refusal of the evidence (a join token already used) ends the agent at once with the server's
// message: it is not retried.
func TestARefusedJoinTokenEndsTheAgentAtOnce(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	token, err := s.AgentJoinToken(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, s.GRPCAddr, []string{"LANYARD_JOIN_TOKEN=" + token})

	out, took := exitOf(t, s.GRPCAddr, []string{"LANYARD_JOIN_TOKEN=" + token}, time.Minute)
	if !strings.Contains(out, "Unauthenticated") || !strings.Contains(out, "join token was already used") {
		t.Fatalf("the agent's exit does not say the token was used:\n%s", out)
	}
	if strings.Contains(out, "retrying") || took > 15*time.Second {
		t.Fatalf("a refused token was retried (%s):\n%s", took, out)
	}
	if strings.Contains(out, token) {
		t.Fatalf("the agent printed its join token:\n%s", out)
	}
}

// attest_retry_timeout caps the retries: against an address nobody answers on, the agent gives up
// after it, saying why.
func TestTheAgentGivesUpRetryingAfterItsTimeout(t *testing.T) {
	t.Parallel()
	out, took := exitOf(t, freeAddr(t), []string{"LANYARD_JOIN_TOKEN=never-sent"}, time.Minute,
		"--attest-retry-timeout", "3s")
	if !strings.Contains(out, "gave up after") || !strings.Contains(out, "attest_retry_timeout 3s") ||
		!strings.Contains(out, "retrying") {
		t.Fatalf("the agent did not retry and then give up:\n%s", out)
	}
	if took > 15*time.Second {
		t.Fatalf("the agent retried for %s past a 3 s cap:\n%s", took, out)
	}
}
