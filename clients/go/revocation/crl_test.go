package revocation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lanyard-dev/lanyard/clients/go/revocation"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{cert, key}
}

func (ca testCA) crl(t *testing.T, nextUpdate time.Time, serials ...int64) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: nextUpdate, RevokedCertificateEntries: entries},
		ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// downConn is a connection to a port nobody listens on: the stream is down from the start.
func downConn(t *testing.T) conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return conn{cc}
}

func TestWhileTheStreamIsDownTheSignedCRLsAreRefused(t *testing.T) {
	ca := newCA(t, "issuing CA")
	impostor := newCA(t, "issuing CA") // the same name, another key
	crls := map[string][]byte{
		"/crl/good":    ca.crl(t, time.Now().Add(time.Hour), 0xabc1, 0x0f00),
		"/crl/forged":  impostor.crl(t, time.Now().Add(time.Hour), 0xdead),
		"/crl/stale":   ca.crl(t, time.Now().Add(-time.Second), 0xbeef),
		"/crl/garbage": []byte("not a CRL"),
	}
	var fetches atomic.Int32
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		der, ok := crls[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(der)
	}))
	defer web.Close()
	urls := []string{web.URL + "/crl/good", web.URL + "/crl/forged", web.URL + "/crl/stale", web.URL + "/crl/garbage",
		web.URL + "/crl/missing"}

	f := revocation.NewFollower(downConn(t), revocation.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		revocation.WithCRLFallback(func() []string { return urls }, func() []*x509.Certificate { return []*x509.Certificate{ca.cert} }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := f.Revoked("", "", "abc1"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the CRL's serial is not refused after %d fetches", fetches.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if f.Connected() {
		t.Fatal("the stream is up; this test is about the fallback")
	}
	if what, ok := f.Revoked("", "", "0F00"); !ok || !strings.Contains(what, "on the CRL") {
		t.Fatalf("a listed serial written with a leading zero and upper case: %q %v", what, ok)
	}
	for _, serial := range []string{"dead", "beef", "abc2"} {
		if what, ok := f.Revoked("", "", serial); ok {
			t.Fatalf("serial %s is refused (%s), but only a fresh CRL signed by the issuing CA counts", serial, what)
		}
	}
}
