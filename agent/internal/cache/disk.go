package cache

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"time"

	"github.com/lanyard-dev/lanyard/agent/internal/securedir"
)

// The agent SVID is kept on disk (key 0600, directory 0700) so a restart does not need another
// attestation: a join token is single use.
const (
	certFile = "agent-svid.pem"
	keyFile  = "agent-key.pem"
	// prevKeyFile is the key of certFile while a save replaces the pair (writePair).
	prevKeyFile = "agent-key.pem.prev"
)

func (m *Manager) saveAgentSVID(a *agentSVID, key *ecdsa.PrivateKey) {
	if m.cfg.DataDir == "" {
		return
	}
	// Checked again at each write: the key goes only into a directory that is still the agent's own.
	if err := securedir.Ensure(m.cfg.DataDir, 0o700); err != nil {
		m.log.Warn("cannot keep the agent SVID on disk", "error", err)
		return
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return
	}
	var certs []byte
	for _, c := range a.cert.Certificate {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	if err := writePair(m.cfg.DataDir, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), certs); err != nil {
		m.log.Warn("cannot keep the agent SVID on disk", "error", err)
	}
}

// writePair replaces the key and the certificate so that no failure or crash leaves a certificate
// without its key: the key paired with the certificate on disk is kept as prevKeyFile (a hard link,
// no copy of the secret) until the new certificate is in place, the new key is renamed in first and
// the certificate last. Cut short between the two, the old certificate loads with prevKeyFile
// (loadKeyPair), so the agent restarts without another attestation (a join token is single use).
func writePair(dir string, keyPEM, certPEM []byte) error {
	if err := keepPairedKey(dir); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, keyFile), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, certFile), certPEM, 0o644); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, prevKeyFile)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// keepPairedKey links prevKeyFile to the key of the certificate on disk: keyFile when they pair;
// when they do not (a save was cut short), prevKeyFile already is that key and stays.
func keepPairedKey(dir string) error {
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile)); err != nil {
		return nil
	}
	prev := filepath.Join(dir, prevKeyFile)
	if err := os.Remove(prev); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.Link(filepath.Join(dir, keyFile), prev)
}

// loadKeyPair reads the certificate with its key: keyFile, or prevKeyFile after a save cut short.
func loadKeyPair(dir string) (tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	if err == nil {
		return pair, nil
	}
	if prev, perr := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, prevKeyFile)); perr == nil {
		return prev, nil
	}
	return tls.Certificate{}, err
}

// forgetAgentSVID removes a revoked agent SVID from disk (certificate first, so a certificate is
// never left without its key).
func (m *Manager) forgetAgentSVID() {
	if m.cfg.DataDir == "" {
		return
	}
	for _, name := range []string{certFile, keyFile, prevKeyFile} {
		if err := os.Remove(filepath.Join(m.cfg.DataDir, name)); err != nil && !os.IsNotExist(err) {
			m.log.Warn("cannot remove the revoked agent SVID from disk", "file", name, "error", err)
		}
	}
}

// writeFile replaces a file atomically: the data goes into a new file of the same directory (created
// with O_EXCL and mode 0600, so no file someone else made beforehand is reused, whatever its mode),
// is synced, gets its mode, and is renamed over path; then the directory is synced.
func writeFile(path string, data []byte, mode os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(filepath.Clean(dir)); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// loadAgentSVID reads the agent SVID on disk if it chains to the roots and has a quarter of its life left.
func (m *Manager) loadAgentSVID(roots []*x509.Certificate) (*agentSVID, bool) {
	if m.cfg.DataDir == "" {
		return nil, false
	}
	pair, err := loadKeyPair(m.cfg.DataDir)
	if err != nil {
		return nil, false
	}
	var chain []*x509.Certificate
	for _, der := range pair.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, false
		}
		chain = append(chain, c)
	}
	id, err := m.verifySVID(chain)
	if err != nil {
		m.log.Info("the agent SVID on disk does not verify; attesting again", "error", err)
		return nil, false
	}
	leaf := chain[0]
	if time.Until(leaf.NotAfter) < leaf.NotAfter.Sub(leaf.NotBefore)/4 {
		return nil, false
	}
	pair.Leaf = leaf
	return &agentSVID{id: id, cert: pair, leaf: leaf}, true
}
