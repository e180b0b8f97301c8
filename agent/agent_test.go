package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ledgerv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/ledger/v1"
	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/lanyardtest"
)

// self are the selectors that pick this test process: its uid and its binary.
func self(t testing.TB) []string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{fmt.Sprintf("unix:uid:%d", os.Getuid()), "unix:path:" + exe}
}

// A third-party client (go-spiffe v2) gets its X.509-SVID, a JWT-SVID bound to it and the bundles.
func TestGoSpiffeGetsX509AndJWTSVIDsAndBundles(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	ctx := ctxFor(t, 2*time.Minute)
	agent := joinTokenAgent(t, s.GRPCAddr)
	if !strings.HasPrefix(agent.ID, "spiffe://lanyard.local/lanyard/agent/join_token/") {
		t.Fatalf("agent ID %s", agent.ID)
	}
	id := newID(s, "gospiffe")
	if err := s.RegisterForAgent(ctx, id, agent.ID, self(t)...); err != nil {
		t.Fatal(err)
	}
	if err := s.PublishContracts(ctx, "agent-test", ledgerv1.File_examples_ledger_v1_ledger_proto); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyPolicy(ctx, lanyardtest.Grant{SpiffeIDs: []string{id.String()}, Audience: "ledger",
		Scopes: []string{"ledger.read"}}); err != nil {
		t.Fatal(err)
	}

	x509Source, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(agent.clientOption()))
	if err != nil {
		t.Fatal(err)
	}
	defer x509Source.Close()
	svid, err := x509Source.GetX509SVID()
	if err != nil || svid.ID != id {
		t.Fatalf("X509Source: %v, %v", svid, err)
	}

	client, err := workloadapi.New(ctx, agent.clientOption())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	jwt, err := client.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "ledger"})
	if err != nil {
		t.Fatal(err)
	}
	bundles, err := workloadapi.NewBundleSource(ctx, workloadapi.WithClientOptions(agent.clientOption()))
	if err != nil {
		t.Fatal(err)
	}
	defer bundles.Close()
	verified, err := jwtsvid.ParseAndValidate(jwt.Marshal(), bundles, []string{"ledger"})
	if err != nil {
		t.Fatalf("go-spiffe does not verify the JWT-SVID against the JWT bundle: %v", err)
	}
	if verified.ID != id || verified.Claims["scope"] != "ledger.read" {
		t.Fatalf("claims %v", verified.Claims)
	}
	sum := sha256.Sum256(svid.Certificates[0].Raw)
	cnf, _ := verified.Claims["cnf"].(map[string]any)
	if cnf["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Fatalf("the token is not bound to the workload's X.509-SVID: cnf %v", cnf)
	}
	x509Bundle, err := bundles.GetX509BundleForTrustDomain(id.TrustDomain())
	if err != nil || len(x509Bundle.X509Authorities()) == 0 {
		t.Fatalf("X.509 bundle: %v", err)
	}
	// The agent validates a token too (ValidateJWTSVID).
	validated, err := client.ValidateJWTSVID(ctx, jwt.Marshal(), "ledger")
	if err != nil || validated.ID != id {
		t.Fatalf("ValidateJWTSVID: %v", err)
	}
	if _, err := client.ValidateJWTSVID(ctx, jwt.Marshal(), "payments"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a token for another audience validated: %v", err)
	}
	// No scope granted on an audience: the grants policy applies as for a direct caller.
	if _, err := client.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "payments"}); status.Code(err) == codes.OK {
		t.Fatal("a JWT-SVID was minted for an audience with no grant")
	}
}

// Without the security header the Workload API answers InvalidArgument.
func TestTheSecurityHeaderIsRequired(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	agent := joinTokenAgent(t, s.GRPCAddr)
	conn, err := grpc.NewClient(agent.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := workload.NewSpiffeWorkloadAPIClient(conn)
	ctx := ctxFor(t, time.Minute)
	_, err = api.FetchJWTSVID(ctx, &workload.JWTSVIDRequest{Audience: []string{"ledger"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "security header") {
		t.Fatalf("without the header: %v", err)
	}
	stream, err := api.FetchX509SVID(ctx, &workload.X509SVIDRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("stream without the header: %v", err)
	}
	// With the header but no matching registration: PermissionDenied.
	withHeader := metadata.AppendToOutgoingContext(ctx, "workload.spiffe.io", "true")
	stream, err = api.FetchX509SVID(withHeader, &workload.X509SVIDRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("no registration: %v", err)
	}
}

// Two processes under different uids get different SVIDs; an unregistered uid gets PermissionDenied;
// a binary whose SHA-256 changed no longer matches its unix:sha256 selector.
func TestProcessesAreAttestedByTheKernel(t *testing.T) {
	t.Parallel()
	needRoot(t)
	s := needServer(t)
	ctx := ctxFor(t, 2*time.Minute)
	agent := joinTokenAgent(t, s.GRPCAddr)
	bin := copyTestBinary(t)
	a, b, hashed := newID(s, "uid"), newID(s, "uid"), newID(s, "sha")
	for _, r := range []struct {
		id        string
		selectors []string
	}{{a.String(), []string{"unix:uid:65501"}}, {b.String(), []string{"unix:uid:65502"}},
		{hashed.String(), []string{"unix:uid:65503", "unix:sha256:" + fileSHA256(t, bin)}}} {
		if err := s.RegisterForAgent(ctx, mustID(r.id), agent.ID, r.selectors...); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return runChild(t, bin, 65501, 65501, agent.Addr()) == "ids "+a.String() })
	if got := runChild(t, bin, 65502, 65502, agent.Addr()); got != "ids "+b.String() {
		t.Fatalf("uid 65502 got %q", got)
	}
	if got := runChild(t, bin, 65509, 65509, agent.Addr()); got != "error PermissionDenied" {
		t.Fatalf("an unregistered uid got %q", got)
	}
	if got := runChild(t, bin, 65503, 65503, agent.Addr()); got != "ids "+hashed.String() {
		t.Fatalf("uid 65503 with the registered binary got %q", got)
	}
	// Append a byte: the ELF still runs, its SHA-256 no longer matches.
	f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	if got := runChild(t, bin, 65503, 65503, agent.Addr()); got != "error PermissionDenied" {
		t.Fatalf("a changed binary got %q", got)
	}
}

// An agent attested by x509pop serves entries parented to its node selector.
func TestX509PopAgentServesEntriesParentedToItsNodeSelector(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	ctx := ctxFor(t, 2*time.Minute)
	cert, key := nodeCA.node(t, openDir(t), "node-7")
	agent := startAgent(t, s.GRPCAddr, nil, "--attestor", "x509pop", "--x509pop-cert", cert, "--x509pop-key", key)
	if !strings.HasPrefix(agent.ID, "spiffe://lanyard.local/lanyard/agent/x509pop/") {
		t.Fatalf("agent ID %s", agent.ID)
	}
	id := newID(s, "x509pop")
	if err := s.RegisterForAgent(ctx, id, "x509pop:subject:cn:node-7", self(t)...); err != nil {
		t.Fatal(err)
	}
	svid, err := workloadapi.FetchX509SVID(ctx, agent.clientOption())
	for err != nil && status.Code(err) == codes.PermissionDenied && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond) // the agent picks the entry up at its next sync
		svid, err = workloadapi.FetchX509SVID(ctx, agent.clientOption())
	}
	if err != nil || svid.ID != id {
		t.Fatalf("%v %v", svid, err)
	}
}

// The agent keeps serving through a 30 s server outage and catches up when the server is back.
func TestServesThroughAServerOutage(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	ctx := ctxFor(t, 3*time.Minute)
	p := newProxy(t, s.GRPCAddr)
	agent := joinTokenAgent(t, p.Addr())
	id := newID(s, "outage")
	if err := s.RegisterForAgent(ctx, id, agent.ID, self(t)...); err != nil {
		t.Fatal(err)
	}
	source, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(agent.clientOption()))
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()

	p.setDown(true)
	later := newID(s, "outage")
	if err := s.RegisterForAgent(ctx, later, agent.ID, self(t)...); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		svid, err := workloadapi.FetchX509SVID(ctx, agent.clientOption())
		if err != nil || svid.ID != id {
			t.Fatalf("during the outage a new client got %v, %v", svid, err)
		}
		time.Sleep(2 * time.Second)
	}
	if !strings.Contains(agent.log.String(), "serving the cached SVIDs") {
		t.Fatalf("the agent never noticed the outage:\n%s", agent.log.String())
	}
	p.setDown(false)
	waitFor(t, func() bool {
		svids, err := workloadapi.FetchX509SVIDs(ctx, agent.clientOption())
		return err == nil && len(svids) == 2
	})
}

// An identity revoked while a go-spiffe watcher holds it is dropped as soon as the revocation
// stream says so (the log shows how long it took); a revoked agent loses every identity it served.
func TestRevocationReachesAWatchingGoSpiffeClient(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	ctx := ctxFor(t, 2*time.Minute)
	agent := joinTokenAgent(t, s.GRPCAddr)
	first, second := newID(s, "revoke"), newID(s, "revoke")
	for _, id := range []string{first.String(), second.String()} {
		if err := s.RegisterForAgent(ctx, mustID(id), agent.ID, self(t)...); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool {
		svids, err := workloadapi.FetchX509SVIDs(ctx, agent.clientOption())
		return err == nil && len(svids) == 2
	})
	w := newWatcher()
	client, err := workloadapi.New(ctx, agent.clientOption())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	go client.WatchX509Context(ctx, w)
	w.waitFor(t, func(ids []string, _ error) bool { return len(ids) == 2 })

	revoked := time.Now() // the update may arrive before the admin's call returns
	if _, err := s.Revoke(ctx, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_SpiffeId{SpiffeId: first.String()}}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, func(ids []string, _ error) bool { return len(ids) == 1 && ids[0] == second.String() })
	// A figure for the log, not an assertion (speed is measured, never asserted in a timed test).
	t.Logf("from the Revoke call to the watcher's update without the identity: %v", time.Since(revoked))

	if _, err := s.Revoke(ctx, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_SpiffeId{SpiffeId: agent.ID}}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, func(_ []string, err error) bool { return status.Code(err) == codes.PermissionDenied })
	if _, err := workloadapi.FetchX509SVID(ctx, agent.clientOption()); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a revoked agent still serves: %v", err)
	}
}

// watcher records what a go-spiffe X509Context watch sees.
type watcher struct {
	updates chan []string
	errs    chan error
}

func newWatcher() *watcher {
	return &watcher{updates: make(chan []string, 100), errs: make(chan error, 100)}
}

func (w *watcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	var ids []string
	for _, s := range c.SVIDs {
		ids = append(ids, s.ID.String())
	}
	w.updates <- ids
}

func (w *watcher) OnX509ContextWatchError(err error) { w.errs <- err }

func (w *watcher) waitFor(t testing.TB, ok func([]string, error) bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ids := <-w.updates:
			if ok(ids, nil) {
				return
			}
		case err := <-w.errs:
			if ok(nil, err) {
				return
			}
		case <-timeout:
			t.Fatal("the watcher did not see the expected change within 30 s")
		}
	}
}

func waitFor(t testing.TB, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func copyTestBinary(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(openDir(t), "client")
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
	return path
}

func fileSHA256(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
