package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/lanyard-dev/lanyard/clients/go/jwks"
	"github.com/lanyard-dev/lanyard/clients/go/verify"
)

const (
	issuer   = "http://localhost:8080"
	audience = "payments"
	subject  = "spiffe://lanyard.local/ns/shop/sa/web"
)

var now = time.Unix(1_800_000_000, 0).UTC()

type fixture struct {
	key    *ecdsa.PrivateKey
	keys   jwks.Static
	peer   *x509.Certificate
	other  *x509.Certificate
	signer jose.Signer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		key:    key,
		keys:   jwks.Static{"k1": {Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}},
		peer:   certificate(t, 1),
		other:  certificate(t, 2),
		signer: signer,
	}
}

func certificate(t testing.TB, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "peer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
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

func (f *fixture) claims() map[string]any {
	return map[string]any{
		"iss": issuer, "sub": subject, "aud": audience,
		"iat": now.Unix() - 10, "nbf": now.Unix() - 10, "exp": now.Unix() + 290,
		"jti": "t-1", "scope": "payments.charge payments.read",
		"cnf": map[string]any{"x5t#S256": verify.Thumbprint(f.peer)},
	}
}

func (f *fixture) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := f.signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) verifier(t testing.TB, revoked verify.RevocationChecker) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Config{Issuer: issuer, Audience: audience, Keys: f.keys,
		Now: func() time.Time { return now }, Revocations: revoked})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type revokedSet map[string]bool

func (revokedSet) Loaded() <-chan struct{} { return loaded }

// loaded is a closed channel: a set held in memory from the start is loaded.
var loaded = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// loading is a revocation set whose first load the test decides.
type loading struct{ done chan struct{} }

func (loading) Revoked(string, string, string) (string, bool) { return "", false }
func (l loading) Loaded() <-chan struct{}                     { return l.done }

// A verifier that has just started, whose revocations are not loaded yet, could let a revoked caller
// through: it refuses every token, retryably, until they are.
func TestTokensAreRefusedUntilTheRevocationsAreLoaded(t *testing.T) {
	f := newFixture(t)
	set := loading{done: make(chan struct{})}
	v := f.verifier(t, set)
	token := f.sign(t, f.claims())
	_, err := v.Verify(context.Background(), token, f.peer, nil)
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Class != verify.RevocationsNotLoaded || !strings.Contains(ve.Reason, "revocations are not loaded yet") {
		t.Fatalf("want a revocations_not_loaded refusal, got %v", err)
	}
	if ve.Class.Unauthenticated() {
		t.Error("not loaded yet is the verifier's state, not the caller's failure")
	}
	close(set.done)
	if _, err := v.Verify(context.Background(), token, f.peer, nil); err != nil {
		t.Fatalf("refused once loaded: %v", err)
	}
}

// With a RevocationWait, a check made just before the first load waits for it.
func TestACheckWaitsForTheFirstLoadWithinTheRevocationWait(t *testing.T) {
	f := newFixture(t)
	set := loading{done: make(chan struct{})}
	v, err := verify.New(verify.Config{Issuer: issuer, Audience: audience, Keys: f.keys,
		Now: func() time.Time { return now }, Revocations: set, RevocationWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, func() { close(set.done) })
	if _, err := v.Verify(context.Background(), f.sign(t, f.claims()), f.peer, nil); err != nil {
		t.Fatalf("the check did not wait for the load: %v", err)
	}
	if _, err := verify.New(verify.Config{Issuer: issuer, Audience: audience, Keys: f.keys, RevocationWait: -time.Second}); err == nil {
		t.Error("a negative revocation wait was accepted")
	}
}

func (r revokedSet) Revoked(jti, spiffeID, serial string) (string, bool) {
	for _, k := range []string{"jti " + jti, "spiffe_id " + spiffeID, "serial " + serial} {
		if r[k] {
			return k, true
		}
	}
	return "", false
}

func unsigned(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	with := func(change func(map[string]any)) string {
		c := f.claims()
		change(c)
		return f.sign(t, c)
	}
	good := f.sign(t, f.claims())
	edKey := func() string {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: priv, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
		jws, _ := s.Sign([]byte(`{}`))
		out, _ := jws.CompactSerialize()
		return out
	}()
	cases := []struct {
		name     string
		token    string
		peer     *x509.Certificate
		required []string
		revoked  revokedSet
		class    verify.Class
		reason   string
	}{
		{"valid", good, f.peer, []string{"payments.charge"}, nil, verify.OK, ""},
		{"valid, nothing required", good, f.peer, nil, nil, verify.OK, ""},
		{"empty", "", f.peer, nil, nil, verify.Malformed, "no token"},
		{"two parts", "a.b", f.peer, nil, nil, verify.Malformed, "not a compact JWS"},
		{"header not base64", "%%%.e30.sig", f.peer, nil, nil, verify.Malformed, "the header is not canonical unpadded base64url"},
		{"alg none", unsigned(map[string]any{"alg": "none", "kid": "k1"}, f.claims()), f.peer, nil, nil, verify.BadAlgorithm, "alg none is never accepted"},
		{"alg HS256", unsigned(map[string]any{"alg": "HS256", "kid": "k1"}, f.claims()) + "c2ln", f.peer, nil, nil, verify.BadAlgorithm, "HMAC would use a public key"},
		{"alg not allowed", unsigned(map[string]any{"alg": "ES512", "kid": "k1"}, f.claims()) + "c2ln", f.peer, nil, nil, verify.BadAlgorithm, "alg ES512 is not among the allowed"},
		{"key for another alg", edKey, f.peer, nil, nil, verify.BadAlgorithm, "the token says alg EdDSA but key \"k1\" is for ES256"},
		{"no kid", unsigned(map[string]any{"alg": "ES256", "typ": "JWT"}, f.claims()) + "c2ln", f.peer, nil, nil, verify.Malformed, "the header has no kid"},
		{"unknown kid", unsigned(map[string]any{"alg": "ES256", "typ": "JWT", "kid": "k9"}, f.claims()) + "c2ln", f.peer, nil, nil, verify.UnknownKey, `cannot find key "k9"`},
		{"tampered payload", tamper(good), f.peer, nil, nil, verify.BadSignature, `the signature does not verify with key "k1"`},
		{"wrong issuer", with(func(c map[string]any) { c["iss"] = "http://evil" }), f.peer, nil, nil, verify.WrongIssuer, `issuer "http://evil" is not the expected "http://localhost:8080"`},
		{"wrong audience", with(func(c map[string]any) { c["aud"] = "ledger" }), f.peer, nil, nil, verify.WrongAudience, `audience "ledger" is not the expected "payments"`},
		{"two audiences", with(func(c map[string]any) { c["aud"] = []string{"payments", "ledger"} }), f.peer, nil, nil, verify.WrongAudience, "names 2 audiences"},
		{"expired beyond skew", with(func(c map[string]any) { c["exp"] = now.Unix() - 30 }), f.peer, nil, nil, verify.Expired, "the token expired at"},
		{"expired within skew", with(func(c map[string]any) { c["exp"] = now.Unix() - 29; c["nbf"] = now.Unix() - 100 }), f.peer, nil, nil, verify.OK, ""},
		{"not yet valid", with(func(c map[string]any) { c["nbf"] = now.Unix() + 31 }), f.peer, nil, nil, verify.NotYetValid, "not valid before"},
		{"issued in the future", with(func(c map[string]any) { c["iat"] = now.Unix() + 31 }), f.peer, nil, nil, verify.NotYetValid, "issued in the future"},
		{"no exp", with(func(c map[string]any) { delete(c, "exp") }), f.peer, nil, nil, verify.Malformed, "the token has no exp claim"},
		{"exp a string", with(func(c map[string]any) { c["exp"] = "soon" }), f.peer, nil, nil, verify.Malformed, "exp is not a NumericDate"},
		{"sub not SPIFFE", with(func(c map[string]any) { c["sub"] = "alice" }), f.peer, nil, nil, verify.Malformed, `sub "alice" is not a SPIFFE ID`},
		{"no jti", with(func(c map[string]any) { delete(c, "jti") }), f.peer, nil, nil, verify.Malformed, "the token has no jti claim"},
		{"bad scope", with(func(c map[string]any) { c["scope"] = "Payments" }), f.peer, nil, nil, verify.Malformed, `scope holds "Payments"`},
		{"no cnf", with(func(c map[string]any) { delete(c, "cnf") }), f.peer, nil, nil, verify.Malformed, "the token has no cnf claim"},
		{"other certificate", good, f.other, nil, nil, verify.CnfMismatch, "bound to another certificate than the caller's (serial 2)"},
		{"no certificate", good, nil, nil, nil, verify.CnfMismatch, "the caller presented none"},
		{"revoked jti", good, f.peer, nil, revokedSet{"jti t-1": true}, verify.Revoked, "jti t-1 is revoked"},
		{"revoked identity", good, f.peer, nil, revokedSet{"spiffe_id " + subject: true}, verify.Revoked, "spiffe_id " + subject + " is revoked"},
		{"revoked serial", good, f.peer, nil, revokedSet{"serial 1": true}, verify.Revoked, "serial 1 is revoked"},
		{"missing scope", good, f.peer, []string{"payments.refund", "payments.charge"}, nil, verify.MissingScope, "the token lacks scope payments.refund"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var checker verify.RevocationChecker
			if tc.revoked != nil {
				checker = tc.revoked
			}
			tok, err := f.verifier(t, checker).Verify(context.Background(), tc.token, tc.peer, tc.required)
			if tc.class == verify.OK {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if tok.Subject() != subject || tok.ID() != "t-1" || tok.KeyID() != "k1" || len(tok.Scopes()) != 2 {
					t.Fatalf("unexpected token %+v", tok)
				}
				return
			}
			var e *verify.Error
			if !errors.As(err, &e) {
				t.Fatalf("want *verify.Error %s, got %v", tc.class, err)
			}
			if e.Class != tc.class || !strings.Contains(e.Reason, tc.reason) {
				t.Fatalf("want %s %q, got %s %q", tc.class, tc.reason, e.Class, e.Reason)
			}
			if tc.token != "" && strings.Contains(e.Error(), tc.token) {
				t.Fatal("the error quotes the token")
			}
		})
	}
}

func tamper(token string) string {
	parts := strings.Split(token, ".")
	c, _ := base64.RawURLEncoding.DecodeString(parts[1])
	c = []byte(strings.Replace(string(c), "payments.read", "payments.root", 1))
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(c) + "." + parts[2]
}

func TestNewRefusesUnsafeConfig(t *testing.T) {
	keys := jwks.Static{}
	cases := []struct {
		cfg  verify.Config
		want string
	}{
		{verify.Config{Audience: "a", Keys: keys}, "an issuer is required"},
		{verify.Config{Issuer: "i", Keys: keys}, "an audience is required"},
		{verify.Config{Issuer: "i", Audience: "a"}, "a key source is required"},
		{verify.Config{Issuer: "i", Audience: "a", Keys: keys, Skew: 10 * time.Minute}, "skew 10m0s is more than the maximum 5m0s"},
		{verify.Config{Issuer: "i", Audience: "a", Keys: keys, Skew: -time.Second}, "skew -1s is negative"},
		{verify.Config{Issuer: "i", Audience: "a", Keys: keys, Skew: time.Second, NoSkew: true}, "NoSkew contradicts skew 1s"},
		{verify.Config{Issuer: "i", Audience: "a", Keys: keys, Algorithms: []jose.SignatureAlgorithm{jose.HS256}}, "algorithm HS256 is not supported"},
		{verify.Config{Issuer: "i", Audience: "a", Keys: keys, Algorithms: []jose.SignatureAlgorithm{}}, "at least one algorithm must be allowed"},
	}
	for _, tc := range cases {
		if _, err := verify.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
}

func TestNoSkew(t *testing.T) {
	f := newFixture(t)
	c := f.claims()
	c["exp"] = now.Unix() - 1
	c["nbf"] = now.Unix() - 100
	tok := f.sign(t, c)
	v, err := verify.New(verify.Config{Issuer: issuer, Audience: audience, Keys: f.keys, NoSkew: true,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var e *verify.Error
	if _, err := v.Verify(context.Background(), tok, f.peer, nil); !errors.As(err, &e) || e.Class != verify.Expired {
		t.Fatalf("a token expired 1 s ago with no skew: %v", err)
	}
	if _, err := f.verifier(t, nil).Verify(context.Background(), tok, f.peer, nil); err != nil {
		t.Fatalf("the same token with the default skew: %v", err)
	}
}

// TestKeyMustFitTheAlgorithm: the published key decides how a token is read, never the token.
func TestKeyMustFitTheAlgorithm(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(t, f.claims()) // ES256, kid k1
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	cases := []struct {
		key  jose.JSONWebKey
		want string
	}{
		{jose.JSONWebKey{Key: &f.key.PublicKey, KeyID: "k1", Use: "enc"}, `key "k1" is published for "enc", not for signatures`},
		{jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "k1"}, `the token says ES256, which key "k1" (*ecdsa.PublicKey) cannot verify`},
		{jose.JSONWebKey{Key: &small.PublicKey, KeyID: "k1"}, `the token says ES256, which key "k1" (*rsa.PublicKey) cannot verify`},
	}
	for _, tc := range cases {
		v, err := verify.New(verify.Config{Issuer: issuer, Audience: audience, Keys: jwks.Static{"k1": tc.key},
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		var e *verify.Error
		if _, err := v.Verify(context.Background(), tok, f.peer, nil); !errors.As(err, &e) || e.Class != verify.BadAlgorithm || e.Reason != tc.want {
			t.Errorf("want bad_algorithm %q, got %v", tc.want, err)
		}
	}
	// A short RSA key is refused for RS256 too.
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: small, KeyID: "r"}}, (&jose.SignerOptions{}).WithType("JWT"))
	payload, _ := json.Marshal(f.claims())
	jws, _ := signer.Sign(payload)
	rsTok, _ := jws.CompactSerialize()
	v, _ := verify.New(verify.Config{Issuer: issuer, Audience: audience, Keys: jwks.Static{"r": {Key: &small.PublicKey, KeyID: "r"}},
		Now: func() time.Time { return now }})
	var e *verify.Error
	if _, err := v.Verify(context.Background(), rsTok, f.peer, nil); !errors.As(err, &e) || e.Reason != `RSA key "r" has 1024 bits; at least 2048 are required` {
		t.Errorf("a 1024-bit RSA key: %v", err)
	}
}

// BenchmarkVerify verifies one ES256 token with the key already at hand (a cached JWKS).
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	v := f.verifier(b, revokedSet{})
	token := f.sign(b, f.claims())
	ctx := context.Background()
	required := []string{"payments.charge"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token, f.peer, required); err != nil {
			b.Fatal(err)
		}
	}
}

// VerifyUnbound, for a checker without the presenter's connection, checks everything but the match
// of cnf to a certificate: a token bound to any certificate passes, one with no cnf or a wrong
// issuer does not, and revocations of its jti and subject still apply.
func TestVerifyUnbound(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t, revokedSet{"jti t-revoked": true})
	bound := f.claims()
	bound["cnf"] = map[string]any{"x5t#S256": verify.Thumbprint(f.other)}
	tok, err := v.VerifyUnbound(context.Background(), f.sign(t, bound))
	if err != nil || tok.Subject() != subject || tok.ID() != "t-1" {
		t.Fatalf("a good token bound to another certificate: %v %v", tok, err)
	}
	for _, c := range []struct {
		change func(map[string]any)
		class  verify.Class
	}{
		{func(c map[string]any) { delete(c, "cnf") }, verify.Malformed},
		{func(c map[string]any) { c["cnf"] = map[string]any{} }, verify.Malformed},
		{func(c map[string]any) { c["iss"] = "https://other" }, verify.WrongIssuer},
		{func(c map[string]any) { c["exp"] = now.Unix() - 30 }, verify.Expired},
		{func(c map[string]any) { c["jti"] = "t-revoked" }, verify.Revoked},
	} {
		claims := f.claims()
		c.change(claims)
		var refused *verify.Error
		if _, err := v.VerifyUnbound(context.Background(), f.sign(t, claims)); !errors.As(err, &refused) || refused.Class != c.class {
			t.Errorf("%v: %v, want %s", claims, err, c.class)
		}
	}
}
