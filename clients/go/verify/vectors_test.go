package verify_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lanyard-dev/lanyard/clients/go/jwks"
	"github.com/lanyard-dev/lanyard/clients/go/verify"
)

// vectorsFile is shared by the Java, Go and Rust verifiers, at the repository root.
var vectorsFile = filepath.Join("..", "..", "..", "testdata", "vectors", "verification.json")

type vectors struct {
	Description string          `json:"description"`
	Issuer      string          `json:"issuer"`
	Audience    string          `json:"audience"` // the cases' default
	JWKS        json.RawMessage `json:"jwks"`
	Cases       []struct {
		Name            string   `json:"name"`
		Token           string   `json:"token"`
		Now             int64    `json:"now"`
		Audience        string   `json:"audience"`
		SkewSeconds     *int64   `json:"skew_seconds"`
		RequiredScopes  []string `json:"required_scopes"`
		PeerCertificate string   `json:"peer_certificate"`
		Revoked         struct {
			JTIs      []string `json:"jtis"`
			SpiffeIDs []string `json:"spiffe_ids"`
			Serials   []string `json:"serials"`
		} `json:"revoked"`
		Expect string `json:"expect"`
	} `json:"cases"`
}

type listed struct{ jtis, ids, serials []string }

func (listed) Loaded() <-chan struct{} { return loaded }

func (l listed) Revoked(jti, spiffeID, serial string) (string, bool) {
	switch {
	case slices.Contains(l.jtis, jti):
		return "token " + jti, true
	case slices.Contains(l.ids, spiffeID):
		return "identity " + spiffeID, true
	case serial != "" && slices.Contains(l.serials, serial):
		return "certificate " + serial, true
	}
	return "", false
}

func TestSharedVectors(t *testing.T) {
	data, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("the shared vectors: %v", err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", vectorsFile, err)
	}
	keys, err := jwks.Parse(v.JWKS)
	if err != nil {
		t.Fatalf("the vectors' JWKS: %v", err)
	}
	if len(v.Cases) < 20 {
		t.Fatalf("the vectors file holds %d cases; the shared set has more", len(v.Cases))
	}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			var peer *x509.Certificate
			if c.PeerCertificate != "" {
				der, err := base64.StdEncoding.DecodeString(c.PeerCertificate)
				if err != nil {
					t.Fatalf("peer_certificate: %v", err)
				}
				if peer, err = x509.ParseCertificate(der); err != nil {
					t.Fatalf("peer_certificate: %v", err)
				}
			}
			audience := c.Audience
			if audience == "" {
				audience = v.Audience
			}
			skew := verify.DefaultSkew
			if c.SkewSeconds != nil {
				skew = time.Duration(*c.SkewSeconds) * time.Second
			}
			verifier, err := verify.New(verify.Config{
				Issuer: v.Issuer, Audience: audience, Keys: jwks.Static(keys), Skew: skew, NoSkew: skew == 0,
				Now:         func() time.Time { return time.Unix(c.Now, 0) },
				Revocations: listed{c.Revoked.JTIs, c.Revoked.SpiffeIDs, c.Revoked.Serials},
			})
			if err != nil {
				t.Fatal(err)
			}
			got := string(verify.OK)
			if _, err := verifier.Verify(context.Background(), c.Token, peer, c.RequiredScopes); err != nil {
				var e *verify.Error
				if !errors.As(err, &e) {
					t.Fatalf("not a *verify.Error: %v", err)
				}
				got = string(e.Class)
				t.Logf("%s", e.Reason)
			}
			if got != c.Expect {
				t.Fatalf("want %s, got %s", c.Expect, got)
			}
		})
	}
}
