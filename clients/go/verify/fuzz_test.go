package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lanyard-dev/lanyard/clients/go/jwks"
	"github.com/lanyard-dev/lanyard/clients/go/verify"
)

// Two fuzz targets for what parses attacker input. `go test` runs their seeds (the shared vectors
// and testdata/fuzz/<name>); build.sh adds a short `-fuzz` run of each; a longer run is
// `go test -run '^$' -fuzz '^FuzzVerify$' -fuzztime 5m ./verify`.

// FuzzVerify feeds whole tokens to a verifier holding the shared vectors' JWKS. A fuzzer cannot
// sign, so nothing may pass unless it is, byte for byte, a vector token whose refusal depends only
// on context (time, revocation, scopes, binding): every other string must be refused, never panic.
func FuzzVerify(f *testing.F) {
	v := loadVectors(f)
	keys, err := jwks.Parse(v.JWKS)
	if err != nil {
		f.Fatal(err)
	}
	contextual := map[string]bool{"ok": true, "expired": true, "not_yet_valid": true, "revoked": true,
		"missing_scope": true, "cnf_mismatch": true}
	signedByUs := map[string]bool{}
	for _, c := range v.Cases {
		f.Add(c.Token)
		if contextual[c.Expect] {
			signedByUs[c.Token] = true
		}
	}
	for _, c := range v.Cases {
		if !contextual[c.Expect] {
			delete(signedByUs, c.Token) // a token some case refuses for what it is must never pass
		}
	}
	peer := vectorPeer(f, v)
	verifier, err := verify.New(verify.Config{Issuer: v.Issuer, Audience: v.Audience, Keys: jwks.Static(keys),
		Now: func() time.Time { return time.Unix(v.Cases[0].Now, 0) }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		_, err := verifier.Verify(context.Background(), token, peer, nil)
		if err == nil && !signedByUs[token] {
			t.Fatalf("accepted a token the vectors do not hold as good: %q", token)
		}
	})
}

// FuzzSigned signs whatever header and payload bytes the fuzzer makes with a published key, so
// the fuzzer reaches the header, key, payload and claim checks behind the signature. What passes
// must be what the rules allow, checked here independently of the verifier's code.
func FuzzSigned(f *testing.F) {
	fx := newFixture(f)
	good, _ := json.Marshal(fx.claims())
	f.Add([]byte(`{"alg":"ES256","kid":"k1","typ":"JWT"}`), good)
	f.Add([]byte(`{"alg":"ES256","kid":"k1","typ":"JWT","kid":"k1"}`), good)
	f.Add([]byte(`{"alg":"ES256","kid":"k1","typ":"JOSE","zip":"DEF"}`), append([]byte(`{"aud":"x",`), good[1:]...))
	f.Add([]byte(`{"alg":"ES256","kid":"k1","typ":"JWT","crit":["b64"],"b64":false}`), []byte(`{"exp":1e300}`))
	verifier := fx.verifier(f, nil)
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		token := signRaw(t, fx.key, header, payload)
		if _, err := verifier.Verify(context.Background(), token, fx.peer, nil); err == nil {
			checkAllowed(t, header, payload, fx.peer)
		}
	})
}

func signRaw(t *testing.T, key *ecdsa.PrivateKey, header, payload []byte) string {
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
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

// checkAllowed fails the fuzz run when an accepted token breaks a rule of the shared vectors.
func checkAllowed(t *testing.T, header, payload []byte, peer *x509.Certificate) {
	if !utf8.Valid(header) || !utf8.Valid(payload) {
		t.Fatalf("accepted bytes that are not UTF-8: %q %q", header, payload)
	}
	var h map[string]any
	if json.Unmarshal(header, &h) != nil || h["alg"] != "ES256" || h["typ"] != "JWT" || h["kid"] != "k1" ||
		h["zip"] != nil || h["crit"] != nil {
		t.Fatalf("accepted header %q", header)
	}
	var c map[string]any
	if json.Unmarshal(payload, &c) != nil {
		t.Fatalf("accepted a payload that is not a JSON object: %q", payload)
	}
	aud, isString := c["aud"].(string)
	if list, ok := c["aud"].([]any); ok && len(list) == 1 {
		aud, isString = list[0].(string)
	}
	cnf, _ := c["cnf"].(map[string]any)
	exp, _ := c["exp"].(float64)
	nbf, okNbf := c["nbf"].(float64)
	iat, okIat := c["iat"].(float64)
	switch {
	case c["iss"] != issuer || !isString || aud != audience:
		t.Fatalf("accepted another issuer or audience: %q", payload)
	case float64(now.Unix()) >= exp+30 || !okNbf || !okIat || float64(now.Unix()) < nbf-30 || float64(now.Unix()) < iat-30:
		t.Fatalf("accepted a token outside its lifetime or without nbf/iat: %q", payload)
	case cnf == nil || cnf["x5t#S256"] != verify.Thumbprint(peer):
		t.Fatalf("accepted a token not bound to the caller: %q", payload)
	}
}

func loadVectors(tb testing.TB) vectors {
	data, err := os.ReadFile(vectorsFile)
	if err != nil {
		tb.Fatalf("the shared vectors: %v", err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		tb.Fatal(err)
	}
	return v
}

func vectorPeer(tb testing.TB, v vectors) *x509.Certificate {
	der, err := base64.StdEncoding.DecodeString(v.Cases[0].PeerCertificate)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}
