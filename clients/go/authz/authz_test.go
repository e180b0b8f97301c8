package authz_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/lanyard-dev/lanyard/clients/go/authz"
	_ "github.com/lanyard-dev/lanyard/clients/go/examplespb/ledger/v1"
	_ "github.com/lanyard-dev/lanyard/clients/go/examplespb/payments/v1"
	"github.com/lanyard-dev/lanyard/clients/go/verify"
)

type audienceOnly string

// notLoadedYet is a verifier whose revocations are not loaded yet.
type notLoadedYet struct{}

func (notLoadedYet) Audience() string { return "payments" }
func (notLoadedYet) Verify(context.Context, string, *x509.Certificate, []string) (*verify.Token, error) {
	return nil, &verify.Error{Class: verify.RevocationsNotLoaded, Reason: "revocations are not loaded yet"}
}

// A verifier that has not loaded its revocations yet refuses with UNAVAILABLE: the caller is not at
// fault and may retry; neither UNAUTHENTICATED nor PERMISSION_DENIED would say that.
func TestRevocationsNotLoadedIsUnavailable(t *testing.T) {
	e, err := authz.New(notLoadedYet{}, "examples.payments.v1.PaymentsService")
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer abc"))
	ctx = peer.NewContext(ctx, &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{
		PeerCertificates: []*x509.Certificate{{}}}}})
	_, err = e.Authorize(ctx, "/examples.payments.v1.PaymentsService/Charge")
	if s, _ := status.FromError(err); s.Code() != codes.Unavailable || !strings.Contains(s.Message(), "revocations are not loaded yet") {
		t.Fatalf("want UNAVAILABLE naming the revocations, got %v", err)
	}
}

func (a audienceOnly) Audience() string { return string(a) }
func (a audienceOnly) Verify(context.Context, string, *x509.Certificate, []string) (*verify.Token, error) {
	panic("not reached in these tests: every call here is refused before verification")
}

func TestScopesComeFromTheMethodOptions(t *testing.T) {
	e, err := authz.New(audienceOnly("payments"), "examples.payments.v1.PaymentsService")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{
		"/examples.payments.v1.PaymentsService/Charge":        {"payments.charge"},
		"/examples.payments.v1.PaymentsService/Refund":        {"payments.refund", "payments.charge.read"},
		"/examples.payments.v1.PaymentsService/WatchPayments": {"payments.read"},
	}
	for method, want := range cases {
		got, ok := e.RequiredScopes(method)
		if !ok || !slices.Equal(got, want) {
			t.Errorf("%s: %v %v, want %v", method, got, ok, want)
		}
	}
}

func TestNewRefusesMismatchedContracts(t *testing.T) {
	cases := []struct {
		audience string
		services []string
		want     string
	}{
		{"payments", nil, "name at least one service"},
		{"payments", []string{"examples.nope.v1.Nope"}, "service examples.nope.v1.Nope is not registered"},
		{"payments", []string{"examples.payments.v1.ChargeRequest"}, "is not a service"},
		{"payments", []string{"examples.ledger.v1.LedgerService"}, `declares audience "ledger", but the verifier expects "payments"`},
	}
	for _, tc := range cases {
		if _, err := authz.New(audienceOnly(tc.audience), tc.services...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
}

func TestRefusalsBeforeVerification(t *testing.T) {
	e, err := authz.New(audienceOnly("payments"), "examples.payments.v1.PaymentsService")
	if err != nil {
		t.Fatal(err)
	}
	md := func(kv ...string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs(kv...))
	}
	cases := []struct {
		ctx    context.Context
		method string
		code   codes.Code
		want   string
	}{
		{md(), "/examples.ledger.v1.LedgerService/PostEntry", codes.PermissionDenied, "is not covered by any guarded contract"},
		{md(), "/examples.payments.v1.PaymentsService/Charge", codes.Unauthenticated, "no token"},
		{md("authorization", "Basic abc"), "/examples.payments.v1.PaymentsService/Charge", codes.Unauthenticated, "is not `Bearer <token>`"},
		{md("authorization", "Bearer a", "authorization", "Bearer b"), "/examples.payments.v1.PaymentsService/Charge", codes.Unauthenticated, "more than one authorization header"},
		{md("authorization", "Bearer abc"), "/examples.payments.v1.PaymentsService/Charge", codes.Unauthenticated, "the call did not come over mTLS"},
	}
	for _, tc := range cases {
		_, err := e.Authorize(tc.ctx, tc.method)
		s, _ := status.FromError(err)
		if s.Code() != tc.code || !strings.Contains(s.Message(), tc.want) {
			t.Errorf("%s: want %s %q, got %s %q", tc.method, tc.code, tc.want, s.Code(), s.Message())
		}
	}
}
