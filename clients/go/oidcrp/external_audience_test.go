package oidcrp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lanyard-dev/lanyard/clients/go/identity"
	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

const sts = "sts.amazonaws.com"

func TestGoOidcDiscoversTheIssuerOverHttpsAndVerifiesAnRs256ExternalToken(t *testing.T) {
	if server == nil {
		t.Skip(noServe.Error())
	}
	if !strings.HasPrefix(server.Issuer(), "https://") {
		t.Fatalf("the issuer %q is not https: the dev server did not take --http-tls spiffe", server.Issuer())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	id := server.ID("/ns/ops/sa/deployer")
	joinToken, err := server.Enroll(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	src, err := identity.Start(ctx, identity.Config{Server: server.GRPCAddr, BundleFile: server.BundleFile,
		JoinToken: joinToken, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := server.ApplyPolicyProto(ctx, &lanyardv1.Policy{ExternalAudiences: []*lanyardv1.ExternalAudience{
		{Audience: sts, Algorithm: "RS256", MaxTtl: durationpb.New(15 * time.Minute), SpiffeIds: []string{"spiffe://lanyard.local/ns/ops/*"}},
		{Audience: "vault", Algorithm: "ES256", MaxTtl: durationpb.New(10 * time.Minute), SpiffeIds: []string{id.String()}},
	}}); err != nil {
		t.Fatalf("applying the policy: %v", err)
	}
	tokens := lanyardv1.NewTokenServiceClient(src.Conn())
	forSts, err := tokens.IssueToken(ctx, &lanyardv1.IssueTokenRequest{Audience: sts})
	if err != nil {
		t.Fatal(err)
	}

	// The relying party trusts the Lanyard root for HTTPS (https_spiffe), as AWS would trust a web CA.
	pem, err := os.ReadFile(server.BundleFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("no roots in the bundle file")
	}
	rpCtx := oidc.ClientContext(ctx, &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}})
	provider, err := oidc.NewProvider(rpCtx, server.Issuer())
	if err != nil {
		t.Fatalf("discovering %s: %v", server.Issuer(), err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: sts, SupportedSigningAlgs: []string{oidc.RS256}})
	verified, err := verifier.Verify(rpCtx, forSts.GetToken())
	if err != nil {
		t.Fatalf("go-oidc refused the RS256 token: %v", err)
	}
	if verified.Subject != id.String() || verified.Issuer != server.Issuer() {
		t.Fatalf("sub %q iss %q, want %s and %s", verified.Subject, verified.Issuer, id, server.Issuer())
	}
	if life := verified.Expiry.Sub(verified.IssuedAt); life > 15*time.Minute {
		t.Fatalf("lives %v, beyond the audience's max_ttl", life)
	}

	// The same relying party refuses what it must: an ES256 token where only RS256 is accepted,
	// a token for another audience, and a token whose signature was tampered with.
	forVault, err := tokens.IssueToken(ctx, &lanyardv1.IssueTokenRequest{Audience: "vault"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier.Verify(rpCtx, forVault.GetToken()); err == nil {
		t.Fatal("an ES256 token for vault passed an RS256-only STS verifier")
	}
	vault := provider.Verifier(&oidc.Config{ClientID: "vault", SupportedSigningAlgs: []string{oidc.ES256}})
	if _, err := vault.Verify(rpCtx, forVault.GetToken()); err != nil {
		t.Fatalf("the ES256 token for vault: %v", err)
	}
	if _, err := vault.Verify(rpCtx, forSts.GetToken()); err == nil {
		t.Fatal("a token for sts.amazonaws.com passed the vault verifier")
	}
	parts := strings.Split(forSts.GetToken(), ".")
	sig := []byte(parts[2])
	sig[5] ^= 1
	if _, err := verifier.Verify(rpCtx, parts[0]+"."+parts[1]+"."+string(sig)); err == nil {
		t.Fatal("a tampered signature verified")
	}
}
