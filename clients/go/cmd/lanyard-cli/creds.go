package main

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

const (
	certFile   = "cert.pem"
	keyFile    = "key.pem"
	bundleFile = "bundle.pem"
	// prevKeyFile is the key of cert.pem while a write replaces the pair (writeCredential).
	prevKeyFile = "key.pem.prev"
)

// credential is a credential directory: cert.pem (leaf, then intermediates), key.pem (PKCS#8, 0600)
// and bundle.pem (roots), as the Java CredentialDirectory writes it.
type credential struct {
	dir    string
	cert   tls.Certificate
	leaf   *x509.Certificate
	bundle []*x509.Certificate
}

// inDir is DIR/NAME as Java's Path.resolve prints it ("./creds/cert.pem" keeps its "./").
func inDir(dir, name string) string {
	if d := strings.TrimRight(dir, "/"); d != "" {
		return d + "/" + name
	}
	return "/" + name
}

// readCredential reads a credential directory, saying which file is missing and how to make one
// (tools/.../CredentialFiles.java). option names the option that named dir ("--in"); howToCreate
// the command that makes such a directory.
func readCredential(dir, option, howToCreate string) (*credential, error) {
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		problem := "no such directory"
		if err == nil {
			problem = "not a directory"
		}
		return nil, fail(option+" "+dir, problem, "it must be a credential directory (cert.pem, key.pem, bundle.pem);"+
			" create one with "+howToCreate, exitFailed)
	}
	for _, name := range []string{certFile, keyFile} {
		if info, err := os.Stat(inDir(dir, name)); err != nil || !info.Mode().IsRegular() {
			return nil, fail(option+" "+dir, "holds no "+name+", so it is not a credential directory",
				"create one with "+howToCreate, exitFailed)
		}
	}
	if err := requirePrivate(dir); err != nil {
		return nil, err
	}
	c, err := loadCredential(dir)
	if err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) && errors.Is(err, os.ErrPermission) {
			return nil, fail(pathErr.Path, "permission denied", "run as the user that owns the credential", exitFailed)
		}
		return nil, fail(option+" "+dir, "the credential cannot be read: "+err.Error(), "re-create it with "+howToCreate,
			exitFailed)
	}
	return c, nil
}

// makeOwnDirectory creates dir 0700 if it is absent, then requires it to be private (requirePrivate).
func makeOwnDirectory(dir string) error {
	if err := mkdirAll(dir, 0o700, syncDir); err != nil {
		return err
	}
	return requirePrivate(dir)
}

// mkdirAll creates dir (with perm) and whichever of its parents are missing, each made durable in its
// parent by sync: forcing only the last level's parent would leave the levels above it to be lost in a
// crash, and the files written below with them (tools/.../DurableFiles.createDirectories). A level
// another process makes meanwhile is left to it.
func mkdirAll(dir string, perm os.FileMode, sync func(dir string) error) error {
	var missing []string // deepest first
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if info, err := os.Stat(d); err == nil && info.IsDir() {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		mode := os.FileMode(0o777)
		if i == 0 {
			mode = perm
		}
		if err := os.Mkdir(missing[i], mode); err != nil {
			if errors.Is(err, os.ErrExist) {
				continue
			}
			return err
		}
		if err := sync(filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}

// temporaryName is the name of a temporary file a credential write stages: this command line's
// (.key.pem.tmp) or the Java one's (.key.pem.1f3a9c.tmp, DurableFiles); nothing else is removed as one.
var temporaryName = regexp.MustCompile(`^\.(cert\.pem|key\.pem|bundle\.pem|key\.pem\.prev)(\.[0-9a-f]{1,16})?\.tmp$`)

// staleAfter is how old a temporary file is when a crash must have left it: a write renames what it
// staged within milliseconds, and a younger one may be a write under way in another process
// (ca-server/.../CredentialDirectory.STALE_AFTER).
const staleAfter = 10 * time.Minute

// removeStaleTemporaries removes the temporary files a write cut short by a crash left in dir (a staged
// key is a copy of the secret, and nothing else would ever remove it): ours only, once stale. Called on
// every write and load; best effort, since a reader may not be allowed to write there.
func removeStaleTemporaries(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !temporaryName.MatchString(e.Name()) {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(now.Add(-staleAfter)) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// requirePrivate refuses a credential directory another user owns or may write in: that user could
// replace bundle.pem (the roots `cert renew` and every command trust the server by) or key.pem and
// cert.pem (agent/internal/securedir makes the same check of the agent's directories). Messages as
// ca-server/.../CredentialDirectory.requirePrivate.
func requirePrivate(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	where := strings.TrimRight(dir, "/")
	if where == "" {
		where = "/"
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fail(where, fmt.Sprintf("the directory is owned by uid %d, not by uid %d that runs this command: that"+
			" user could replace the key or the trust bundle in it", st.Uid, os.Geteuid()),
			"keep the credential in a directory of your own (`cert issue --out` creates one, 0700)", exitFailed)
	}
	if mode := info.Mode().Perm(); mode&0o022 != 0 {
		return fail(where, fmt.Sprintf("the directory has mode %04o: group or others could replace the key or the"+
			" trust bundle in it", mode), "chmod go-w "+where, exitFailed)
	}
	return nil
}

// pairingAttempts bounds how often a read that found another credential's key is made again.
const pairingAttempts = 20

// loadCredential reads a credential directory. A writer (this command line, a dev server rewriting
// its admin credential) replaces key.pem, then cert.pem, keeping cert.pem's key as key.pem.prev
// meanwhile: a read between the two, or after a write cut short there, pairs cert.pem with
// key.pem.prev. A read that still finds no pair (the writer finished between its reads) is made again.
func loadCredential(dir string) (*credential, error) {
	removeStaleTemporaries(dir, time.Now())
	for attempt := 1; ; attempt++ {
		c, err := loadCredentialOnce(dir)
		if err == nil || attempt == pairingAttempts || !strings.Contains(err.Error(), "does not match public key") {
			return c, err
		}
		time.Sleep(5 * time.Millisecond) // the writer's certificate follows its key
	}
}

func loadCredentialOnce(dir string) (*credential, error) {
	certPEM, err := os.ReadFile(inDir(dir, certFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(inDir(dir, keyFile))
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		prevPEM, prevErr := os.ReadFile(inDir(dir, prevKeyFile))
		if prevErr != nil {
			return nil, err
		}
		if cert, prevErr = tls.X509KeyPair(certPEM, prevPEM); prevErr != nil {
			return nil, err
		}
	}
	c := &credential{dir: dir, cert: cert, leaf: cert.Leaf}
	if c.leaf == nil {
		if c.leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	if data, err := os.ReadFile(inDir(dir, bundleFile)); err == nil {
		if c.bundle, err = pemCertificates(data); err != nil {
			return nil, fmt.Errorf("%s: %w", inDir(dir, bundleFile), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return c, nil
}

// roots are the credential's trust bundle; a credential without one cannot verify the server.
func (c *credential) roots() ([]*x509.Certificate, error) {
	if len(c.bundle) == 0 {
		return nil, fail(inDir(c.dir, bundleFile), "no trust bundle here, so the server cannot be verified",
			"copy the server's bundle.pem (the root) into "+c.dir, exitFailed)
	}
	return c.bundle, nil
}

func pemCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			return certs, nil
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("expected CERTIFICATE blocks, found %s", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
}

// requireReadable checks a file named on the command line before anything is sent
// (tools/.../LocalFile.java); what says what the file should be.
func requireReadable(file, what string) error {
	info, err := os.Stat(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		cwd, _ := os.Getwd()
		return fail(file, "no such file", "pass "+what+" (a path relative to "+cwd+" or an absolute one)", exitFailed)
	case err == nil && info.IsDir():
		return fail(file, "is a directory, not a file", "pass "+what, exitFailed)
	}
	f, err := os.Open(file)
	if err != nil {
		return fail(file, "permission denied", "run as a user that may read it", exitFailed)
	}
	return f.Close()
}

// readBundleFile reads PEM roots (--bundle).
func readBundleFile(file string) ([]*x509.Certificate, error) {
	if err := requireReadable(file, "the trust bundle: bundle.pem of a credential, or the server's /bundle.pem"); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	roots, err := pemCertificates(data)
	if err != nil || len(roots) == 0 {
		return nil, fail(file, "the file holds no PEM certificate", "pass the trust bundle (bundle.pem) that"+
			" `lanyard cert issue` wrote, or the server's /bundle.pem", exitFailed)
	}
	return roots, nil
}

// writeCredential replaces the credential in dir so that no failure or crash leaves a certificate
// without its key. Every new file is first written beside the old ones (a full disk changes
// nothing). The key currently paired with cert.pem is then kept as key.pem.prev (a hard link: no
// copy of the secret), and the new files are renamed into place, key first and certificate last;
// key.pem.prev is removed once cert.pem is the new one. Between the renames key.pem is the new key
// and cert.pem the old certificate: a reader (loadCredential) pairs cert.pem with key.pem.prev then,
// so a renewal cut short still leaves a credential that loads, and renews.
func writeCredential(dir string, key crypto.Signer, chain, bundle []*x509.Certificate) error {
	if err := makeOwnDirectory(dir); err != nil {
		return err
	}
	removeStaleTemporaries(dir, time.Now())
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	files := []struct {
		name    string
		content []byte
		mode    os.FileMode
	}{
		{keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600},
		{bundleFile, pemOf(bundle), 0o666},
		{certFile, pemOf(chain), 0o666},
	}
	for i, f := range files {
		if err := writeTemporary(dir, f.name, f.content, f.mode); err != nil {
			for _, written := range files[:i] {
				os.Remove(temporary(dir, written.name))
			}
			return err
		}
	}
	if err := keepPairedKey(dir); err != nil {
		return err
	}
	for i, f := range files {
		if err := os.Rename(temporary(dir, f.name), filepath.Join(dir, f.name)); err != nil {
			for _, left := range files[i:] {
				os.Remove(temporary(dir, left.name))
			}
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, prevKeyFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(dir)
}

// keepPairedKey makes key.pem.prev the key of the current cert.pem before key.pem is replaced. When
// key.pem is not cert.pem's key, an earlier write was cut short between its renames and
// key.pem.prev already is: it is kept.
func keepPairedKey(dir string) error {
	prev := filepath.Join(dir, prevKeyFile)
	certPEM, certErr := os.ReadFile(filepath.Join(dir, certFile))
	keyPEM, keyErr := os.ReadFile(filepath.Join(dir, keyFile))
	if certErr != nil || keyErr != nil {
		return nil // no credential yet, or none that loads: nothing to keep
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		if _, statErr := os.Stat(prev); statErr == nil {
			return nil
		}
	}
	if err := os.Remove(prev); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Link(filepath.Join(dir, keyFile), prev); err != nil { // a file system without hard links: a copy
		keyPEM, readErr := os.ReadFile(filepath.Join(dir, keyFile))
		if readErr != nil {
			return readErr
		}
		if err := writeTemporary(dir, prevKeyFile, keyPEM, 0o600); err != nil {
			return err
		}
		if err := os.Rename(temporary(dir, prevKeyFile), prev); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

func pemOf(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func temporary(dir, name string) string { return filepath.Join(dir, "."+name+".tmp") }

// writeTemporary writes what will replace dir/name durably (tools/.../DurableFiles.replace): a
// temporary file made exclusively with its final mode and forced to disk, so that once renamed over
// the target (and the directory forced), after a power loss the file is the old one or the whole new one.
func writeTemporary(dir, name string, content []byte, mode os.FileMode) error {
	tmp := temporary(dir, name)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// syncDir makes the directory's entries (a file just renamed there) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
