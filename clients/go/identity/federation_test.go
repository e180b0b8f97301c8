package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// testCA is a root that signs X.509-SVIDs of one trust domain.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, td string) testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse("spiffe://" + td)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: td + " root"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, URIs: []*url.URL{u}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert: cert, key: key}
}

func (ca testCA) svid(t *testing.T, id string) [][]byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return ca.svidFor(t, id, &key.PublicKey)
}

// svidFor is an X.509-SVID for id on key.
func (ca testCA) svidFor(t *testing.T, id string, key *ecdsa.PublicKey) [][]byte {
	t.Helper()
	u, _ := url.Parse(id)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Minute),
		NotAfter: time.Now().Add(30 * time.Minute), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, URIs: []*url.URL{u}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{der}
}

// A peer from a federated trust domain is verified against that domain's roots, and accepted only
// where the authorizer allows its trust domain; a domain Lanyard does not federate with never is.
func TestAFederatedPeerIsAcceptedOnlyWhereTheAuthorizerAllowsItsTrustDomain(t *testing.T) {
	a, b, c := newTestCA(t, "a.test"), newTestCA(t, "b.test"), newTestCA(t, "c.test")
	tdA, tdB, tdC := spiffeid.RequireTrustDomainFromString("a.test"), spiffeid.RequireTrustDomainFromString("b.test"),
		spiffeid.RequireTrustDomainFromString("c.test")
	s := &Source{td: tdA, now: time.Now}
	s.setAllRoots([]*x509.Certificate{a.cert}, map[spiffeid.TrustDomain][]*x509.Certificate{tdB: {b.cert}}, 1)

	fromB := b.svid(t, "spiffe://b.test/ns/shop/sa/api")
	cases := []struct {
		name      string
		authorize Authorizer
		peer      [][]byte
		want      string // empty: accepted
	}{
		{"own domain, default authorizer", nil, a.svid(t, "spiffe://a.test/ns/x/sa/y"), ""},
		{"federated domain, default authorizer (own domain only)", nil, fromB, "is not in trust domain a.test"},
		{"federated domain the authorizer allows", AuthorizeMemberOfAny(tdA, tdB), fromB, ""},
		{"federated ID the authorizer names", AuthorizeID(spiffeid.RequireFromString("spiffe://b.test/ns/shop/sa/api")), fromB, ""},
		{"a domain Lanyard does not federate with", AuthorizeMemberOfAny(tdA, tdB, tdC), c.svid(t, "spiffe://c.test/x"),
			"which Lanyard does not federate with"},
		{"b.test ID signed by another domain's CA", AuthorizeMemberOfAny(tdB), c.svid(t, "spiffe://b.test/forged"),
			"the peer's certificate"},
		{"a.test ID signed by the federated CA", AuthorizeMemberOfAny(tdA, tdB), b.svid(t, "spiffe://a.test/forged"),
			"the peer's certificate"},
	}
	for _, tc := range cases {
		err := s.verifyPeer(tc.authorize)(tc.peer, nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: want an error containing %q, got %v", tc.name, tc.want, err)
		}
	}
	if bundle, err := s.GetX509BundleForTrustDomain(tdB); err != nil || len(bundle.X509Authorities()) != 1 {
		t.Errorf("the federated bundle of b.test: %v %v", bundle, err)
	}
	if _, err := s.GetX509BundleForTrustDomain(tdC); err == nil {
		t.Error("a bundle for c.test, which is not federated")
	}
}

// revokedSet is what a revocation.Follower answers, for the handshake test.
type revokedSet map[string]string // serial or SPIFFE ID -> what is revoked

// Loaded: the set is held in memory from the start.
func (revokedSet) Loaded() <-chan struct{} { return loaded }

// loaded is a closed channel: a set held in memory from the start is loaded.
var loaded = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// notLoaded is a follower that has not caught up with the stream yet.
type notLoaded struct{}

func (notLoaded) Revoked(string, string, string) (string, bool) { return "", false }
func (notLoaded) Loaded() <-chan struct{}                       { return make(chan struct{}) }

// Until its revocations are loaded, a handshake cannot tell a revoked peer: it refuses every peer.
func TestAHandshakeRefusesEveryPeerUntilTheRevocationsAreLoaded(t *testing.T) {
	a := newTestCA(t, "a.test")
	s := &Source{td: spiffeid.RequireTrustDomainFromString("a.test"), now: time.Now}
	s.setAllRoots([]*x509.Certificate{a.cert}, nil, 1)
	peer := a.svid(t, "spiffe://a.test/ledger")
	s.RefuseRevoked(notLoaded{})
	if err := s.verifyPeer(nil)(peer, nil); err == nil || !strings.Contains(err.Error(), "revocations are not loaded yet") {
		t.Fatalf("want a refusal naming revocations not loaded, got %v", err)
	}
	s.RefuseRevoked(revokedSet{})
	if err := s.verifyPeer(nil)(peer, nil); err != nil {
		t.Fatalf("refused once loaded: %v", err)
	}
}

func (r revokedSet) Revoked(_, spiffeID, serial string) (string, bool) {
	if what, ok := r[spiffeID]; ok {
		return what, true
	}
	what, ok := r[serial]
	return what, ok
}

// With RefuseRevoked, a handshake refuses a peer whose certificate or identity is revoked, also
// one of a federated trust domain (Lanyard passes its revocations on).
func TestAHandshakeRefusesARevokedPeerOnceRefuseRevokedIsSet(t *testing.T) {
	a, b := newTestCA(t, "a.test"), newTestCA(t, "b.test")
	tdA, tdB := spiffeid.RequireTrustDomainFromString("a.test"), spiffeid.RequireTrustDomainFromString("b.test")
	s := &Source{td: tdA, now: time.Now}
	s.setAllRoots([]*x509.Certificate{a.cert}, map[spiffeid.TrustDomain][]*x509.Certificate{tdB: {b.cert}}, 1)
	allow := AuthorizeMemberOfAny(tdA, tdB)
	peer := b.svid(t, "spiffe://b.test/ledger") // serial 2
	verify := s.verifyPeer(allow)
	if err := verify(peer, nil); err != nil {
		t.Fatalf("refused before anything was revoked: %v", err)
	}
	s.RefuseRevoked(revokedSet{"2": "certificate 2"})
	if err := verify(peer, nil); err == nil || !strings.Contains(err.Error(), "certificate 2 is revoked") {
		t.Fatalf("a revoked certificate passed the handshake check made before RefuseRevoked: %v", err)
	}
	s.RefuseRevoked(revokedSet{"spiffe://b.test/ledger": "identity spiffe://b.test/ledger"})
	if err := s.verifyPeer(allow)(peer, nil); err == nil || !strings.Contains(err.Error(), "is revoked") {
		t.Fatalf("a revoked identity passed: %v", err)
	}
	s.RefuseRevoked(revokedSet{})
	if err := verify(peer, nil); err != nil {
		t.Fatalf("refused after the revocation was lifted: %v", err)
	}
}
