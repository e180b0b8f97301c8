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

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ledgerv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/ledger/v1"
	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/lanyardtest"
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

// ValidateJWTSVID refuses (InvalidArgument) a token whose jti is revoked, or whose subject identity
// is revoked, once the agent has seen the revocation; a token revoked in neither way still
// validates. Not parallel: it replaces the grants policy.
func TestValidateJWTSVIDRefusesARevokedTokenOrSubject(t *testing.T) {
	s := needServer(t)
	ctx := ctxFor(t, 2*time.Minute)
	agent := joinTokenAgent(t, s.GRPCAddr)
	byIdentity, byJTI, untouched := newID(s, "jwt-revoked"), newID(s, "jwt-revoked"), newID(s, "jwt-revoked")
	ids := []string{byIdentity.String(), byJTI.String(), untouched.String()}
	for _, id := range []spiffeid.ID{byIdentity, byJTI, untouched} {
		if err := s.RegisterForAgent(ctx, id, agent.ID, self(t)...); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PublishContracts(ctx, "agent-test", ledgerv1.File_examples_ledger_v1_ledger_proto); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyPolicy(ctx, lanyardtest.Grant{SpiffeIDs: ids, Audience: "ledger", Scopes: []string{"ledger.read"}}); err != nil {
		t.Fatal(err)
	}
	client, err := workloadapi.New(ctx, agent.clientOption())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	waitFor(t, func() bool {
		svids, err := client.FetchX509SVIDs(ctx)
		return err == nil && len(svids) == len(ids)
	})
	token := func(id spiffeid.ID) (string, string) {
		svid, err := client.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "ledger", Subject: id})
		if err != nil {
			t.Fatalf("JWT-SVID for %s: %v", id, err)
		}
		jti, _ := svid.Claims["jti"].(string)
		if jti == "" {
			t.Fatalf("the JWT-SVID of %s has no jti: %v", id, svid.Claims)
		}
		return svid.Marshal(), jti
	}
	validates := func(tok string) error {
		_, err := client.ValidateJWTSVID(ctx, tok, "ledger")
		return err
	}
	refusedAsRevoked := func(tok string) bool {
		err := validates(tok)
		return status.Code(err) == codes.InvalidArgument && strings.Contains(status.Convert(err).Message(), "revoked")
	}
	identityTok, _ := token(byIdentity)
	jtiTok, jti := token(byJTI)
	untouchedTok, _ := token(untouched)
	for _, tok := range []string{identityTok, jtiTok, untouchedTok} {
		if err := validates(tok); err != nil {
			t.Fatalf("a fresh token does not validate: %v", err)
		}
	}

	if _, err := s.Revoke(ctx, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Jti{Jti: jti}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return refusedAsRevoked(jtiTok) })
	if err := validates(identityTok); err != nil {
		t.Fatalf("revoking one jti refused another token: %v", err)
	}
	// The agent does not hand the revoked token out again from its cache: a new one is minted.
	if again, againJTI := token(byJTI); again == jtiTok || againJTI == jti {
		t.Fatal("FetchJWTSVID handed out the token whose jti is revoked")
	} else if err := validates(again); err != nil {
		t.Fatalf("the token minted after the revoked one does not validate: %v", err)
	}

	if _, err := s.Revoke(ctx, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_SpiffeId{SpiffeId: byIdentity.String()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return refusedAsRevoked(identityTok) })
	if err := validates(untouchedTok); err != nil {
		t.Fatalf("a token revoked in no way does not validate: %v", err)
	}
}
