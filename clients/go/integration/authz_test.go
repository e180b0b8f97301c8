package integration

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lanyard-dev/lanyard/clients/go/authz"
	ledgerv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/ledger/v1"
	paymentsv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/payments/v1"
	"github.com/lanyard-dev/lanyard/clients/go/identity"
	"github.com/lanyard-dev/lanyard/clients/go/jwks"
	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/lanyardtest"
	"github.com/lanyard-dev/lanyard/clients/go/retry"
	"github.com/lanyard-dev/lanyard/clients/go/revocation"
	"github.com/lanyard-dev/lanyard/clients/go/token"
	"github.com/lanyard-dev/lanyard/clients/go/verify"
)

// payments is a small PaymentsService: enough to see the interceptors let a call through.
type payments struct {
	paymentsv1.UnimplementedPaymentsServiceServer
}

func (payments) Charge(ctx context.Context, r *paymentsv1.ChargeRequest) (*paymentsv1.Payment, error) {
	t, ok := authz.TokenFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no verified token in the context")
	}
	return &paymentsv1.Payment{PaymentId: "p-" + t.ID(), AccountId: r.GetAccountId(), AmountMinor: r.GetAmountMinor()}, nil
}

func (payments) WatchPayments(r *paymentsv1.WatchPaymentsRequest, s grpc.ServerStreamingServer[paymentsv1.Payment]) error {
	if _, ok := authz.TokenFrom(s.Context()); !ok {
		return status.Error(codes.Internal, "no verified token in the context")
	}
	return s.Send(&paymentsv1.Payment{PaymentId: "p-1", AccountId: r.GetAccountId()})
}

type paymentsFixture struct {
	server   *lanyardtest.Server
	service  *identity.Source
	caller   *identity.Source
	other    *identity.Source
	follower *revocation.Follower
	addr     string
}

func startPayments(t *testing.T) *paymentsFixture {
	t.Helper()
	s := needServer(t)
	ctx := ctxFor(t)
	if err := s.PublishContracts(ctx, "go-integration", paymentsv1.File_examples_payments_v1_payments_proto,
		ledgerv1.File_examples_ledger_v1_ledger_proto); err != nil {
		t.Fatalf("publishing contracts: %v", err)
	}
	f := &paymentsFixture{server: s}
	f.service = workload(t, "payments", 0)
	f.caller = workload(t, "shop", 0)
	f.other = workload(t, "shop", 0)
	if err := s.ApplyPolicy(ctx, lanyardtest.Grant{
		SpiffeIDs: []string{"spiffe://lanyard.local/ns/shop/*"}, Audience: "payments",
		Scopes: []string{"payments.charge", "payments.read"}}); err != nil {
		t.Fatalf("applying the policy: %v", err)
	}
	keys, err := jwks.NewCache(s.JWKSURL(), jwks.AllowPlainHTTP())
	if err != nil {
		t.Fatal(err)
	}
	f.follower = revocation.NewFollower(f.service, revocation.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil))))
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.follower.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	// Calls are refused UNAVAILABLE until the follower has caught up: the service is ready then.
	select {
	case <-f.follower.Loaded():
	case <-time.After(30 * time.Second):
		t.Fatal("the revocation follower did not catch up within 30 s")
	}
	v, err := verify.New(verify.Config{Issuer: s.Issuer(), Audience: "payments", Keys: keys, Revocations: f.follower})
	if err != nil {
		t.Fatal(err)
	}
	enforcer, err := authz.New(v, "examples.payments.v1.PaymentsService")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(f.service.ServerTLSConfig(nil))),
		grpc.UnaryInterceptor(enforcer.UnaryServerInterceptor()),
		grpc.StreamInterceptor(enforcer.StreamServerInterceptor()))
	paymentsv1.RegisterPaymentsServiceServer(srv, payments{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	f.addr = ln.Addr().String()
	return f
}

func (f *paymentsFixture) client(t *testing.T, as *identity.Source) paymentsv1.PaymentsServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(credentials.NewTLS(
		as.ClientTLSConfig(identity.AuthorizeID(f.service.SVID().ID)))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return paymentsv1.NewPaymentsServiceClient(cc)
}

func withToken(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func wantStatus(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	s, _ := status.FromError(err)
	if s.Code() != code || !strings.Contains(s.Message(), reason) {
		t.Fatalf("want %s %q, got %s %q", code, reason, s.Code(), s.Message())
	}
}

func TestInterceptorsEnforceTheContract(t *testing.T) {
	f := startPayments(t)
	ctx := ctxFor(t)
	fetcher := token.NewFetcher(f.caller)
	tok, err := fetcher.Token(ctx, f.caller.SVID().Leaf, "payments", []string{"payments.charge", "payments.read"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := fetcher.Token(ctx, f.caller.SVID().Leaf, "payments", []string{"payments.read", "payments.charge"})
	if err != nil || again != tok {
		t.Fatalf("the second fetch did not come from the cache (%v)", err)
	}
	client := f.client(t, f.caller)

	p, err := client.Charge(withToken(ctx, tok), &paymentsv1.ChargeRequest{AccountId: "acc-1", AmountMinor: 500, Currency: "EUR"})
	if err != nil || p.GetAccountId() != "acc-1" {
		t.Fatalf("Charge with a good token: %v", err)
	}
	stream, err := client.WatchPayments(withToken(ctx, tok), &paymentsv1.WatchPaymentsRequest{AccountId: "acc-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("WatchPayments with a good token: %v", err)
	}

	_, err = client.Charge(ctx, &paymentsv1.ChargeRequest{AccountId: "acc-1"})
	wantStatus(t, err, codes.Unauthenticated, "no token")
	_, err = client.Charge(withToken(ctx, "not.a.jwt"), &paymentsv1.ChargeRequest{})
	wantStatus(t, err, codes.Unauthenticated, "(malformed)")
	_, err = client.Refund(withToken(ctx, tok), &paymentsv1.RefundRequest{PaymentId: p.GetPaymentId()})
	wantStatus(t, err, codes.PermissionDenied, "the token lacks scope payments.refund, payments.charge.read")
	watch, err := client.WatchPayments(ctx, &paymentsv1.WatchPaymentsRequest{AccountId: "acc-1"})
	if err == nil {
		_, err = watch.Recv()
	}
	wantStatus(t, err, codes.Unauthenticated, "no token")

	// A token stolen from the caller is useless over another workload's connection.
	_, err = f.client(t, f.other).Charge(withToken(ctx, tok), &paymentsv1.ChargeRequest{AccountId: "acc-1"})
	wantStatus(t, err, codes.Unauthenticated, "(cnf_mismatch)")

	// Lanyard refuses to mint a scope the policy does not grant, and that is not transient.
	_, err = fetcher.Token(ctx, f.caller.SVID().Leaf, "payments", []string{"payments.refund"})
	if status.Code(errors.Unwrap(err)) != codes.PermissionDenied || retry.IsTransient(err) {
		t.Fatalf("want a non-transient PERMISSION_DENIED, got %v", err)
	}
}

func TestRevokedTokenIsRefusedOnceTheFollowerSeesIt(t *testing.T) {
	f := startPayments(t)
	ctx := ctxFor(t)
	resp, err := lanyardv1.NewTokenServiceClient(f.caller.Conn()).IssueToken(ctx,
		&lanyardv1.IssueTokenRequest{Audience: "payments", Scopes: []string{"payments.charge"}})
	if err != nil {
		t.Fatal(err)
	}
	client := f.client(t, f.caller)
	if _, err := client.Charge(withToken(ctx, resp.GetToken()), &paymentsv1.ChargeRequest{AccountId: "a"}); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	rev, err := f.server.Revoke(ctx, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Jti{Jti: resp.GetTokenId()}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); f.follower.Sequence() < rev.GetRevocation().GetSequence(); {
		if time.Now().After(deadline) {
			t.Fatalf("the follower is at %d, the revocation at %d", f.follower.Sequence(), rev.GetRevocation().GetSequence())
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err = client.Charge(withToken(ctx, resp.GetToken()), &paymentsv1.ChargeRequest{AccountId: "a"})
	wantStatus(t, err, codes.PermissionDenied, "token "+resp.GetTokenId()+" is revoked")
	if !f.follower.Connected() {
		t.Fatal("the follower has not seen a heartbeat")
	}
}

// TestGoSpiffeAcceptsTokens: go-spiffe's jwtsvid validates Lanyard's tokens against the JWT
// authorities of the /bundle document.
func TestGoSpiffeAcceptsTokens(t *testing.T) {
	f := startPayments(t)
	ctx := ctxFor(t)
	tok, err := token.NewFetcher(f.caller).Token(ctx, f.caller.SVID().Leaf, "payments", []string{"payments.read"})
	if err != nil {
		t.Fatal(err)
	}
	bundle := fetchSpiffeBundle(t, f.server.HTTPURL+"/bundle", f.caller.TrustDomain())
	svid, err := jwtsvid.ParseAndValidate(tok, bundle, []string{"payments"})
	if err != nil {
		t.Fatalf("go-spiffe jwtsvid.ParseAndValidate: %v", err)
	}
	if svid.ID != f.caller.SVID().ID {
		t.Fatalf("subject %s, want %s", svid.ID, f.caller.SVID().ID)
	}
	if svid.Claims["cnf"] == nil {
		t.Fatal("the token carries no cnf claim")
	}
}

// TestJWKSCacheFollowsTheServer: the cache reads the real JWKS, honours its max-age, and does not
// refetch for every unknown kid.
func TestJWKSCacheFollowsTheServer(t *testing.T) {
	s := needServer(t)
	ctx := ctxFor(t)
	resp, err := http.Get(s.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	published, err := jwks.Parse(body)
	if err != nil || len(published) == 0 {
		t.Fatalf("parsing the served JWKS: %v (%d keys)", err, len(published))
	}
	cache, err := jwks.NewCache(s.JWKSURL(), jwks.AllowPlainHTTP())
	if err != nil {
		t.Fatal(err)
	}
	for kid := range published {
		if _, err := cache.Key(ctx, kid); err != nil {
			t.Fatal(err)
		}
		if _, err := cache.Key(ctx, kid); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if _, err := cache.Key(ctx, "no-such-kid"); !errors.Is(err, jwks.ErrUnknownKey) {
			t.Fatalf("want ErrUnknownKey, got %v", err)
		}
	}
	if n := cache.Fetches(); n != 1 {
		t.Fatalf("%d fetches; the max-age and the refetch limit allow 1", n)
	}
}

// TestRevokedCertificateAndIdentityAreRefused: revoking the caller's certificate (serial) or its
// whole identity refuses its calls with PERMISSION_DENIED as soon as the follower has the event.
func TestRevokedCertificateAndIdentityAreRefused(t *testing.T) {
	f := startPayments(t)
	ctx := ctxFor(t)
	cases := []struct {
		name   string
		caller *identity.Source
		target func(*identity.Source) *lanyardv1.RevocationTarget
		reason func(*identity.Source) string
	}{
		{"serial", f.caller,
			func(s *identity.Source) *lanyardv1.RevocationTarget {
				return &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Serial{Serial: s.Serial()}}
			},
			func(s *identity.Source) string { return "certificate " + s.Serial() + " is revoked" }},
		{"identity", f.other,
			func(s *identity.Source) *lanyardv1.RevocationTarget {
				return &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_SpiffeId{SpiffeId: s.SVID().ID.String()}}
			},
			func(s *identity.Source) string { return "identity " + s.SVID().ID.String() + " is revoked" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := token.NewFetcher(tc.caller).Token(ctx, tc.caller.SVID().Leaf, "payments", []string{"payments.charge"})
			if err != nil {
				t.Fatal(err)
			}
			client := f.client(t, tc.caller)
			if _, err := client.Charge(withToken(ctx, tok), &paymentsv1.ChargeRequest{AccountId: "a"}); err != nil {
				t.Fatalf("before revocation: %v", err)
			}
			rev, err := f.server.Revoke(ctx, tc.target(tc.caller))
			if err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(20 * time.Second); f.follower.Sequence() < rev.GetRevocation().GetSequence(); {
				if time.Now().After(deadline) {
					t.Fatalf("the follower is at %d, the revocation at %d", f.follower.Sequence(), rev.GetRevocation().GetSequence())
				}
				time.Sleep(50 * time.Millisecond)
			}
			_, err = client.Charge(withToken(ctx, tok), &paymentsv1.ChargeRequest{AccountId: "a"})
			wantStatus(t, err, codes.PermissionDenied, tc.reason(tc.caller))
		})
	}
}
