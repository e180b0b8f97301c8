package identity

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Authorizer decides whether a peer with a verified SPIFFE ID may talk to us.
type Authorizer func(id spiffeid.ID) error

// AuthorizeMemberOf accepts any SPIFFE ID in the trust domain.
func AuthorizeMemberOf(td spiffeid.TrustDomain) Authorizer {
	return func(id spiffeid.ID) error {
		if id.TrustDomain() != td {
			return fmt.Errorf("%s is not in trust domain %s", id, td)
		}
		return nil
	}
}

// AuthorizeID accepts exactly one SPIFFE ID.
func AuthorizeID(want spiffeid.ID) Authorizer {
	return func(id spiffeid.ID) error {
		if id != want {
			return fmt.Errorf("%s is not the expected %s", id, want)
		}
		return nil
	}
}

// ServerTLSConfig is a tls.Config for an mTLS server: it presents the current certificate on every
// handshake (a renewal needs no restart), requires a client certificate, verifies it against the
// current roots as an X.509-SVID, and asks authorize about its SPIFFE ID.
func (s *Source) ServerTLSConfig(authorize Authorizer) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAnyClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &s.svid.Load().cert, nil
		},
		VerifyPeerCertificate: s.verifyPeer(authorize),
	}
}

// ClientTLSConfig is a tls.Config for an mTLS client: it presents the current certificate and
// verifies the server as an X.509-SVID against the current roots (not by host name), asking
// authorize about its SPIFFE ID.
func (s *Source) ClientTLSConfig(authorize Authorizer) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // verified as an SVID in VerifyPeerCertificate
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &s.svid.Load().cert, nil
		},
		VerifyPeerCertificate: s.verifyPeer(authorize),
	}
}

func (s *Source) verifyPeer(authorize Authorizer) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("identity: the peer presented no certificate")
		}
		chain, err := certsFromDER(raw)
		if err != nil {
			return fmt.Errorf("identity: the peer sent %w", err)
		}
		id, err := verifyChain(chain, s.roots.Load().certs, s.now())
		if err != nil {
			return fmt.Errorf("identity: the peer's certificate: %w", err)
		}
		if authorize == nil {
			authorize = AuthorizeMemberOf(s.td)
		}
		if err := authorize(id); err != nil {
			return fmt.Errorf("identity: peer not authorized: %w", err)
		}
		return nil
	}
}
