// Package verify checks the tokens Lanyard mints (JWT-SVIDs bound to the caller's certificate):
// algorithm allow-list, signature against the published keys, iss, aud, exp/nbf/iat with a
// bounded skew, cnf x5t#S256 against the mTLS peer certificate, revocation, and required scopes.
package verify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/lanyard-dev/lanyard/clients/go/internal/printable"
	"github.com/lanyard-dev/lanyard/clients/go/jwks"
)

// DefaultSkew is the clock skew tolerated on exp, nbf and iat.
const DefaultSkew = 30 * time.Second

// MaxSkew caps the configurable skew: a larger one would keep expired tokens alive.
const MaxSkew = 5 * time.Minute

// maxTokenChars bounds what is parsed at all.
const maxTokenChars = 16 * 1024

// DefaultAlgorithms are the signature algorithms accepted unless configured otherwise.
// HMAC (HS*) and none are never accepted, whatever the configuration.
var DefaultAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.EdDSA, jose.RS256, jose.PS256}

// KeySource finds a published signing key by kid; jwks.Cache and jwks.Static are two.
// A missing key is reported with an error wrapping jwks.ErrUnknownKey.
type KeySource interface {
	Key(ctx context.Context, kid string) (*jose.JSONWebKey, error)
}

// RevocationChecker says whether a token id, an identity or a certificate serial (lower-case hex)
// is revoked; revocation.Follower is one. Loaded is closed once the revocations in force have been
// loaded (a follower's first catch-up with the stream): until then the verifier refuses every
// token, as one that has just started would otherwise let a revoked caller through.
type RevocationChecker interface {
	Revoked(jti, spiffeID, serial string) (what string, revoked bool)
	Loaded() <-chan struct{}
}

// Config is what a verifier expects. Issuer, Audience and Keys are required.
type Config struct {
	Issuer      string
	Audience    string
	Keys        KeySource
	Algorithms  []jose.SignatureAlgorithm // default DefaultAlgorithms
	Skew        time.Duration             // zero means DefaultSkew; at most MaxSkew
	NoSkew      bool                      // tolerate no skew at all (Skew must then be zero)
	Now         func() time.Time          // default time.Now
	Revocations RevocationChecker         // optional
	// RevocationWait is how long a check waits (within its context) for Revocations to be loaded,
	// just after start, before refusing with RevocationsNotLoaded; zero: not at all.
	RevocationWait time.Duration
}

// Verifier checks tokens against one Config. Safe for concurrent use.
type Verifier struct {
	issuer         string
	audience       string
	keys           KeySource
	algorithms     []jose.SignatureAlgorithm
	skew           time.Duration
	now            func() time.Time
	revocations    RevocationChecker
	revocationWait time.Duration
}

// New validates cfg and returns a Verifier; a missing or unsafe setting is refused here, not at
// the first call.
func New(cfg Config) (*Verifier, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("verify: an issuer is required")
	case cfg.Audience == "":
		return nil, errors.New("verify: an audience is required")
	case cfg.Keys == nil:
		return nil, errors.New("verify: a key source is required")
	case cfg.Skew < 0:
		return nil, fmt.Errorf("verify: skew %s is negative", cfg.Skew)
	case cfg.NoSkew && cfg.Skew != 0:
		return nil, fmt.Errorf("verify: NoSkew contradicts skew %s", cfg.Skew)
	case cfg.Skew > MaxSkew:
		return nil, fmt.Errorf("verify: skew %s is more than the maximum %s", cfg.Skew, MaxSkew)
	case cfg.RevocationWait < 0:
		return nil, fmt.Errorf("verify: revocation wait %s is negative", cfg.RevocationWait)
	}
	v := &Verifier{issuer: cfg.Issuer, audience: cfg.Audience, keys: cfg.Keys, algorithms: cfg.Algorithms,
		skew: cfg.Skew, now: cfg.Now, revocations: cfg.Revocations, revocationWait: cfg.RevocationWait}
	if v.algorithms == nil {
		v.algorithms = DefaultAlgorithms
	}
	if len(v.algorithms) == 0 {
		return nil, errors.New("verify: at least one algorithm must be allowed")
	}
	for _, a := range v.algorithms {
		if !slices.Contains(DefaultAlgorithms, a) {
			return nil, fmt.Errorf("verify: algorithm %s is not supported (allowed: %v)", a, DefaultAlgorithms)
		}
	}
	if cfg.Skew == 0 && !cfg.NoSkew {
		v.skew = DefaultSkew
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Audience is the audience this verifier expects.
func (v *Verifier) Audience() string { return v.audience }

// Token is a verified token. Only a Verifier makes one.
type Token struct {
	subject   string
	audience  string
	scopes    []string
	id        string
	expiresAt time.Time
	keyID     string
}

// Subject is the caller's SPIFFE ID (sub).
func (t *Token) Subject() string { return t.subject }

// Audience is the token's single audience.
func (t *Token) Audience() string { return t.audience }

// Scopes are the scopes the token holds, in token order.
func (t *Token) Scopes() []string { return slices.Clone(t.scopes) }

// ID is the token's jti.
func (t *Token) ID() string { return t.id }

// ExpiresAt is the token's exp.
func (t *Token) ExpiresAt() time.Time { return t.expiresAt }

// KeyID is the kid of the key that signed it.
func (t *Token) KeyID() string { return t.keyID }

// Verify checks token as presented over a TLS connection whose client certificate is peer, and
// that it holds every scope in required (none required: any verified token passes). The error is
// an *Error saying why it was refused.
func (v *Verifier) Verify(ctx context.Context, token string, peer *x509.Certificate, required []string) (*Token, error) {
	return v.verify(ctx, token, peer, true, required)
}

// VerifyUnbound checks token as Verify does (algorithm, key, signature, iss, aud, time claims, a
// well-formed cnf, revocations of its jti and subject), except that it cannot match cnf against the
// presenter's certificate, nor check that certificate's serial: it is for a checker that is handed
// the token without the connection it came on (the node agent's Workload API ValidateJWTSVID).
// Whoever terminates the presenter's TLS connection must still check the binding.
func (v *Verifier) VerifyUnbound(ctx context.Context, token string) (*Token, error) {
	return v.verify(ctx, token, nil, false, nil)
}

func (v *Verifier) verify(ctx context.Context, token string, peer *x509.Certificate, bound bool, required []string) (*Token, error) {
	jws, kid, err := v.parse(token)
	if err != nil {
		return nil, err
	}
	key, err := v.keys.Key(ctx, kid)
	if err != nil {
		return nil, &Error{Class: UnknownKey, Reason: fmt.Sprintf("cannot find key %q: %v", printable.Of(kid), err), cause: err}
	}
	if err := keyFits(jws.Signatures[0].Header.Algorithm, kid, key); err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, refuse(BadSignature, "the signature does not verify with key %q", printable.Of(kid))
	}
	t, err := v.checkClaims(payload, kid, peer, bound)
	if err != nil {
		return nil, err
	}
	if v.revocations != nil {
		if err := v.revocationsLoaded(ctx); err != nil {
			return nil, err
		}
		serial := ""
		if peer != nil {
			serial = peer.SerialNumber.Text(16)
		}
		if what, revoked := v.revocations.Revoked(t.id, t.subject, serial); revoked {
			return nil, refuse(Revoked, "%s is revoked", what)
		}
	}
	var missing []string
	for _, s := range required {
		if !slices.Contains(t.scopes, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return nil, refuse(MissingScope, "the token lacks scope %s (it holds %q)", strings.Join(missing, ", "), strings.Join(t.scopes, " "))
	}
	return t, nil
}

// revocationsLoaded waits, at most the revocation wait and within ctx, for the revocations to be
// loaded once; a check before that is refused (fail closed).
func (v *Verifier) revocationsLoaded(ctx context.Context) error {
	loaded := v.revocations.Loaded()
	select {
	case <-loaded:
		return nil
	default:
	}
	if v.revocationWait > 0 {
		timer := time.NewTimer(v.revocationWait)
		defer timer.Stop()
		select {
		case <-loaded:
			return nil
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	return refuse(RevocationsNotLoaded, "revocations are not loaded yet (the revocation stream has not caught up since this verifier started); retry shortly")
}

// parse checks the header before any key is looked up: the algorithm comes from the allow-list,
// never from the token alone.
func (v *Verifier) parse(token string) (*jose.JSONWebSignature, string, error) {
	if token == "" {
		return nil, "", refuse(Malformed, "no token")
	}
	if len(token) > maxTokenChars {
		return nil, "", refuse(Malformed, "the token is %d characters long; at most %d are accepted", len(token), maxTokenChars)
	}
	decoded, err := parts(token)
	if err != nil {
		return nil, "", err
	}
	if err := checkJSON(decoded[0], "header"); err != nil {
		return nil, "", err
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(decoded[0], &header); err != nil {
		return nil, "", refuse(Malformed, "the header is not a JSON object")
	}
	alg, err := headerString(header, "alg")
	if err != nil {
		return nil, "", err
	}
	if _, ok := header["alg"]; !ok {
		return nil, "", refuse(Malformed, "the header has no alg")
	}
	switch {
	case strings.EqualFold(alg, "none"):
		return nil, "", refuse(BadAlgorithm, "alg none is never accepted: the token is unsigned")
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return nil, "", refuse(BadAlgorithm, "alg %s is never accepted: HMAC would use a public key as a shared secret", printable.Of(alg))
	case !slices.Contains(v.algorithms, jose.SignatureAlgorithm(alg)):
		return nil, "", refuse(BadAlgorithm, "alg %s is not among the allowed %v", printable.Of(alg), v.algorithms)
	}
	// Lanyard always writes typ JWT; anything else (absent, JOSE, at+jwt, jwt) is another kind of JWS.
	typ, err := headerString(header, "typ")
	if err != nil {
		return nil, "", err
	}
	if _, ok := header["typ"]; !ok {
		return nil, "", refuse(Malformed, "the header has no typ")
	}
	if typ != "JWT" {
		return nil, "", refuse(Malformed, "typ %q is not JWT", printable.Of(typ))
	}
	if _, ok := header["crit"]; ok {
		return nil, "", refuse(Malformed, "the token marks header parameters critical; this verifier understands none")
	}
	if _, ok := header["zip"]; ok {
		return nil, "", refuse(Malformed, "the header has zip; a JWS payload is never compressed")
	}
	kid, err := headerString(header, "kid")
	if err != nil {
		return nil, "", err
	}
	if kid == "" {
		return nil, "", refuse(Malformed, "the header has no kid")
	}
	jws, err := jose.ParseSigned(token, v.algorithms)
	if err != nil {
		return nil, "", refuse(Malformed, "not a valid JWS: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, "", refuse(Malformed, "the token carries %d signatures; exactly one is expected", len(jws.Signatures))
	}
	return jws, kid, nil
}

// headerString is a header member that must be a string; absent is "".
func headerString(header map[string]json.RawMessage, name string) (string, error) {
	raw, ok := header[name]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", refuse(Malformed, "the header's %s is not a string", name)
	}
	return s, nil
}

// minRSABits is the smallest RSA key accepted.
const minRSABits = 2048

// keyFits refuses a key that is not published for this algorithm: another alg, another use, or a
// key type or curve the algorithm cannot use (a token must not pick how its key is read).
func keyFits(alg, kid string, key *jose.JSONWebKey) error {
	if key.Algorithm != "" && key.Algorithm != alg {
		return refuse(BadAlgorithm, "the token says alg %s but key %q is for %s", printable.Of(alg), printable.Of(kid), key.Algorithm)
	}
	if key.Use != "" && key.Use != "sig" {
		return refuse(BadAlgorithm, "key %q is published for %q, not for signatures", printable.Of(kid), printable.Of(key.Use))
	}
	var fits bool
	switch k := key.Key.(type) {
	case *ecdsa.PublicKey:
		fits = (alg == "ES256" && k.Curve == elliptic.P256()) || (alg == "ES384" && k.Curve == elliptic.P384())
	case *rsa.PublicKey:
		if (alg == "RS256" || alg == "PS256") && k.N.BitLen() < minRSABits {
			return refuse(BadAlgorithm, "RSA key %q has %d bits; at least %d are required", printable.Of(kid), k.N.BitLen(), minRSABits)
		}
		fits = alg == "RS256" || alg == "PS256"
	case ed25519.PublicKey:
		fits = alg == "EdDSA"
	}
	if !fits {
		return refuse(BadAlgorithm, "the token says %s, which key %q (%T) cannot verify", printable.Of(alg), printable.Of(kid), key.Key)
	}
	return nil
}

var scopeName = regexp.MustCompile(`^[a-z0-9]+([._:][a-z0-9]+)*$`)

// checkClaims runs the claim checks in the order that gives the most useful refusal: who issued
// it, for whom, when, about whom, with what scopes, bound to which certificate. Every claim
// Lanyard mints is required; a token without one is refused rather than guessed about.
func (v *Verifier) checkClaims(payload []byte, kid string, peer *x509.Certificate, bound bool) (*Token, error) {
	if err := checkJSON(payload, "payload"); err != nil {
		return nil, err
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(payload, &c); err != nil || c == nil {
		return nil, refuse(Malformed, "the payload is not a JSON object")
	}
	iss, err := stringClaim(c, "iss")
	if err != nil {
		return nil, err
	}
	if iss != v.issuer {
		return nil, refuse(WrongIssuer, "issuer %q is not the expected %q", printable.Of(iss), v.issuer)
	}
	aud, err := audienceClaim(c)
	if err != nil {
		return nil, err
	}
	if len(aud) != 1 {
		return nil, refuse(WrongAudience, "the token names %d audiences; a Lanyard token names exactly one, %q", len(aud), v.audience)
	}
	if aud[0] != v.audience {
		return nil, refuse(WrongAudience, "audience %q is not the expected %q", printable.Of(aud[0]), v.audience)
	}
	exp, err := timeClaim(c, "exp")
	if err != nil {
		return nil, err
	}
	nbf, err := timeClaim(c, "nbf")
	if err != nil {
		return nil, err
	}
	iat, err := timeClaim(c, "iat")
	if err != nil {
		return nil, err
	}
	now := v.now()
	switch {
	case !now.Before(exp.Add(v.skew)):
		return nil, refuse(Expired, "the token expired at %s (now %s, allowed skew %s)", stamp(exp), stamp(now), v.skew)
	case now.Before(nbf.Add(-v.skew)):
		return nil, refuse(NotYetValid, "the token is not valid before %s (now %s, allowed skew %s)", stamp(nbf), stamp(now), v.skew)
	case now.Before(iat.Add(-v.skew)):
		return nil, refuse(NotYetValid, "the token was issued in the future, at %s (now %s)", stamp(iat), stamp(now))
	case !exp.After(nbf):
		return nil, refuse(Malformed, "exp %s is not after nbf %s", stamp(exp), stamp(nbf))
	}
	sub, err := stringClaim(c, "sub")
	if err != nil {
		return nil, err
	}
	if !isSpiffeID(sub) {
		return nil, refuse(Malformed, "sub %q is not a SPIFFE ID", printable.Of(sub))
	}
	jti, err := stringClaim(c, "jti")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(jti) == "" {
		return nil, refuse(Malformed, "jti is blank")
	}
	scope, err := stringClaim(c, "scope")
	if err != nil {
		return nil, err
	}
	var scopes []string
	if scope != "" {
		for _, s := range strings.Split(scope, " ") {
			if !scopeName.MatchString(s) {
				return nil, refuse(Malformed, "scope holds %q, which is not a scope name (lower-case words joined by '.', ':' or '_', one space apart)", printable.Of(s))
			}
			scopes = append(scopes, s)
		}
	}
	if err := checkBinding(c, peer, bound); err != nil {
		return nil, err
	}
	return &Token{subject: sub, audience: aud[0], scopes: scopes, id: jti, expiresAt: exp, keyID: kid}, nil
}

// checkBinding checks cnf's shape and, when matchPeer, that it names peer.
func checkBinding(c map[string]json.RawMessage, peer *x509.Certificate, matchPeer bool) error {
	raw, ok := c["cnf"]
	if !ok {
		return refuse(Malformed, "the token has no cnf claim")
	}
	var cnf map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cnf); err != nil || cnf == nil {
		return refuse(Malformed, "cnf is not a JSON object")
	}
	rawThumb, ok := cnf["x5t#S256"]
	if !ok {
		return refuse(Malformed, "the token has no cnf.x5t#S256 claim")
	}
	var bound string
	if err := json.Unmarshal(rawThumb, &bound); err != nil {
		return refuse(Malformed, "cnf.x5t#S256 is not a string")
	}
	if !matchPeer {
		return nil
	}
	if peer == nil {
		return refuse(CnfMismatch, "the token is bound to a client certificate, but the caller presented none")
	}
	if subtle.ConstantTimeCompare([]byte(Thumbprint(peer)), []byte(bound)) != 1 {
		return refuse(CnfMismatch, "the token is bound to another certificate than the caller's (serial %s)", peer.SerialNumber.Text(16))
	}
	return nil
}

// Thumbprint is the RFC 8705 x5t#S256 of a certificate: base64url (no padding) of the SHA-256 of its DER.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func stringClaim(c map[string]json.RawMessage, name string) (string, error) {
	raw, ok := c[name]
	if !ok {
		return "", refuse(Malformed, "the token has no %s claim", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", refuse(Malformed, "%s is not a string", name)
	}
	return s, nil
}

func audienceClaim(c map[string]json.RawMessage) ([]string, error) {
	raw, ok := c["aud"]
	if !ok {
		return nil, refuse(Malformed, "the token has no aud claim")
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 {
		return nil, refuse(Malformed, "aud is not a string or a non-empty array of strings")
	}
	return many, nil
}

func timeClaim(c map[string]json.RawMessage, name string) (time.Time, error) {
	raw, ok := c[name]
	if !ok {
		return time.Time{}, refuse(Malformed, "the token has no %s claim", name)
	}
	// null would decode as 0; a NumericDate is a number from 0 to 1e11, read in whole seconds as
	// the Java and Rust verifiers do.
	var n float64
	if bytes.Equal(raw, []byte("null")) || json.Unmarshal(raw, &n) != nil || math.IsNaN(n) || n < 0 || n > 1e11 {
		return time.Time{}, refuse(Malformed, "%s is not a NumericDate from 0 to 1e11", name)
	}
	return time.Unix(int64(n), 0).UTC(), nil
}

func isSpiffeID(s string) bool {
	rest, ok := strings.CutPrefix(s, "spiffe://")
	if !ok {
		return false
	}
	td, path, hasPath := strings.Cut(rest, "/")
	if td == "" || strings.Trim(td, "abcdefghijklmnopqrstuvwxyz0123456789.-_") != "" {
		return false
	}
	return !hasPath || (path != "" && !strings.HasSuffix(path, "/"))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

var _ KeySource = (*jwks.Cache)(nil)
var _ KeySource = jwks.Static(nil)
