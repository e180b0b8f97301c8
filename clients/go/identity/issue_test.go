package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// Roots may vouch for several trust domains: what a Lanyard server of a.test issues for b.test is refused,
// at bootstrap (the trust domain is the one of the server verifyServer accepted) as at renewal.
func TestAnSvidOutsideTheServersTrustDomainIsRefused(t *testing.T) {
	ca := newTestCA(t, "a.test")
	s := &Source{now: time.Now}
	s.setRoots([]*x509.Certificate{ca.cert}, 0)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issued := func(id string) *lanyardv1.CertificateResponse {
		return &lanyardv1.CertificateResponse{SpiffeId: id, Certificate: ca.svidFor(t, id, &key.PublicKey)[0],
			TrustBundle: [][]byte{ca.cert.Raw}}
	}
	foreign := "spiffe://b.test/ns/shop/sa/frontend"
	want := `identity: the Lanyard server of trust domain "a.test" issued a certificate for ` + foreign +
		", which is outside its trust domain; it is not used"

	if _, err := s.accept(issued(foreign), key); err == nil || !strings.Contains(err.Error(), "outside its trust domain") {
		t.Fatalf("no server verified yet: %v", err)
	}
	if err := s.verifyServer(ca.svid(t, "spiffe://a.test/lanyard/server"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.accept(issued(foreign), key); err == nil || err.Error() != want {
		t.Fatalf("bootstrap: got %v, want %q", err, want)
	}
	if _, err := s.accept(issued("spiffe://a.test/ns/shop/sa/frontend"), key); err != nil {
		t.Fatalf("an SVID of the server's trust domain: %v", err)
	}
	if _, err := s.accept(issued(foreign), key); err == nil || err.Error() != want {
		t.Fatalf("renewal: got %v, want %q", err, want)
	}
}
