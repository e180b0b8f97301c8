package workload

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lanyard-dev/lanyard/agent/internal/cache"
)

// revokedSource is a loaded Source that revokes the jtis and identities it holds.
type revokedSource struct {
	state   *cache.State
	revoked map[string]bool
}

func (r *revokedSource) State() *cache.State      { return r.state }
func (r *revokedSource) Changed() <-chan struct{} { return make(chan struct{}) }
func (r *revokedSource) RevocationsLoaded() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
func (r *revokedSource) Revoked(jti, spiffeID, _ string) (string, bool) {
	switch {
	case r.revoked[jti]:
		return "token " + jti, true
	case r.revoked[spiffeID]:
		return "identity " + spiffeID, true
	}
	return "", false
}
func (r *revokedSource) JWTSVID(context.Context, *cache.SVID, string) (string, error) { return "", nil }

// validator is the real Workload API server over a unix socket, for a caller that holds
// spiffe://example.org/w (federating with b.test), with key as example.org's JWT key k1 and
// foreign as b.test's.
type validator struct {
	api     workload.SpiffeWorkloadAPIClient
	key     *ecdsa.PrivateKey
	foreign *ecdsa.PrivateKey
	id      spiffeid.ID
}

func newValidator(t *testing.T, issuers Issuers, revoked ...string) *validator {
	t.Helper()
	return newValidatorNamed(t, issuers, "", revoked...)
}

// newValidatorNamed is newValidator after the server named serverIssuer as its tokens' iss.
func newValidatorNamed(t *testing.T, issuers Issuers, serverIssuer string, revoked ...string) *validator {
	t.Helper()
	td := spiffeid.RequireTrustDomainFromString("example.org")
	id := spiffeid.RequireFromPath(td, "/w")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	foreign, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	src := &revokedSource{revoked: map[string]bool{}, state: &cache.State{TrustDomain: td,
		JWTKeys: map[string]crypto.PublicKey{"k1": &key.PublicKey},
		SVIDs: []*cache.SVID{{ID: id, Chain: []*x509.Certificate{selfSigned(t, key, id)}, KeyPKCS8: []byte("key"),
			Selectors: []string{fmt.Sprintf("unix:uid:%d", os.Getuid())}, FederatesWith: []string{"b.test"}}},
		Federated: map[spiffeid.TrustDomain]cache.Bundle{spiffeid.RequireTrustDomainFromString("b.test"): {
			JWTKeys: map[string]crypto.PublicKey{"f1": &foreign.PublicKey}}}, TokenIssuer: serverIssuer}}
	for _, r := range revoked {
		src.revoked[r] = true
	}
	conn := serveWith(t, src, issuers)
	return &validator{api: workload.NewSpiffeWorkloadAPIClient(conn), key: key, foreign: foreign, id: id}
}

func (v *validator) validate(t *testing.T, token string) (*workload.ValidateJWTSVIDResponse, error) {
	t.Helper()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "workload.spiffe.io", "true")
	return v.api.ValidateJWTSVID(ctx, &workload.ValidateJWTSVIDRequest{Audience: "ledger", Svid: token})
}

// token is a Lanyard token for v.id signed by v.key, with change applied to its claims.
func (v *validator) token(t *testing.T, change func(claims map[string]any)) string {
	t.Helper()
	claims := lanyardClaims(v.id, "ledger")
	change(claims)
	return mint(t, v.key, map[string]any{"alg": "ES256", "kid": "k1", "typ": "JWT"}, claims)
}

// refused checks an InvalidArgument that names why and does not echo the token.
func refused(t *testing.T, what, token string, err error, why string) {
	t.Helper()
	msg := status.Convert(err).Message()
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(msg, why) {
		t.Fatalf("%s: %v, want InvalidArgument naming %q", what, err, why)
	}
	if strings.Contains(msg, strings.Split(token, ".")[1]) {
		t.Fatalf("%s: the refusal echoes the token: %s", what, msg)
	}
}

// ValidateJWTSVID applies a Lanyard verifier's rules (clients/go/verify): a token signed by the
// trust domain's own key is still refused for a wrong iss, an expiry within the verifier's skew but
// not go-spiffe's 60 s leeway, a nbf or iat in the future, an algorithm Lanyard does not sign with,
// an unknown kid, or a revoked jti or identity.
func TestValidateJWTSVIDAppliesLanyardVerifierRules(t *testing.T) {
	v := newValidator(t, NewIssuers(testIssuer, nil), "j-revoked", "spiffe://example.org/revoked")
	now := time.Now().Unix()
	hmacToken := func(alg string) string {
		claims, _ := json.Marshal(lanyardClaims(v.id, "ledger"))
		header, _ := json.Marshal(map[string]string{"alg": alg, "kid": "k1", "typ": "JWT"})
		input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
		if alg == "none" {
			return input + "."
		}
		mac := hmac.New(sha256.New, []byte("k1"))
		mac.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	cases := []struct {
		name, token, why string
	}{
		{"wrong iss", v.token(t, func(c map[string]any) { c["iss"] = "https://evil.example" }), "wrong_issuer"},
		{"no iss", v.token(t, func(c map[string]any) { delete(c, "iss") }), "no iss claim"},
		{"expired 30 s ago", v.token(t, func(c map[string]any) { c["exp"] = now - 30 }), "expired"},
		{"not valid for 45 s", v.token(t, func(c map[string]any) { c["nbf"] = now + 45; c["iat"] = now + 45 }), "not_yet_valid"},
		{"issued 45 s ahead", v.token(t, func(c map[string]any) { c["iat"] = now + 45 }), "not_yet_valid"},
		{"wrong audience", v.token(t, func(c map[string]any) { c["aud"] = "payments" }), "wrong_audience"},
		{"no cnf", v.token(t, func(c map[string]any) { delete(c, "cnf") }), "no cnf claim"},
		{"revoked jti", v.token(t, func(c map[string]any) { c["jti"] = "j-revoked" }), "revoked"},
		{"revoked identity", v.token(t, func(c map[string]any) { c["sub"] = "spiffe://example.org/revoked" }), "revoked"},
		{"unknown kid", mint(t, v.key, map[string]any{"alg": "ES256", "kid": "k9", "typ": "JWT"},
			lanyardClaims(v.id, "ledger")), "unknown_key"},
		{"alg none", hmacToken("none"), "bad_algorithm"},
		{"alg HS256", hmacToken("HS256"), "bad_algorithm"},
		{"signed by b.test for example.org", mint(t, v.foreign, map[string]any{"alg": "ES256", "kid": "f1", "typ": "JWT"},
			lanyardClaims(v.id, "ledger")), "unknown_key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := v.validate(t, c.token)
			if err == nil {
				t.Fatalf("accepted: %v", resp)
			}
			refused(t, c.name, c.token, err, c.why)
		})
	}
}

// A good token is answered with its subject and every claim it carries.
func TestValidateJWTSVIDAcceptsALanyardTokenWithItsClaims(t *testing.T) {
	v := newValidator(t, NewIssuers(testIssuer, nil))
	// The claims of the token itself: made twice, they could fall on two sides of a second.
	want := lanyardClaims(v.id, "ledger")
	resp, err := v.validate(t, mint(t, v.key, map[string]any{"alg": "ES256", "kid": "k1", "typ": "JWT"}, want))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetSpiffeId() != v.id.String() {
		t.Fatalf("spiffe_id %q, want %s", resp.GetSpiffeId(), v.id)
	}
	got := resp.GetClaims().AsMap()
	if got["iss"] != testIssuer || got["aud"] != "ledger" || got["sub"] != v.id.String() || got["jti"] != "j1" ||
		got["scope"] != "ledger.read" || got["exp"] != float64(want["exp"].(int64)) {
		t.Fatalf("claims %v, want those of the token %v", got, want)
	}
	if !maps.Equal(got["cnf"].(map[string]any), map[string]any{"x5t#S256": "AAAA"}) {
		t.Fatalf("cnf %v", got["cnf"])
	}
}

// A federated trust domain's token is checked with its own keys and its configured issuer; the
// agent refuses it when it knows no issuer of that trust domain, and refuses a token of that trust
// domain signed by our key.
func TestValidateJWTSVIDChecksAFederatedTokenAgainstItsTrustDomain(t *testing.T) {
	const foreignIssuer = "https://lanyard.b.test"
	peerID := spiffeid.RequireFromString("spiffe://b.test/caller")
	claims := lanyardClaims(peerID, "ledger")
	claims["iss"] = foreignIssuer
	good := func(v *validator) string {
		return mint(t, v.foreign, map[string]any{"alg": "ES256", "kid": "f1", "typ": "JWT"}, claims)
	}

	v := newValidator(t, NewIssuers(testIssuer, map[string]string{"b.test": foreignIssuer}))
	resp, err := v.validate(t, good(v))
	if err != nil || resp.GetSpiffeId() != peerID.String() {
		t.Fatalf("a b.test token: %v %v", resp, err)
	}
	ours := lanyardClaims(peerID, "ledger")
	token := mint(t, v.foreign, map[string]any{"alg": "ES256", "kid": "f1", "typ": "JWT"}, ours)
	_, err = v.validate(t, token)
	refused(t, "a b.test token with our issuer", token, err, "wrong_issuer")
	token = mint(t, v.key, map[string]any{"alg": "ES256", "kid": "k1", "typ": "JWT"}, claims)
	_, err = v.validate(t, token)
	refused(t, "a b.test token signed by our key", token, err, "unknown_key")

	unknown := newValidator(t, NewIssuers(testIssuer, nil))
	if _, err := unknown.validate(t, good(unknown)); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(status.Convert(err).Message(), `no issuer configured for trust domain "b.test"`) {
		t.Fatalf("a b.test token without its issuer configured: %v, want FailedPrecondition", err)
	}
}

// An agent with no issuer configured, before its server has named one, cannot check iss, so it
// validates no token (refuse rather than guess).
func TestValidateJWTSVIDRefusesEveryTokenWithoutAnIssuer(t *testing.T) {
	v := newValidator(t, NewIssuers("", nil))
	if _, err := v.validate(t, signJWT(t, v.key, v.id, "ledger")); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(status.Convert(err).Message(), `knows no issuer for trust domain "example.org" yet`) {
		t.Fatalf("without an issuer: %v, want FailedPrecondition", err)
	}
}

// With no issuer configured, the agent expects the one its server named: a token with it validates,
// one with another iss is refused. The server's issuer is for our trust domain only.
func TestValidateJWTSVIDExpectsTheIssuerTheServerNamed(t *testing.T) {
	v := newValidatorNamed(t, NewIssuers("", nil), testIssuer)
	if resp, err := v.validate(t, signJWT(t, v.key, v.id, "ledger")); err != nil || resp.GetSpiffeId() != v.id.String() {
		t.Fatalf("a token with the server's issuer: %v %v", resp, err)
	}
	token := v.token(t, func(c map[string]any) { c["iss"] = "https://evil.example" })
	_, err := v.validate(t, token)
	refused(t, "another iss", token, err, "wrong_issuer")

	claims := lanyardClaims(spiffeid.RequireFromString("spiffe://b.test/caller"), "ledger")
	foreign := mint(t, v.foreign, map[string]any{"alg": "ES256", "kid": "f1", "typ": "JWT"}, claims)
	if _, err := v.validate(t, foreign); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a b.test token with our server's issuer and none configured for b.test: %v, want FailedPrecondition", err)
	}
}

// A configured issuer wins over the one the server names.
func TestValidateJWTSVIDExpectsTheConfiguredIssuerOverTheServers(t *testing.T) {
	const configured = "https://configured.example"
	v := newValidatorNamed(t, NewIssuers(configured, nil), testIssuer)
	token := signJWT(t, v.key, v.id, "ledger") // iss: testIssuer, the server's
	_, err := v.validate(t, token)
	refused(t, "the server's iss", token, err, "wrong_issuer")
	if _, err := v.validate(t, v.token(t, func(c map[string]any) { c["iss"] = configured })); err != nil {
		t.Fatalf("a token with the configured issuer: %v", err)
	}
}
