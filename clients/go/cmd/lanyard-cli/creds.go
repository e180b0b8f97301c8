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
	"strings"
	"time"
)

const (
	certFile   = "cert.pem"
	keyFile    = "key.pem"
	bundleFile = "bundle.pem"
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

// pairingAttempts bounds how often a read that found another credential's key is made again.
const pairingAttempts = 20

// loadCredential reads a credential directory. The server that writes one (a dev server's admin
// credential) replaces key.pem, then cert.pem: a read between the two pairs the old certificate
// with the new key, which tls.X509KeyPair refuses, so such a read is made again.
func loadCredential(dir string) (*credential, error) {
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
		return nil, err
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

// writeCredential writes the key first and the certificate last, each replaced atomically, so a
// reader that sees the new certificate also finds its key; key.pem is 0600 from its creation.
func writeCredential(dir string, key crypto.Signer, chain, bundle []*x509.Certificate) error {
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil { // the new directory's entry
			return err
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeAtomically(dir, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := writeAtomically(dir, bundleFile, pemOf(bundle), 0o666); err != nil {
		return err
	}
	return writeAtomically(dir, certFile, pemOf(chain), 0o666)
}

func pemOf(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// writeAtomically replaces dir/name durably (tools/.../DurableFiles.replace): a temporary file made
// exclusively with its final mode, forced to disk, renamed over the target, then the directory forced,
// so after a power loss the file is the old one or the whole new one.
func writeAtomically(dir, name string, content []byte, mode os.FileMode) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
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
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
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
