package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/retry"
	"github.com/lanyard-dev/lanyard/clients/go/token"
	"github.com/lanyard-dev/lanyard/clients/go/verify"
)

var start = time.Unix(1_800_000_000, 0)

// fakeTokenServer mints numbered 5-minute tokens bound (cnf) to the client certificate of the
// connection, and refuses scopes outside its grant, like Lanyard's TokenService. With lie set it
// binds them to another certificate.
type fakeTokenServer struct {
	lanyardv1.UnimplementedTokenServiceServer
	mu       sync.Mutex
	minted   int
	requests [][]string
	lie      bool
}

func (s *fakeTokenServer) IssueToken(ctx context.Context, r *lanyardv1.IssueTokenRequest) (*lanyardv1.IssueTokenResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.GetScopes())
	if slices.Contains(r.GetScopes(), "payments.refund") {
		return nil, status.Error(codes.PermissionDenied, "payments.refund is not granted")
	}
	p, _ := peer.FromContext(ctx)
	bound := verify.Thumbprint(p.AuthInfo.(credentials.TLSInfo).State.PeerCertificates[0])
	if s.lie {
		bound = "another"
	}
	s.minted++
	claims, _ := json.Marshal(map[string]any{"n": s.minted, "cnf": map[string]string{"x5t#S256": bound}})
	return &lanyardv1.IssueTokenResponse{Token: "h." + base64.RawURLEncoding.EncodeToString(claims) + ".s",
		TokenId: fmt.Sprint(s.minted), ExpiresAt: timestamppb.New(start.Add(5 * time.Minute))}, nil
}

// number is the n claim of a token of the fake.
func number(t *testing.T, tok string) int {
	t.Helper()
	payload, _ := base64.RawURLEncoding.DecodeString(tok[2 : len(tok)-2])
	var c struct{ N int }
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("not a token of the fake: %v", err)
	}
	return c.N
}

// creds holds the workload's certificates, each with its own connection to the fake presenting it.
type creds struct {
	addr  string
	conns map[*x509.Certificate]*grpc.ClientConn
}

func (c *creds) ConnPresenting(cert *x509.Certificate) (*grpc.ClientConn, error) {
	if conn, ok := c.conns[cert]; ok {
		return conn, nil
	}
	return nil, errors.New("not held")
}

// hold makes a self-signed client certificate valid until notAfter and a connection presenting it.
func (c *creds) hold(t *testing.T, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(int64(len(c.conns) + 1)),
		NotBefore: start.Add(-time.Hour), NotAfter: notAfter}, &x509.Certificate{}, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	present := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
	conn, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // a test server's throwaway certificate
		Certificates:       []tls.Certificate{present}})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c.conns[cert] = conn
	return cert
}

// startFake serves the fake over TLS, requiring a client certificate.
func startFake(t *testing.T, fake *fakeTokenServer) *creds {
	t.Helper()
	c := &creds{conns: map[*x509.Certificate]*grpc.ClientConn{}}
	serverKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(99),
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}, &x509.Certificate{}, &serverKey.PublicKey, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{ClientAuth: tls.RequireAnyClientCert,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: serverKey}}})))
	lanyardv1.RegisterTokenServiceServer(srv, fake)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	c.addr = ln.Addr().String()
	return c
}

func TestFetcherCachesPerAudienceScopesAndCertificate(t *testing.T) {
	fake := &fakeTokenServer{}
	c := startFake(t, fake)
	first := c.hold(t, start.Add(time.Hour))
	cert := first
	now := start
	f := token.NewFetcher(c, token.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	get := func(scopes ...string) int {
		t.Helper()
		tok, err := f.Token(ctx, cert, "payments", scopes)
		if err != nil {
			t.Fatal(err)
		}
		return number(t, tok)
	}
	if a, b := get("payments.read", "payments.charge"), get("payments.charge", "payments.read", "payments.read"); a != 1 || b != a {
		t.Fatalf("same scopes in another order: %d then %d", a, b)
	}
	if got := get("payments.read"); got != 2 {
		t.Fatalf("other scopes: %d", got)
	}
	now = start.Add(4*time.Minute + 31*time.Second) // less than 30 s left: replaced
	if got := get("payments.read"); got != 3 {
		t.Fatalf("near expiry: %d", got)
	}
	now = start.Add(time.Minute)
	cert = c.hold(t, start.Add(time.Hour)) // renewed: a token for the new certificate is minted over its connection
	if got := get("payments.read"); got != 4 {
		t.Fatalf("after a renewal: %d", got)
	}
	cert = first // a connection that still presents the first certificate still gets its token
	if got := get("payments.read"); got != 3 {
		t.Fatalf("for the earlier certificate: %d", got)
	}
	if fake.requests[0][0] != "payments.charge" || fake.requests[0][1] != "payments.read" {
		t.Fatalf("scopes not sent sorted: %v", fake.requests[0])
	}
	_, err := f.Token(ctx, cert, "payments", []string{"payments.refund"})
	if status.Code(errors.Unwrap(err)) != codes.PermissionDenied || retry.IsTransient(err) {
		t.Fatalf("want a non-transient PERMISSION_DENIED, got %v", err)
	}
	// Callers arriving together share one mint.
	now = start.Add(2 * time.Minute)
	cert = c.hold(t, start.Add(time.Hour))
	var wg sync.WaitGroup
	got := make([]int, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, _ := f.Token(ctx, cert, "payments", []string{"payments.charge"})
			got[i] = number(t, tok)
		}()
	}
	wg.Wait()
	fake.mu.Lock()
	minted := fake.minted
	fake.mu.Unlock()
	if minted != 5 || slices.ContainsFunc(got, func(n int) bool { return n != 5 }) {
		t.Fatalf("20 concurrent callers: %d tokens minted in all, got %v", minted, got)
	}
	for _, bad := range []struct {
		aud    string
		scopes []string
		want   string
	}{{"", []string{"x"}, "an audience is required"}, {"payments", nil, "at least one scope is required"}} {
		if _, err := f.Token(ctx, cert, bad.aud, bad.scopes); err == nil || err.Error() != "token: "+bad.want {
			t.Errorf("want %q, got %v", bad.want, err)
		}
	}
}

func TestFetcherRefusesATokenBoundToAnotherCertificate(t *testing.T) {
	fake := &fakeTokenServer{}
	c := startFake(t, fake)
	ctx := context.Background()
	f := token.NewFetcher(c, token.WithClock(func() time.Time { return start }))
	if _, err := f.Token(ctx, nil, "payments", []string{"payments.read"}); err == nil {
		t.Fatal("a token for no certificate")
	}
	gone := &x509.Certificate{SerialNumber: big.NewInt(77), Raw: []byte("gone")}
	if _, err := f.Token(ctx, gone, "payments", []string{"payments.read"}); err == nil || !strings.Contains(err.Error(), "not held") {
		t.Fatalf("a certificate the workload does not hold: %v", err)
	}
	cert := c.hold(t, start.Add(time.Hour))
	fake.lie = true
	_, err := f.Token(ctx, cert, "payments", []string{"payments.read"})
	if err == nil || !strings.Contains(err.Error(), "bound to another certificate than serial") {
		t.Fatalf("a token bound to another certificate: %v", err)
	}
	fake.lie = false
	tok, err := f.Token(ctx, cert, "payments", []string{"payments.read"})
	if err != nil || number(t, tok) != 2 {
		t.Fatalf("the mismatched token was cached or no token came: %v", err)
	}
}

func TestATokenIsNotKeptPastItsCertificate(t *testing.T) {
	fake := &fakeTokenServer{}
	c := startFake(t, fake)
	now := start
	f := token.NewFetcher(c, token.WithClock(func() time.Time { return now }))
	cert := c.hold(t, start.Add(time.Minute)) // expires before the 5-minute token
	ctx := context.Background()
	// Cut to the certificate's minute, the token is replaced in its last fifth (12 s).
	for _, step := range []struct {
		at   time.Duration
		want int
	}{{0, 1}, {30 * time.Second, 1}, {50 * time.Second, 2}} {
		now = start.Add(step.at)
		tok, err := f.Token(ctx, cert, "payments", []string{"payments.read"})
		if err != nil {
			t.Fatal(err)
		}
		if n := number(t, tok); n != step.want {
			t.Fatalf("at %s: token %d, want %d", step.at, n, step.want)
		}
	}
}
