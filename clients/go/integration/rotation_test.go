package integration

import (
	"testing"
	"time"

	"github.com/lanyard-dev/lanyard/clients/go/jwks"
	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/token"
	"github.com/lanyard-dev/lanyard/clients/go/verify"
)

// TestKeyRotationNeedsNoRestart: a rotation step (a new JWT key prepared) changes the trust bundle,
// which the Source picks up from WatchTrustBundle; the JWKS cache, asked for the new kid, refetches
// and finds it, while tokens of the active key keep verifying.
func TestKeyRotationNeedsNoRestart(t *testing.T) {
	f := startPayments(t)
	ctx := ctxFor(t)
	keys, err := jwks.NewCache(f.server.JWKSURL(), jwks.AllowPlainHTTP(), jwks.WithMinRefetch(jwks.MinInterval))
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(verify.Config{Issuer: f.server.Issuer(), Audience: "payments", Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	peer := f.caller.SVID().Leaf
	tok, err := token.NewFetcher(f.caller).Token(ctx, f.caller.SVID().Leaf, "payments", []string{"payments.read"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tok, peer, []string{"payments.read"}); err != nil {
		t.Fatal(err)
	}
	firstFetchDone := time.Now()
	seq := f.service.Status().BundleSequence
	rotated, err := lanyardv1.NewKeyServiceClient(f.server.Admin()).RotateKeys(ctx,
		&lanyardv1.RotateKeysRequest{Kind: lanyardv1.KeyKind_KEY_KIND_JWT})
	if err != nil {
		t.Fatal(err)
	}
	var prepared string
	for _, k := range rotated.GetKeys() {
		if k.GetStatus() == "PREPARED" {
			prepared = k.GetKeyId()
		}
	}
	if prepared == "" {
		t.Fatalf("no prepared key after a rotation step: %v", rotated.GetKeys())
	}
	for deadline := time.Now().Add(20 * time.Second); f.service.Status().BundleSequence == seq; {
		if time.Now().After(deadline) {
			t.Fatalf("the trust bundle stayed at sequence %d after a rotation", seq)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The cache refetches at most once per MinInterval: the refetch for the new kid is due then.
	time.Sleep(time.Until(firstFetchDone.Add(jwks.MinInterval)))
	fetches := keys.Fetches()
	if _, err := keys.Key(ctx, prepared); err != nil {
		t.Fatalf("the prepared key %s: %v", prepared, err)
	}
	if keys.Fetches() != fetches+1 {
		t.Fatalf("%d fetches, want %d: an unknown kid must trigger one refetch", keys.Fetches(), fetches+1)
	}
	if _, err := v.Verify(ctx, tok, peer, []string{"payments.read"}); err != nil {
		t.Fatalf("a token of the active key after the rotation step: %v", err)
	}
}
