package integration

import (
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lanyard-dev/lanyard/clients/go/identity"
	"github.com/lanyard-dev/lanyard/clients/go/retry"
)

func TestBootstrapWithPinnedRoot(t *testing.T) {
	s := needServer(t)
	ctx := ctxFor(t)
	id := newID(s, "pinned")
	token, err := s.Enroll(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	src, err := identity.Start(ctx, identity.Config{Server: s.GRPCAddr, RootFingerprint: s.RootFingerprint, JoinToken: token})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st := src.Status()
	if st.ID != id || st.Serial == "" || !st.NotAfter.After(time.Now()) {
		t.Fatalf("unexpected status %+v", st)
	}
	// go-spiffe accepts the issued certificate as an X.509-SVID against the served roots.
	svid, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	gotID, _, err := x509svid.Verify(svid.Certificates, src)
	if err != nil || gotID != id {
		t.Fatalf("go-spiffe x509svid.Verify: %v (id %s)", err, gotID)
	}
}

func TestBootstrapRefusals(t *testing.T) {
	s := needServer(t)
	ctx := ctxFor(t)
	id := newID(s, "refused")
	token, err := s.Enroll(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	wrongPin := "sha256:" + strings.Repeat("ab", 32)
	cases := []struct {
		name string
		cfg  identity.Config
		want string
	}{
		{"no server", identity.Config{BundleFile: s.BundleFile, JoinToken: token}, "the Lanyard server address is required"},
		{"no token", identity.Config{Server: s.GRPCAddr, BundleFile: s.BundleFile}, "a join token is required"},
		{"both trust anchors", identity.Config{Server: s.GRPCAddr, BundleFile: s.BundleFile, RootFingerprint: s.RootFingerprint, JoinToken: token}, "exactly one of a bundle file and a root fingerprint"},
		{"malformed pin", identity.Config{Server: s.GRPCAddr, RootFingerprint: "md5:00", JoinToken: token}, "must look like sha256:<64 hex digits>"},
		{"wrong pin", identity.Config{Server: s.GRPCAddr, RootFingerprint: wrongPin, JoinToken: token}, "no root in the server's trust bundle matches the pinned fingerprint"},
		{"bad join token", identity.Config{Server: s.GRPCAddr, BundleFile: s.BundleFile, JoinToken: "not-a-real-token"}, "bootstrap with the join token was refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := identity.Start(ctx, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatal("the error quotes the join token")
			}
		})
	}
	// A refused bootstrap is a refusal, not something to retry.
	_, err = identity.Start(ctx, identity.Config{Server: s.GRPCAddr, BundleFile: s.BundleFile, JoinToken: "not-a-real-token"})
	if retry.IsTransient(err) {
		t.Fatalf("a refused join token must not be transient: %v", err)
	}
	if c := status.Code(errors.Unwrap(err)); c == codes.OK || c == codes.Unknown {
		t.Fatalf("want a gRPC status inside, got %v", err)
	}
	// The token was not spent by the refusals above: it still bootstraps.
	src, err := identity.Start(ctx, identity.Config{Server: s.GRPCAddr, BundleFile: s.BundleFile, JoinToken: token})
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	// And only once.
	if _, err := identity.Start(ctx, identity.Config{Server: s.GRPCAddr, BundleFile: s.BundleFile, JoinToken: token}); err == nil {
		t.Fatal("a join token bootstrapped twice")
	}
}

// TestRenewalKeepsServingWithoutRestart: a TLS server built once from ServerTLSConfig presents the
// renewed certificate after renewal, and clients keep connecting.
func TestRenewalKeepsServingWithoutRestart(t *testing.T) {
	srv := workload(t, "renew", 20*time.Second) // lifetime 22 s with the 2 s backdate: renews ~9 s in
	cli := workload(t, "renewclient", 0)
	first := srv.SVID()

	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.ServerTLSConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) { defer c.Close(); c.(*tls.Conn).Handshake(); c.Write([]byte("x")) }(c)
		}
	}()
	peerSerial := func() string {
		t.Helper()
		c, err := tls.Dial("tcp", ln.Addr().String(), cli.ClientTLSConfig(identity.AuthorizeID(srv.SVID().ID)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
	}
	if got := peerSerial(); got != first.Serial {
		t.Fatalf("served %s, want %s", got, first.Serial)
	}
	deadline := time.Now().Add(30 * time.Second)
	for srv.Status().Renewals == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no renewal; status %+v", srv.Status())
		}
		time.Sleep(200 * time.Millisecond)
	}
	renewed := srv.SVID()
	if renewed.Serial == first.Serial || renewed.ID != first.ID {
		t.Fatalf("renewal gave %s %s after %s %s", renewed.ID, renewed.Serial, first.ID, first.Serial)
	}
	if renewed.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(first.Leaf.PublicKey) {
		t.Fatal("renewal reused the key")
	}
	if got := peerSerial(); got != renewed.Serial {
		t.Fatalf("after renewal served %s, want %s", got, renewed.Serial)
	}
	if st := srv.Status(); st.LastRenewalError != "" {
		t.Fatalf("renewal error recorded: %s", st.LastRenewalError)
	}
}

func TestClientRefusesPeerOutsideAuthorization(t *testing.T) {
	a := workload(t, "authz-a", 0)
	b := workload(t, "authz-b", 0)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", a.ServerTLSConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); c.(*tls.Conn).Handshake() }()
		}
	}()
	_, err = tls.Dial("tcp", ln.Addr().String(), b.ClientTLSConfig(identity.AuthorizeID(b.SVID().ID)))
	if err == nil || !strings.Contains(err.Error(), "is not the expected "+b.SVID().ID.String()) {
		t.Fatalf("want a refusal naming the expected ID, got %v", err)
	}
	// A client without a certificate is refused by the server.
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate was served")
	}
}

// TestGoSpiffeReadsTheBundleDocument: go-spiffe's spiffebundle parses /bundle and its roots
// verify the certificates Lanyard issues.
func TestGoSpiffeReadsTheBundleDocument(t *testing.T) {
	s := needServer(t)
	src := workload(t, "bundle", 0)
	b := fetchSpiffeBundle(t, s.HTTPURL+"/bundle", src.TrustDomain())
	if len(b.X509Authorities()) == 0 || len(b.JWTAuthorities()) == 0 {
		t.Fatalf("bundle without authorities: %d x509, %d jwt", len(b.X509Authorities()), len(b.JWTAuthorities()))
	}
	if hint, ok := b.RefreshHint(); !ok || hint <= 0 {
		t.Fatalf("no refresh hint: %v %v", hint, ok)
	}
	svid, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := x509svid.Verify(svid.Certificates, b)
	if err != nil || id != src.SVID().ID {
		t.Fatalf("go-spiffe x509svid.Verify against /bundle: %v (%s)", err, id)
	}
}

func fetchSpiffeBundle(t *testing.T, url string, td spiffeid.TrustDomain) *spiffebundle.Bundle {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	b, err := spiffebundle.Parse(td, body)
	if err != nil {
		t.Fatalf("go-spiffe spiffebundle.Parse: %v", err)
	}
	return b
}
