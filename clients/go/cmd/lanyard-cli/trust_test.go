package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testCert(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func testRoot(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	return testCert(t, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
}

// testLeaf is an X.509-SVID for id signed by the root, usable by a TLS server or client.
func testLeaf(t *testing.T, id string, root *x509.Certificate, rootKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	return testLeafNaming(t, []string{id}, root, rootKey)
}

// testLeafNaming is testLeaf with a URI SAN for each of ids.
func testLeafNaming(t *testing.T, ids []string, root *x509.Certificate, rootKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	var uris []*url.URL
	for _, id := range ids {
		u, err := url.Parse(id)
		if err != nil {
			t.Fatal(err)
		}
		uris = append(uris, u)
	}
	return testCert(t, &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), URIs: uris,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}, root, rootKey)
}

// Only spiffe://TD/lanyard/server is the server: a workload registered at a path that merely ends in
// /lanyard/server (only /lanyard/... is reserved) is not, whether or not the trust domain is known.
func TestOnlyTheExactServerIDIsTheServer(t *testing.T) {
	root, rootKey := testRoot(t)
	for _, c := range []struct {
		id, trustDomain string
		accepted        bool
	}{
		{"spiffe://lanyard.local/lanyard/server", "", true},
		{"spiffe://lanyard.local/lanyard/server", "lanyard.local", true},
		{"spiffe://lanyard.local/ns/evil/lanyard/server", "", false},
		{"spiffe://lanyard.local/ns/evil/lanyard/server", "lanyard.local", false},
		{"spiffe://lanyard.local/x/lanyard/server", "", false},
		{"spiffe://lanyard.local/lanyard/server/x", "", false},
		{"spiffe://other.test/lanyard/server", "lanyard.local", false},
	} {
		leaf, _ := testLeaf(t, c.id, root, rootKey)
		st := serverTrust{roots: []*x509.Certificate{root}, trustDomain: c.trustDomain, rootsSource: "the roots", now: time.Now}
		r := st.check([]*x509.Certificate{leaf})
		if c.accepted != (r == nil) {
			t.Errorf("%s (trust domain %q): accepted %v, want %v (%v)", c.id, c.trustDomain, r == nil, c.accepted, r)
		}
		if r != nil && (!r.wrongServer || r.message != "the server's certificate names "+c.id+", not spiffe://"+
			map[bool]string{true: "<trust domain>", false: c.trustDomain}[c.trustDomain == ""]+
			"/lanyard/server: this is not the Lanyard server") {
			t.Errorf("%s: refused with %q", c.id, r.message)
		}
	}
}

// A certificate naming the server's ID among other URIs is not an X.509-SVID (exactly one URI SAN),
// so not the server's, whether the other URI is a SPIFFE ID or not, and whether or not the trust
// domain is known; the words are ServerTrustTest's (Java command line).
func TestACertificateWithTwoURIsIsNotTheServer(t *testing.T) {
	root, rootKey := testRoot(t)
	for _, ids := range [][]string{
		{"spiffe://lanyard.local/lanyard/server", "spiffe://lanyard.local/ns/shop/sa/api"},
		{"spiffe://lanyard.local/ns/shop/sa/api", "spiffe://lanyard.local/lanyard/server"},
		{"spiffe://lanyard.local/lanyard/server", "https://lanyard.local/"},
	} {
		leaf, _ := testLeafNaming(t, ids, root, rootKey)
		for _, td := range []string{"", "lanyard.local"} {
			st := serverTrust{roots: []*x509.Certificate{root}, trustDomain: td, rootsSource: "the roots", now: time.Now}
			r := st.check([]*x509.Certificate{leaf})
			want := "the server's certificate names 2 URIs, where an X.509-SVID names exactly one: this is not the Lanyard server"
			if r == nil || !r.wrongServer || r.message != want {
				t.Errorf("%v (trust domain %q): %v, want refused with %q", ids, td, r, want)
			}
		}
	}
}

// `cert issue` (no trust domain known yet) against a TLS server whose certificate, from the trusted
// roots, names spiffe://TD/ns/evil/lanyard/server: refused in the handshake, and the join token is
// never sent.
func TestCertIssueRefusesAWorkloadPosingAsTheServer(t *testing.T) {
	root, rootKey := testRoot(t)
	leaf, key := testLeaf(t, "spiffe://lanyard.local/ns/evil/lanyard/server", root, rootKey)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key}},
		NextProtos:   []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan int, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				received <- int(n)
			}()
		}
	}()
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	r := cli(t, map[string]string{"LANYARD_JOIN_TOKEN": "secret-join-token"}, "cert", "issue", "--server", addr,
		"--bundle", bundle, "--out", filepath.Join(dir, "creds"))
	want := "error: " + addr + ": TLS: the server's certificate names spiffe://lanyard.local/ns/evil/lanyard/server, not" +
		" spiffe://<trust domain>/lanyard/server: this is not the Lanyard server\n"
	if r.code != exitConnection || !strings.HasPrefix(r.err, want) {
		t.Fatalf("cert issue against a workload posing as the server: %s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "creds")); !os.IsNotExist(err) {
		t.Errorf("a credential directory was made: %v", err)
	}
	ln.Close()
	for {
		select {
		case n := <-received:
			if n > 0 {
				t.Fatalf("the impostor received %d bytes of application data", n)
			}
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}
