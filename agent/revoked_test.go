package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// A revoked agent drops what it served and forgets its own SVID; restarted with the same node
// evidence (x509pop: the same node certificate and key) it cannot attest again until an admin
// reinstates the agent ID, and then it can.
func TestARevokedAgentCannotAttestAgainUntilReinstated(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	ctx := ctxFor(t, 3*time.Minute)
	cert, key := nodeCA.node(t, openDir(t), "node-revoked")
	dataDir := filepath.Join(openDir(t), "data")
	args := []string{"--attestor", "x509pop", "--x509pop-cert", cert, "--x509pop-key", key, "--data-dir", dataDir}

	agent := startAgent(t, s.GRPCAddr, nil, args...)
	id := newID(s, "revoked-agent")
	if err := s.RegisterForAgent(ctx, id, agent.ID, self(t)...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		svid, err := workloadapi.FetchX509SVID(ctx, agent.clientOption())
		return err == nil && svid.ID == id
	})
	if _, err := os.Stat(filepath.Join(dataDir, "agent-svid.pem")); err != nil {
		t.Fatalf("the agent keeps no SVID on disk: %v", err)
	}

	if _, err := s.Revoke(ctx, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_SpiffeId{SpiffeId: agent.ID}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := workloadapi.FetchX509SVID(ctx, agent.clientOption())
		_, statErr := os.Stat(filepath.Join(dataDir, "agent-svid.pem"))
		return status.Code(err) == codes.PermissionDenied && errors.Is(statErr, os.ErrNotExist)
	})
	agent.stop()

	// The same node evidence again: the server refuses the revoked agent ID, and the agent exits.
	out, err := runUntilExit(t, s.GRPCAddr, args)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(out, "revoked") {
		t.Fatalf("a revoked node attested again (%v):\n%s", err, out)
	}

	if _, err := lanyardv1.NewRevocationServiceClient(s.Admin()).Reinstate(ctx, &lanyardv1.ReinstateRequest{
		SpiffeId: agent.ID, Note: "go integration test"}); err != nil {
		t.Fatal(err)
	}
	again := startAgent(t, s.GRPCAddr, nil, args...)
	if again.ID != agent.ID {
		t.Fatalf("the reinstated node came back as %s, not %s", again.ID, agent.ID)
	}
	waitFor(t, func() bool {
		svid, err := workloadapi.FetchX509SVID(ctx, again.clientOption())
		return err == nil && svid.ID == id
	})
}

// runUntilExit runs the agent (socket and bundle as startAgent gives them) and returns its stderr
// once it exits; it fails the test if the agent serves instead.
func runUntilExit(t *testing.T, serverAddr string, args []string) (string, error) {
	t.Helper()
	dir := openDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBin, append([]string{"--socket", filepath.Join(dir, "agent.sock"),
		"--server", serverAddr, "--bundle", needServer(t).BundleFile}, args...)...)
	log := &lockedBuffer{}
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("the agent did not exit within a minute:\n%s", log.String())
	}
	return log.String(), err
}

// stop ends the agent (SIGTERM) and waits for it.
func (a *runningAgent) stop() {
	a.cmd.Process.Signal(syscall.SIGTERM)
	a.cmd.Wait()
}
