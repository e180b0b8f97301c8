package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
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

func writeTestCredential(t *testing.T, dir string, root *x509.Certificate, rootKey *ecdsa.PrivateKey) (*x509.Certificate, error) {
	t.Helper()
	leaf, key := testLeaf(t, "spiffe://lanyard.local/ns/a/sa/b", root, rootKey)
	return leaf, writeCredential(dir, key, []*x509.Certificate{leaf}, []*x509.Certificate{root})
}

func loadsAs(t *testing.T, dir string, want *x509.Certificate, when string) {
	t.Helper()
	c, err := loadCredential(dir)
	if err != nil {
		t.Fatalf("%s: the credential does not load: %v", when, err)
	}
	if !c.leaf.Equal(want) {
		t.Fatalf("%s: the credential loaded is serial %v, not %v", when, c.leaf.SerialNumber, want.SerialNumber)
	}
}

// A renewal whose new certificate cannot be written (a full disk) changes nothing: every file is
// written before any is renamed into place.
func TestARenewalThatCannotWriteItsCertificateLeavesTheOldCredential(t *testing.T) {
	root, rootKey := testRoot(t)
	dir := t.TempDir()
	old, err := writeTestCredential(t, dir, root, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".cert.pem.tmp", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := writeTestCredential(t, dir, root, rootKey); err == nil {
		t.Fatal("the write succeeded")
	}
	if err := os.RemoveAll(filepath.Join(dir, ".cert.pem.tmp")); err != nil {
		t.Fatal(err)
	}
	loadsAs(t, dir, old, "after the failed renewal")
}

// A renewal cut short between its renames (here the bundle's fails: a directory stands at
// bundle.pem) leaves the new key beside the old certificate: the old certificate's key is still
// there, the credential loads as the old one, and the next renewal heals it.
func TestARenewalCutShortBetweenItsRenamesLeavesACredentialThatLoadsAndRenews(t *testing.T) {
	root, rootKey := testRoot(t)
	dir := t.TempDir()
	old, err := writeTestCredential(t, dir, root, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, bundleFile)
	if err := os.Remove(bundle); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(bundle, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := writeTestCredential(t, dir, root, rootKey); err == nil {
		t.Fatal("the write succeeded")
	}
	if err := os.RemoveAll(bundle); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".cert.pem.tmp")); !os.IsNotExist(err) {
		t.Errorf("the failed write left its certificate's temporary file: %v", err)
	}
	certPEM, _ := os.ReadFile(filepath.Join(dir, certFile))
	keyPEM, _ := os.ReadFile(filepath.Join(dir, keyFile))
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err == nil {
		t.Fatal("the simulation did not stop between the key's rename and the certificate's")
	}
	loadsAs(t, dir, old, "after the renewal cut short")
	renewed, err := writeTestCredential(t, dir, root, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	loadsAs(t, dir, renewed, "after the next renewal")
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "bundle.pem cert.pem key.pem" {
		t.Fatalf("the directory holds %v", names)
	}
}

// A credential directory is made 0700, whatever the umask.
func TestACredentialDirectoryIsMadeOwnerOnly(t *testing.T) {
	root, rootKey := testRoot(t)
	dir := filepath.Join(t.TempDir(), "a", "creds")
	if _, err := writeTestCredential(t, dir, root, rootKey); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("the directory made: %v, %v", info.Mode(), err)
	}
}

// A directory group or others may write in is refused, for writing and reading: they could replace
// bundle.pem, the roots a renewal trusts.
func TestACredentialDirectoryOthersMayWriteInIsRefused(t *testing.T) {
	root, rootKey := testRoot(t)
	dir := filepath.Join(t.TempDir(), "creds")
	if _, err := writeTestCredential(t, dir, root, rootKey); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	want := "error: " + dir + ": the directory has mode 0777: group or others could replace the key or the trust" +
		" bundle in it\nhint: chmod go-w " + dir + "\n"
	if _, err := writeTestCredential(t, dir, root, rootKey); err == nil || err.Error() == "" {
		t.Fatal("written into a directory others may write in")
	}
	for _, args := range [][]string{
		{"cert", "renew", "--in", dir + "/", "--server", "127.0.0.1:1"},
		{"cert", "issue", "--out", dir, "--bundle", filepath.Join(dir, bundleFile), "--server", "127.0.0.1:1"},
	} {
		r := cli(t, map[string]string{"LANYARD_JOIN_TOKEN": "t"}, args...)
		if r.code != exitFailed || r.err != want {
			t.Errorf("%q: %s", args, r)
		}
	}
}

// A directory another user owns is refused (needs root to make one).
func TestACredentialDirectoryAnotherUserOwnsIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("LANYARD_SKIP_UID_TESTS") == "true" {
			t.Skip("LANYARD_SKIP_UID_TESTS=true: directories of other uids are not tested")
		}
		t.Fatal("this test makes a directory another uid owns and needs root; set LANYARD_SKIP_UID_TESTS=true to skip it on purpose")
	}
	root, rootKey := testRoot(t)
	dir := filepath.Join(t.TempDir(), "creds")
	if _, err := writeTestCredential(t, dir, root, rootKey); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	err := requirePrivate(dir)
	if err == nil || err.Error() != dir+": the directory is owned by uid 65534, not by uid 0 that runs this command:"+
		" that user could replace the key or the trust bundle in it" {
		t.Fatalf("refusal: %v", err)
	}
	if _, err := writeTestCredential(t, dir, root, rootKey); err == nil {
		t.Fatal("written into a directory another user owns")
	}
	r := cli(t, nil, "token", "issue", "--in", dir, "--audience", "a", "--scope", "b", "--server", "127.0.0.1:1")
	if r.code != exitFailed || !strings.Contains(r.err, "owned by uid 65534") {
		t.Fatalf("token issue: %s", r)
	}
}

// A write cut short by a crash leaves its staged files, the key's a copy of the secret: the next load
// or write removes them once stale, and nothing else (a younger one may be a write under way).
func TestALoadOrAWriteRemovesStaleTemporariesOfOurOwnNamingOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "creds")
	root, rootKey := testRoot(t)
	if _, err := writeTestCredential(t, dir, root, rootKey); err != nil {
		t.Fatal(err)
	}
	ours := []string{".key.pem.1f3a9c0d2b4e6f70.tmp", ".cert.pem.7.tmp", ".bundle.pem.tmp", ".key.pem.prev.abc.tmp",
		".key.pem.tmp"}
	others := []string{".notes.tmp", ".key.pem.XYZ.tmp", "key.pem.1234.tmp", ".key.pem.1234.tmp.bak", ".id.pem.12.tmp"}
	stale := time.Now().Add(-staleAfter - time.Minute)
	for _, operation := range []string{"load", "write"} {
		for _, name := range append(append([]string{}, ours...), others...) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte{1}, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(filepath.Join(dir, name), stale, stale); err != nil {
				t.Fatal(err)
			}
		}
		young := filepath.Join(dir, ".key.pem.0123.tmp")
		if err := os.WriteFile(young, []byte{1}, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, ".cert.pem.99.tmp"), 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(filepath.Join(dir, ".cert.pem.99.tmp"), stale, stale)

		if operation == "load" {
			if _, err := loadCredential(dir); err != nil {
				t.Fatal(err)
			}
		} else if _, err := writeTestCredential(t, dir, root, rootKey); err != nil {
			t.Fatal(err)
		}

		for _, name := range ours {
			if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
				t.Errorf("%s is still there after a %s", name, operation)
			}
		}
		for _, name := range append(others, ".key.pem.0123.tmp", ".cert.pem.99.tmp") {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("%s is gone after a %s: %v", name, operation, err)
			}
		}
	}
}

// Each directory level created is made durable in its parent, not only the last one; levels already
// there are not touched.
func TestEveryNewDirectoryLevelIsSyncedInItsParent(t *testing.T) {
	base := t.TempDir()
	var synced []string
	record := func(dir string) error { synced = append(synced, dir); return nil }
	creds := filepath.Join(base, "a", "b", "creds")
	if err := mkdirAll(creds, 0o700, record); err != nil {
		t.Fatal(err)
	}
	if want := []string{base, filepath.Join(base, "a"), filepath.Join(base, "a", "b")}; strings.Join(synced, " ") != strings.Join(want, " ") {
		t.Fatalf("synced %q, want %q", synced, want)
	}
	if info, err := os.Stat(creds); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("the last level: %v %v", info, err)
	}
	synced = nil
	if err := mkdirAll(creds, 0o700, record); err != nil || len(synced) != 0 {
		t.Fatalf("an existing directory: synced %q, %v", synced, err)
	}
}
