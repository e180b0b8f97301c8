package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/durationpb"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// dial connects to Lanyard presenting svid on every handshake of the connection (none for nil,
// at bootstrap).
func (s *Source) dial(svid *SVID) (*link, error) {
	tlsConfig := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The server is authenticated by verifyServer against the current roots and its SPIFFE ID,
		// not by host name: Lanyard's certificate is an SVID issued by its own CA.
		InsecureSkipVerify:    true, //nolint:gosec // verified in VerifyPeerCertificate
		VerifyPeerCertificate: s.verifyServer,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if svid != nil {
				return &svid.cert, nil
			}
			return &tls.Certificate{}, nil // bootstrap: no client certificate yet
		},
	}
	conn, err := grpc.NewClient(s.server, DialOptions(credentials.NewTLS(tlsConfig))...)
	if err != nil {
		return nil, fmt.Errorf("identity: connecting to %s: %w", s.server, err)
	}
	return &link{conn: conn, svid: svid}, nil
}

// verifyServer accepts a chain to one of the current roots whose leaf is Lanyard's own SVID,
// spiffe://<trust domain>/lanyard/server.
func (s *Source) verifyServer(raw [][]byte, _ [][]*x509.Certificate) error {
	certs, err := certsFromDER(raw)
	if err != nil {
		return fmt.Errorf("identity: the server sent %w", err)
	}
	if len(certs) == 0 {
		return errors.New("identity: the server presented no certificate")
	}
	id, err := verifyChain(certs, s.roots.Load().certs, s.now())
	if err != nil {
		return fmt.Errorf("identity: the server's certificate: %w", err)
	}
	if id.Path() != "/lanyard/server" || (!s.td.IsZero() && id.TrustDomain() != s.td) {
		return fmt.Errorf("identity: the server presented %s, not the Lanyard server of this trust domain", id)
	}
	td := id.TrustDomain()
	s.serverTD.Store(&td)
	return nil
}

// verifyChain checks an X.509-SVID chain against roots with go-spiffe and returns its SPIFFE ID.
func verifyChain(chain, rootCerts []*x509.Certificate, now time.Time) (spiffeid.ID, error) {
	id, err := x509svid.IDFromCert(chain[0])
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("not an X.509-SVID: %w", err)
	}
	bundle := x509bundle.FromX509Authorities(id.TrustDomain(), rootCerts)
	if _, _, err := x509svid.Verify(chain, bundle, x509svid.WithTime(now)); err != nil {
		return spiffeid.ID{}, err
	}
	return id, nil
}

func (s *Source) newKeyAndCSR() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), s.rand)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: generating a key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(s.rand, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: making a CSR: %w", err)
	}
	return key, csr, nil
}

func (s *Source) ttlProto() *durationpb.Duration {
	if s.ttl <= 0 {
		return nil
	}
	return durationpb.New(s.ttl)
}

func (s *Source) bootstrap(ctx context.Context, conn *grpc.ClientConn, joinToken string) (*SVID, error) {
	key, csr, err := s.newKeyAndCSR()
	if err != nil {
		return nil, err
	}
	resp, err := lanyardv1.NewCertificateServiceClient(conn).IssueCertificate(ctx, &lanyardv1.IssueCertificateRequest{
		Attestation: &lanyardv1.Attestation{Kind: &lanyardv1.Attestation_JoinToken{
			JoinToken: &lanyardv1.JoinTokenAttestation{Token: joinToken}}},
		Csr: csr,
		Ttl: s.ttlProto(),
	})
	if err != nil {
		return nil, fmt.Errorf("identity: bootstrap with the join token was refused or failed: %w", err)
	}
	return s.accept(resp, key)
}

// accept checks what the server issued before using it: it chains to the roots, carries the
// SPIFFE ID the server says, and is for our key. It takes the trust bundle the response carries;
// the caller installs the certificate.
func (s *Source) accept(resp *lanyardv1.CertificateResponse, key *ecdsa.PrivateKey) (*SVID, error) {
	chain, err := certsFromDER(append([][]byte{resp.GetCertificate()}, resp.GetChain()...))
	if err != nil {
		return nil, fmt.Errorf("identity: the server issued %w", err)
	}
	bundleRoots := s.roots.Load().certs
	if len(resp.GetTrustBundle()) > 0 {
		if bundleRoots, err = certsFromDER(resp.GetTrustBundle()); err != nil {
			return nil, fmt.Errorf("identity: the server's trust bundle holds %w", err)
		}
	}
	id, err := verifyChain(chain, bundleRoots, s.now())
	if err != nil {
		return nil, fmt.Errorf("identity: the issued certificate does not verify: %w", err)
	}
	if id.String() != resp.GetSpiffeId() {
		return nil, fmt.Errorf("identity: the issued certificate is for %s, the response says %q", id, resp.GetSpiffeId())
	}
	// Roots may vouch for several trust domains; a server issues only in its own (at bootstrap, the one
	// of the server verifyServer accepted).
	serverTD := s.td
	if seen := s.serverTD.Load(); serverTD.IsZero() && seen != nil {
		serverTD = *seen
	}
	if serverTD.IsZero() || id.TrustDomain() != serverTD {
		return nil, fmt.Errorf("identity: the Lanyard server of trust domain %q issued a certificate for %s, which is"+
			" outside its trust domain; it is not used", serverTD.Name(), id)
	}
	pub, ok := chain[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("identity: the issued certificate is not for the key this workload generated")
	}
	raw := make([][]byte, len(chain))
	for i, c := range chain {
		raw[i] = c.Raw
	}
	if s.td.IsZero() {
		s.td = id.TrustDomain() // at bootstrap, before any goroutine reads it; fixed from then on
	}
	s.setRoots(bundleRoots, s.roots.Load().sequence)
	return &SVID{ID: id, Leaf: chain[0], Intermediates: chain[1:], Serial: chain[0].SerialNumber.Text(16),
		cert: tls.Certificate{Certificate: raw, PrivateKey: key, Leaf: chain[0]}}, nil
}
