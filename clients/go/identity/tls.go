package identity

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
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

// AuthorizeMemberOfAny accepts any SPIFFE ID in one of the trust domains: a workload that talks to
// federated peers names their trust domains (and its own, if it talks to those too).
func AuthorizeMemberOfAny(tds ...spiffeid.TrustDomain) Authorizer {
	return func(id spiffeid.ID) error {
		for _, td := range tds {
			if id.TrustDomain() == td {
				return nil
			}
		}
		return fmt.Errorf("%s is not in any of the trust domains %v", id, tds)
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

// Revocations says whether an identity or a certificate serial is revoked; revocation.Follower is one.
// Loaded is closed once the revocations in force have been loaded; until then every peer is refused.
type Revocations interface {
	Revoked(jti, spiffeID, serial string) (what string, revoked bool)
	Loaded() <-chan struct{}
}

// RefuseRevoked makes every TLS config of this source, made before or after, refuse at the handshake
// a peer whose identity or certificate r says is revoked: revoked by Lanyard, or by a federated
// trust domain's Lanyard and pushed on by ours. Until r is loaded (its first catch-up) every peer
// is refused: a revoked one could not be told apart.
func (s *Source) RefuseRevoked(r Revocations) { s.revocations.Store(&r) }

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

// ClientTLSConfig is a tls.Config for an mTLS client: it presents the certificate current at each
// handshake and verifies the server as an X.509-SVID against the current roots (not by host
// name), asking authorize about its SPIFFE ID. A connection that carries tokens needs
// ClientTLSConfigFor instead: a token is bound to one certificate.
func (s *Source) ClientTLSConfig(authorize Authorizer) *tls.Config {
	return s.clientTLSConfig(func() *SVID { return s.svid.Load() }, authorize)
}

// ClientTLSConfigFor is ClientTLSConfig presenting exactly svid (say s.SVID(), taken once) on every
// handshake, reconnections included, so that the tokens sent over the connection can be the ones
// token.Fetcher mints for svid.Leaf: the peer refuses a token bound to another certificate than
// the connection's (cnf_mismatch). After a renewal, dial again with the new SVID.
func (s *Source) ClientTLSConfigFor(svid *SVID, authorize Authorizer) *tls.Config {
	return s.clientTLSConfig(func() *SVID { return svid }, authorize)
}

func (s *Source) clientTLSConfig(present func() *SVID, authorize Authorizer) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // verified as an SVID in VerifyPeerCertificate
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &present().cert, nil
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
		// The peer's chain must lead to the roots of its own trust domain: ours, or one Lanyard
		// federates with. Which trust domains may talk to us is the authorizer's call (by default
		// only our own), so a federated peer is accepted only where it is allowed.
		peer, err := x509svid.IDFromCert(chain[0])
		if err != nil {
			return fmt.Errorf("identity: the peer's certificate is not an X.509-SVID: %w", err)
		}
		r := s.roots.Load()
		rootCerts := r.certs
		if peer.TrustDomain() != s.td {
			if rootCerts = r.federated[peer.TrustDomain()]; rootCerts == nil {
				return fmt.Errorf("identity: the peer %s is in trust domain %s, which Lanyard does not federate with", peer, peer.TrustDomain())
			}
		}
		id, err := verifyChain(chain, rootCerts, s.now())
		if err != nil {
			return fmt.Errorf("identity: the peer's certificate: %w", err)
		}
		if r := s.revocations.Load(); r != nil {
			select {
			case <-(*r).Loaded():
			default:
				return fmt.Errorf("identity: the peer %s is refused: revocations are not loaded yet (the revocation stream has not caught up since start); retry shortly", id)
			}
			if what, revoked := (*r).Revoked("", id.String(), chain[0].SerialNumber.Text(16)); revoked {
				return fmt.Errorf("identity: the peer %s is refused: %s is revoked", id, what)
			}
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
