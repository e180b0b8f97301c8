package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// A dev server rewrites its admin credential (key.pem, then cert.pem, each renamed into place)
// while commands read it: no read may pair one credential's certificate with another's key.
func TestACredentialReadWhileItIsRewrittenIsNeverMismatched(t *testing.T) {
	dir := t.TempDir()
	type files struct{ cert, key []byte }
	var both [2]files
	for i := range both {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		template := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: "c"},
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		both[i] = files{pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})}
	}
	replace := func(name string, data []byte) {
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			panic(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			panic(err)
		}
	}
	replace(keyFile, both[0].key)
	replace(certFile, both[0].cert)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; !stop.Load(); i++ {
			replace(keyFile, both[i%2].key)
			replace(certFile, both[i%2].cert)
			time.Sleep(time.Millisecond)
		}
	}()
	reads := 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); reads++ {
		if _, err := loadCredential(dir); err != nil {
			stop.Store(true)
			<-done
			t.Fatalf("read %d: %v", reads, err)
		}
	}
	stop.Store(true)
	<-done
	if reads < 100 {
		t.Fatalf("only %d reads", reads)
	}
}

// A rewrite replaces every file: the key is 0600 from its creation, and nothing is left beside them.
func TestACredentialRewriteLeavesTheNewFilesOnlyWithTheKeyOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "credential")
	var last *x509.Certificate
	for i := 1; i <= 2; i++ {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		template := &x509.Certificate{SerialNumber: big.NewInt(int64(i)), Subject: pkix.Name{CommonName: "c"},
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		if last, err = x509.ParseCertificate(der); err != nil {
			t.Fatal(err)
		}
		if err := writeCredential(dir, key, []*x509.Certificate{last}, []*x509.Certificate{last}); err != nil {
			t.Fatal(err)
		}
	}
	read, err := loadCredential(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !read.leaf.Equal(last) {
		t.Fatal("the certificate read is not the one written last")
	}
	if info, err := os.Stat(filepath.Join(dir, keyFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem: %v, %v", info.Mode(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 {
		t.Fatalf("the directory holds %v, not only the three files", names)
	}
}
