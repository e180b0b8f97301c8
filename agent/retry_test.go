package main

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// answerLosingProxy forwards its first connection until the client sends a large TLS application
// record (the AttestAgent params: a CSR and the evidence), then forwards that record but nothing
// the server answers, and cuts the connection: the server acts on the request and the answer is
// lost. Later connections go through untouched.
func answerLosingProxy(t *testing.T, target string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for first := true; ; first = false {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); up.Close() })
			if !first {
				go func() { io.Copy(up, c); up.Close() }()
				go func() { io.Copy(c, up); c.Close() }()
				continue
			}
			var deaf atomic.Bool
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := up.Read(buf)
					if n > 0 && !deaf.Load() {
						c.Write(buf[:n])
					}
					if err != nil {
						c.Close()
						return
					}
				}
			}()
			go func() {
				for {
					header := make([]byte, 5)
					if _, err := io.ReadFull(c, header); err != nil {
						up.Close()
						return
					}
					body := make([]byte, int(header[3])<<8|int(header[4]))
					if _, err := io.ReadFull(c, body); err != nil {
						up.Close()
						return
					}
					if header[0] == 23 && len(body) >= 300 { // the request, before the server sees it
						deaf.Store(true)
						time.AfterFunc(5*time.Second, func() { c.Close(); up.Close() })
					}
					up.Write(append(header, body...))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A join token sent on a connection that broke before the answer came may have been used by the
// server: the agent retries, and when the server refuses the token as used, it exits saying so.
func TestAJoinTokenLostWithItsAnswerIsReportedAsPossiblySpent(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	token, err := s.AgentJoinToken(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := exitOf(t, answerLosingProxy(t, s.GRPCAddr), []string{"LANYARD_JOIN_TOKEN=" + token}, time.Minute)
	for _, want := range []string{"node attestation failed, retrying", "join token was already used",
		"an earlier attempt broke after the join token was sent", "create a new one"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the agent's log and exit do not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, token) {
		t.Fatalf("the agent printed its join token:\n%s", out)
	}
}
