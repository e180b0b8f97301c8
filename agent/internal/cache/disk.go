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
	// The key first: a certificate on disk always has its key beside it.
	if err := writeFile(filepath.Join(m.cfg.DataDir, keyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		m.log.Warn("cannot keep the agent key on disk", "error", err)
		return
	}
	if err := writeFile(filepath.Join(m.cfg.DataDir, certFile), certs, 0o644); err != nil {
		m.log.Warn("cannot keep the agent SVID on disk", "error", err)
	}
}

// forgetAgentSVID removes a revoked agent SVID from disk (certificate first, so a certificate is
// never left without its key).
func (m *Manager) forgetAgentSVID() {
	if m.cfg.DataDir == "" {
		return
	}
	for _, name := range []string{certFile, keyFile} {
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
	pair, err := tls.LoadX509KeyPair(filepath.Join(m.cfg.DataDir, certFile), filepath.Join(m.cfg.DataDir, keyFile))
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
