package cache

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
	"testing"
	"time"
)

// A save cut short between its renames (new key in place, old certificate still there) leaves a
// pair that loads, however often it happens before a save completes.
func TestASaveCutShortLeavesTheOldCertificateWithItsKey(t *testing.T) {
	dir := t.TempDir()
	oldKey, oldCert := pairPEM(t, "old")
	if err := writePair(dir, oldKey, oldCert); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"new-1", "new-2"} {
		newKey, _ := pairPEM(t, name)
		// writePair's first half: the paired key is kept, the new key is renamed in, then the crash.
		if err := keepPairedKey(dir); err != nil {
			t.Fatal(err)
		}
		if err := writeFile(filepath.Join(dir, keyFile), newKey, 0o600); err != nil {
			t.Fatal(err)
		}
		pair, err := loadKeyPair(dir)
		if err != nil {
			t.Fatalf("after a save of %s cut short: %v", name, err)
		}
		if leaf, _ := x509.ParseCertificate(pair.Certificate[0]); leaf.Subject.CommonName != "old" {
			t.Fatalf("loaded %s, want the old certificate", leaf.Subject.CommonName)
		}
	}
	newKey, newCert := pairPEM(t, "new-3")
	if err := writePair(dir, newKey, newCert); err != nil {
		t.Fatal(err)
	}
	pair, err := loadKeyPair(dir)
	if err != nil {
		t.Fatal(err)
	}
	if leaf, _ := x509.ParseCertificate(pair.Certificate[0]); leaf.Subject.CommonName != "new-3" {
		t.Fatalf("loaded %s, want new-3", leaf.Subject.CommonName)
	}
	if _, err := os.Stat(filepath.Join(dir, prevKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("%s is left after a complete save: %v", prevKeyFile, err)
	}
	if info, err := os.Stat(filepath.Join(dir, keyFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key mode: %v %v", info, err)
	}
}

func pairPEM(t *testing.T, cn string) (keyPEM, certPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
