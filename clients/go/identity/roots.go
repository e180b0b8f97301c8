package identity

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ReadBundleFile reads PEM root certificates from a file (what --bundle names).
func ReadBundleFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: reading the trust bundle: %w", err)
	}
	roots, err := ParsePEMCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("identity: trust bundle %s: %w", path, err)
	}
	return roots, nil
}

// ParsePEMCertificates parses every CERTIFICATE block; other blocks are refused rather than skipped.
func ParsePEMCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %q PEM block; only CERTIFICATE blocks are expected", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("an unreadable certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("holds no PEM certificate")
	}
	return certs, nil
}

// Fingerprint is "sha256:" and the lower-case hex SHA-256 of a certificate's DER.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// parsePin normalises "sha256:HEX" (colons inside the hex allowed, any case).
func parsePin(pin string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(pin))
	rest, ok := strings.CutPrefix(p, "sha256:")
	if !ok {
		return "", errors.New("identity: the root fingerprint must look like sha256:<64 hex digits>")
	}
	rest = strings.ReplaceAll(rest, ":", "")
	if b, err := hex.DecodeString(rest); err != nil || len(b) != sha256.Size {
		return "", errors.New("identity: the root fingerprint must look like sha256:<64 hex digits>")
	}
	return "sha256:" + rest, nil
}

func certsFromDER(ders [][]byte) ([]*x509.Certificate, error) {
	certs := make([]*x509.Certificate, 0, len(ders))
	for _, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, fmt.Errorf("an unreadable certificate: %w", err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}
