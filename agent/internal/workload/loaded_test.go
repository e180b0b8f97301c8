package workload

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lanyard-dev/lanyard/agent/internal/cache"
	"github.com/lanyard-dev/lanyard/agent/internal/peer"
)

// unloaded is a Source whose revocations are not loaded until the test closes loaded: what the
// agent holds for the moments after it starts, before the revocation follower's first catch-up.
type unloaded struct {
	state  *cache.State
	loaded chan struct{}
}

func (u *unloaded) State() *cache.State                           { return u.state }
func (u *unloaded) Changed() <-chan struct{}                      { return make(chan struct{}) }
func (u *unloaded) RevocationsLoaded() <-chan struct{}            { return u.loaded }
func (u *unloaded) Revoked(string, string, string) (string, bool) { return "", false }
func (u *unloaded) JWTSVID(context.Context, *cache.SVID, string) (string, error) {
	return "minted", nil
}

// Until the revocations are loaded once, the agent answers nothing that depends on them: the unary
// calls (ValidateJWTSVID, FetchJWTSVID, SDS FetchSecrets) are UNAVAILABLE, the X.509-SVID and SDS
// streams wait; once loaded, the same calls are answered.
func TestAnswersThatDependOnRevocationsWaitUntilTheyAreLoaded(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	id := spiffeid.RequireFromPath(td, "/w")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	src := &unloaded{loaded: make(chan struct{}), state: &cache.State{TrustDomain: td,
		JWTKeys: map[string]crypto.PublicKey{"k1": &key.PublicKey},
		SVIDs: []*cache.SVID{{ID: id, Chain: []*x509.Certificate{selfSigned(t, key, id)}, KeyPKCS8: []byte("key"),
			Selectors: []string{fmt.Sprintf("unix:uid:%d", os.Getuid())}}}}}
	conn := serve(t, src)
	api := workload.NewSpiffeWorkloadAPIClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "workload.spiffe.io", "true")
	token := signJWT(t, key, id, "ledger")

	wantUnavailable := func(what string, err error) {
		t.Helper()
		if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "revocations not loaded yet") {
			t.Fatalf("%s before the revocations are loaded: %v, want UNAVAILABLE (revocations not loaded yet)", what, err)
		}
	}
	_, err := api.ValidateJWTSVID(ctx, &workload.ValidateJWTSVIDRequest{Audience: "ledger", Svid: token})
	wantUnavailable("ValidateJWTSVID", err)
	_, err = api.FetchJWTSVID(ctx, &workload.JWTSVIDRequest{Audience: []string{"ledger"}})
	wantUnavailable("FetchJWTSVID", err)
	sds := secretv3.NewSecretDiscoveryServiceClient(conn)
	_, err = sds.FetchSecrets(ctx, &discoveryv3.DiscoveryRequest{})
	wantUnavailable("SDS FetchSecrets", err)

	x509Stream, err := api.FetchX509SVID(ctx, &workload.X509SVIDRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sdsStream, err := sds.StreamSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sdsStream.Send(&discoveryv3.DiscoveryRequest{}); err != nil {
		t.Fatal(err)
	}
	x509Got, sdsGot := make(chan error, 1), make(chan error, 1)
	go func() { _, err := x509Stream.Recv(); x509Got <- err }()
	go func() { _, err := sdsStream.Recv(); sdsGot <- err }()
	select {
	case err := <-x509Got:
		t.Fatalf("FetchX509SVID answered before the revocations were loaded: %v", err)
	case err := <-sdsGot:
		t.Fatalf("SDS StreamSecrets answered before the revocations were loaded: %v", err)
	case <-time.After(500 * time.Millisecond):
	}

	close(src.loaded)
	for what, got := range map[string]chan error{"FetchX509SVID": x509Got, "SDS StreamSecrets": sdsGot} {
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("%s once the revocations are loaded: %v", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s sent nothing once the revocations were loaded", what)
		}
	}
	if resp, err := api.ValidateJWTSVID(ctx, &workload.ValidateJWTSVIDRequest{Audience: "ledger", Svid: token}); err != nil ||
		resp.GetSpiffeId() != id.String() {
		t.Fatalf("ValidateJWTSVID once the revocations are loaded: %v %v", resp, err)
	}
	if _, err := api.FetchJWTSVID(ctx, &workload.JWTSVIDRequest{Audience: []string{"ledger"}}); err != nil {
		t.Fatalf("FetchJWTSVID once the revocations are loaded: %v", err)
	}
}

// serve runs the real Workload API and SDS server on a unix socket (peer credentials from the
// kernel) and returns a client connection to it.
func serve(t *testing.T, src Source) *grpc.ClientConn {
	t.Helper()
	return serveWith(t, src, NewIssuers(testIssuer, nil))
}

// serveWith is serve expecting issuers in tokens.
func serveWith(t *testing.T, src Source, issuers Issuers) *grpc.ClientConn {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGRPCServer(New(src, peer.NewAttestor(time.Minute), issuers, slog.New(slog.DiscardHandler)))
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func selfSigned(t *testing.T, key *ecdsa.PrivateKey, id spiffeid.ID) *x509.Certificate {
	t.Helper()
	u, _ := url.Parse(id.String())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), URIs: []*url.URL{u},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signJWT is a Lanyard token (ES256, kid "k1", iss testIssuer) for id and audience, signed with key.
func signJWT(t *testing.T, key *ecdsa.PrivateKey, id spiffeid.ID, audience string) string {
	t.Helper()
	return mint(t, key, map[string]any{"alg": "ES256", "kid": "k1", "typ": "JWT"}, lanyardClaims(id, audience))
}

// testIssuer is the iss the test servers expect of their own trust domain's tokens.
const testIssuer = "https://lanyard.example.org"

// lanyardClaims are the claims Lanyard mints, valid from a minute ago for five minutes.
func lanyardClaims(id spiffeid.ID, audience string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{"iss": testIssuer, "sub": id.String(), "aud": audience, "iat": now - 60, "nbf": now - 60,
		"exp": now + 240, "jti": "j1", "scope": "ledger.read", "cnf": map[string]string{"x5t#S256": "AAAA"}}
}

// mint encodes header and claims and signs them with key (ES256; the header says what it says).
func mint(t *testing.T, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
