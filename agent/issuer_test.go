package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ledgerv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/ledger/v1"
	"github.com/lanyard-dev/lanyard/clients/go/lanyardtest"
)

// issuerFixture is an agent of s serving ids to this process, each granted ledger.read on ledger.
type issuerFixture struct {
	client *workloadapi.Client
	ctx    context.Context
}

func newIssuerFixture(t *testing.T, s *lanyardtest.Server, issuer string, ids ...spiffeid.ID) (*issuerFixture, *runningAgent) {
	t.Helper()
	ctx := ctxFor(t, 5*time.Minute)
	token, err := s.AgentJoinToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	agent := startAgentIssuing(t, s, s.GRPCAddr, []string{"LANYARD_JOIN_TOKEN=" + token}, issuer)
	var names []string
	for _, id := range ids {
		if err := s.RegisterForAgent(ctx, id, agent.ID, self(t)...); err != nil {
			t.Fatal(err)
		}
		names = append(names, id.String())
	}
	if err := s.PublishContracts(ctx, "agent-test", ledgerv1.File_examples_ledger_v1_ledger_proto); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyPolicy(ctx, lanyardtest.Grant{SpiffeIDs: names, Audience: "ledger", Scopes: []string{"ledger.read"}}); err != nil {
		t.Fatal(err)
	}
	client, err := workloadapi.New(ctx, agent.clientOption())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	waitFor(t, func() bool {
		svids, err := client.FetchX509SVIDs(ctx)
		return err == nil && len(svids) == len(ids)
	})
	return &issuerFixture{client: client, ctx: ctx}, agent
}

// token is a JWT-SVID for id on ledger, minted by the server, and its iss.
func (f *issuerFixture) token(t *testing.T, id spiffeid.ID) (string, string) {
	t.Helper()
	svid, err := f.client.FetchJWTSVID(f.ctx, jwtsvid.Params{Audience: "ledger", Subject: id})
	if err != nil {
		t.Fatalf("JWT-SVID for %s: %v", id, err)
	}
	iss, _ := svid.Claims["iss"].(string)
	return svid.Marshal(), iss
}

func (f *issuerFixture) validate(token string) error {
	_, err := f.client.ValidateJWTSVID(f.ctx, token, "ledger")
	return err
}

func refusedForIssuer(err error) bool {
	return status.Code(err) == codes.InvalidArgument && strings.Contains(status.Convert(err).Message(), "wrong_issuer")
}

// An agent run without --issuer validates its server's tokens against the iss the server names,
// and follows it: once the server comes back publishing under another URL (https, its keys
// unchanged), a token minted before is refused as wrong_issuer and one minted after validates. Its
// own server: the test restarts it.
func TestValidateJWTSVIDWithoutIssuerExpectsTheOneTheServerNames(t *testing.T) {
	t.Parallel()
	s := ownServer(t)
	before, after := newID(s, "named-issuer"), newID(s, "named-issuer")
	f, _ := newIssuerFixture(t, s, "", before, after)

	old, iss := f.token(t, before)
	if iss != s.Issuer() {
		t.Fatalf("the server minted iss %q, not its issuer %s", iss, s.Issuer())
	}
	if err := f.validate(old); err != nil {
		t.Fatalf("without --issuer the agent refused its server's token: %v", err)
	}

	if err := s.RestartWith([]string{"--http-tls", "spiffe"}, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if s.Issuer() == iss || !strings.HasPrefix(s.Issuer(), "https://") {
		t.Fatalf("the restarted server's issuer is %s, was %s", s.Issuer(), iss)
	}
	waitFor(t, func() bool { return refusedForIssuer(f.validate(old)) })
	fresh, freshIss := f.token(t, after)
	if freshIss != s.Issuer() {
		t.Fatalf("the restarted server minted iss %q, not %s", freshIss, s.Issuer())
	}
	if err := f.validate(fresh); err != nil {
		t.Fatalf("a token with the issuer the server now names: %v", err)
	}
}

// A configured --issuer wins over the one the server names: the server's tokens are refused as
// wrong_issuer, and the agent says once that the two differ. Not parallel: it replaces the grants
// policy.
func TestAConfiguredIssuerWinsOverTheOneTheServerNames(t *testing.T) {
	s := needServer(t)
	const configured = "https://configured.example"
	id := newID(s, "configured-issuer")
	f, agent := newIssuerFixture(t, s, configured, id)

	token, _ := f.token(t, id)
	if err := f.validate(token); !refusedForIssuer(err) {
		t.Fatalf("the server's token under --issuer %s: %v, want InvalidArgument (wrong_issuer)", configured, err)
	}
	const warning = "the configured issuer is not the one the server names"
	waitFor(t, func() bool { return strings.Contains(agent.log.String(), warning) })
	log := agent.log.String()
	if n := strings.Count(log, warning); n != 1 || !strings.Contains(log, "server_issuer="+s.Issuer()) {
		t.Fatalf("the agent warned %d times, want once naming the server's issuer:\n%s", n, log)
	}
}
