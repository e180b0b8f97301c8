package token_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/retry"
	"github.com/lanyard-dev/lanyard/clients/go/token"
)

var start = time.Unix(1_800_000_000, 0)

// fakeTokenServer mints numbered 5-minute tokens and refuses scopes outside its grant, like
// Lanyard's TokenService.
type fakeTokenServer struct {
	lanyardv1.UnimplementedTokenServiceServer
	mu       sync.Mutex
	minted   int
	requests [][]string
}

func (s *fakeTokenServer) IssueToken(_ context.Context, r *lanyardv1.IssueTokenRequest) (*lanyardv1.IssueTokenResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.GetScopes())
	if slices.Contains(r.GetScopes(), "payments.refund") {
		return nil, status.Error(codes.PermissionDenied, "payments.refund is not granted")
	}
	s.minted++
	return &lanyardv1.IssueTokenResponse{Token: fmt.Sprintf("token-%d", s.minted), TokenId: fmt.Sprint(s.minted),
		ExpiresAt: timestamppb.New(start.Add(5 * time.Minute))}, nil
}

type creds struct {
	conn   *grpc.ClientConn
	serial string
}

func (c *creds) Conn() *grpc.ClientConn { return c.conn }
func (c *creds) Serial() string         { return c.serial }

func TestFetcherCachesPerAudienceScopesAndCertificate(t *testing.T) {
	fake := &fakeTokenServer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	lanyardv1.RegisterTokenServiceServer(srv, fake)
	go srv.Serve(ln)
	defer srv.Stop()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := &creds{conn: cc, serial: "01"}
	now := start
	f := token.NewFetcher(c, token.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	get := func(scopes ...string) string {
		t.Helper()
		tok, err := f.Token(ctx, "payments", scopes)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if a, b := get("payments.read", "payments.charge"), get("payments.charge", "payments.read", "payments.read"); a != "token-1" || b != a {
		t.Fatalf("same scopes in another order: %s then %s", a, b)
	}
	if got := get("payments.read"); got != "token-2" {
		t.Fatalf("other scopes: %s", got)
	}
	now = start.Add(4*time.Minute + 31*time.Second) // less than 30 s left: replaced
	if got := get("payments.read"); got != "token-3" {
		t.Fatalf("near expiry: %s", got)
	}
	now = start.Add(time.Minute)
	c.serial = "02" // renewed: the cached tokens are bound to the old certificate
	if got := get("payments.read"); got != "token-4" {
		t.Fatalf("after a renewal: %s", got)
	}
	if fake.requests[0][0] != "payments.charge" || fake.requests[0][1] != "payments.read" {
		t.Fatalf("scopes not sent sorted: %v", fake.requests[0])
	}
	_, err = f.Token(ctx, "payments", []string{"payments.refund"})
	if status.Code(errors.Unwrap(err)) != codes.PermissionDenied || retry.IsTransient(err) {
		t.Fatalf("want a non-transient PERMISSION_DENIED, got %v", err)
	}
	// Callers arriving together share one mint.
	now = start.Add(2 * time.Minute)
	c.serial = "03"
	var wg sync.WaitGroup
	got := make([]string, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = f.Token(ctx, "payments", []string{"payments.charge"})
		}()
	}
	wg.Wait()
	fake.mu.Lock()
	minted := fake.minted
	fake.mu.Unlock()
	if minted != 5 || slices.ContainsFunc(got, func(s string) bool { return s != "token-5" }) {
		t.Fatalf("20 concurrent callers: %d tokens minted in all, got %v", minted, got)
	}
	for _, bad := range []struct {
		aud    string
		scopes []string
		want   string
	}{{"", []string{"x"}, "an audience is required"}, {"payments", nil, "at least one scope is required"}} {
		if _, err := f.Token(ctx, bad.aud, bad.scopes); err == nil || err.Error() != "token: "+bad.want {
			t.Errorf("want %q, got %v", bad.want, err)
		}
	}
}
