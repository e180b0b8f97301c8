package cache

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"time"
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
	if err := os.MkdirAll(m.cfg.DataDir, 0o700); err != nil {
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

// writeFile replaces a file atomically.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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
