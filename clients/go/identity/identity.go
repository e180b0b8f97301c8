// Package identity gives a workload its X.509-SVID from Lanyard and keeps it fresh: it generates
// an ECDSA P-256 key locally, bootstraps with a one-time join token, renews over mTLS at half of
// the certificate's life, and follows WatchTrustBundle so a CA rotation needs no restart. The
// tls.Configs it hands out always present the current certificate and trust the current roots.
package identity

import (
	"context"
	"crypto/ecdsa"
	cryptorand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"

	"github.com/lanyard-dev/lanyard/clients/go/retry"
)

// Config says where Lanyard is and how to trust it and prove who we are.
type Config struct {
	// Server is Lanyard's gRPC address, HOST:PORT. Required.
	Server string
	// BundleFile (PEM roots) or RootFingerprint ("sha256:HEX" of one root) says how to trust the
	// server at bootstrap; exactly one is required.
	BundleFile      string
	RootFingerprint string
	// JoinToken is the one-time token an admin created for this workload. Required. It is a secret:
	// it is sent once, to the server, and never logged or put into an error.
	JoinToken string
	// TTL is the certificate lifetime asked for; zero means the server default.
	TTL time.Duration
	// Now is the clock (default time.Now); Rand the randomness for keys (default crypto/rand).
	Now  func() time.Time
	Rand io.Reader
	// Jitter seeds the backoff between retries (default: a random seed).
	Jitter *rand.Rand
	// Logger receives renewal and trust bundle events (default slog.Default()).
	Logger *slog.Logger
}

// SVID is one issued certificate with its key. Immutable.
type SVID struct {
	ID            spiffeid.ID
	Leaf          *x509.Certificate
	Intermediates []*x509.Certificate
	// Serial is the leaf's serial number, lower-case hex without leading zeros.
	Serial string
	cert   tls.Certificate
}

// Status is what an operator wants to know about the source.
type Status struct {
	ID               spiffeid.ID
	Serial           string
	NotAfter         time.Time
	Renewals         int64
	LastRenewalError string
	BundleSequence   int64
}

type roots struct {
	certs    []*x509.Certificate
	bundle   *x509bundle.Bundle
	sequence int64
	// the roots of the trust domains this server federates with (federated_bundles), by trust domain
	federated map[spiffeid.TrustDomain][]*x509.Certificate
}

// Source holds the workload's current SVID and trust bundle. Safe for concurrent use.
type Source struct {
	server  string
	ttl     time.Duration
	now     func() time.Time
	rand    io.Reader
	backoff retry.Backoff
	log     *slog.Logger
	td      spiffeid.TrustDomain
	// serverTD is the trust domain of the Lanyard server verifyServer last accepted: at bootstrap, before
	// td is known, the trust domain the issued SVID must be in.
	serverTD atomic.Pointer[spiffeid.TrustDomain]

	svid     atomic.Pointer[SVID]
	roots    atomic.Pointer[roots]
	link     atomic.Pointer[link] // the connection to Lanyard presenting svid (or, mid-renewal, the next one)
	renewals atomic.Int64
	lastErr  atomic.Pointer[string]
	// revocations, when set (RefuseRevoked), refuses revoked peers at the TLS handshake
	revocations atomic.Pointer[Revocations]

	stop   context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	old    []*link // connections presenting earlier certificates, kept while those are valid
}

// Start bootstraps (trusting the server per cfg, presenting the join token and a CSR for a fresh
// key) and then renews and follows the trust bundle in the background until Close.
func Start(ctx context.Context, cfg Config) (*Source, error) {
	if cfg.Server == "" {
		return nil, errors.New("identity: the Lanyard server address is required")
	}
	if cfg.JoinToken == "" {
		return nil, errors.New("identity: a join token is required to bootstrap")
	}
	if (cfg.BundleFile == "") == (cfg.RootFingerprint == "") {
		return nil, errors.New("identity: exactly one of a bundle file and a root fingerprint is required to trust the server")
	}
	s := &Source{server: cfg.Server, ttl: cfg.TTL, now: cfg.Now, rand: cfg.Rand, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = cryptorand.Reader
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	jitter := cfg.Jitter
	if jitter == nil {
		jitter = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	s.backoff = retry.Backoff{Base: 500 * time.Millisecond, Max: 30 * time.Second, Random: jitter}

	var trusted []*x509.Certificate
	var err error
	if cfg.BundleFile != "" {
		trusted, err = ReadBundleFile(cfg.BundleFile)
	} else {
		trusted, err = fetchPinnedBundle(ctx, cfg.Server, cfg.RootFingerprint, s.now)
	}
	if err != nil {
		return nil, err
	}
	s.setRoots(trusted, 0)
	bootstrap, err := s.dial(nil)
	if err != nil {
		return nil, err
	}
	s.link.Store(bootstrap)
	first, err := s.bootstrap(ctx, bootstrap.conn, cfg.JoinToken)
	if err == nil {
		err = s.install(first)
	}
	if err != nil {
		s.closeConns()
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.renewLoop(runCtx) }()
	go func() { defer s.wg.Done(); s.watchBundle(runCtx) }()
	return s, nil
}

// Close stops renewal and the bundle watch and closes the connections to Lanyard.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
	s.closeConns()
	return nil
}

// SVID is the current certificate.
func (s *Source) SVID() *SVID { return s.svid.Load() }

// TrustDomain is the trust domain of this workload's SPIFFE ID.
func (s *Source) TrustDomain() spiffeid.TrustDomain { return s.td }

// Roots are the current X.509 roots of the trust domain.
func (s *Source) Roots() []*x509.Certificate { return s.roots.Load().certs }

// GetX509BundleForTrustDomain makes the Source a go-spiffe x509bundle.Source.
// Besides its own trust domain's bundle it has those of the trust domains Lanyard federates with.
func (s *Source) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	r := s.roots.Load()
	if td == s.td {
		return r.bundle, nil
	}
	if certs, ok := r.federated[td]; ok {
		return x509bundle.FromX509Authorities(td, certs), nil
	}
	return nil, fmt.Errorf("identity: no bundle for trust domain %q (this workload is in %q, and Lanyard does not federate with it)", td, s.td)
}

// FederatedRoots are the current X.509 roots of a federated trust domain, nil if Lanyard does not
// federate with it.
func (s *Source) FederatedRoots(td spiffeid.TrustDomain) []*x509.Certificate {
	return s.roots.Load().federated[td]
}

// GetX509SVID makes the Source a go-spiffe x509svid.Source.
func (s *Source) GetX509SVID() (*x509svid.SVID, error) {
	cur := s.svid.Load()
	return &x509svid.SVID{ID: cur.ID, Certificates: append([]*x509.Certificate{cur.Leaf}, cur.Intermediates...),
		PrivateKey: cur.cert.PrivateKey.(*ecdsa.PrivateKey)}, nil
}

// Conn is the current mTLS connection to Lanyard (it changes after a renewal; do not keep it).
func (s *Source) Conn() *grpc.ClientConn { return s.link.Load().conn }

// ConnPresenting is an mTLS connection to Lanyard that presents exactly cert, one of this
// workload's certificates: the current one, or an earlier one while it is valid. A token minted
// over it is bound to cert (what token.Fetcher needs). An error if cert is not, or no longer, held.
func (s *Source) ConnPresenting(cert *x509.Certificate) (*grpc.ClientConn, error) {
	if l := s.link.Load(); l.presents(cert) {
		return l.conn, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.link.Load(); l.presents(cert) { // renewed meanwhile? install swaps under this lock
		return l.conn, nil
	}
	for _, l := range s.old {
		if l.presents(cert) {
			return l.conn, nil
		}
	}
	return nil, fmt.Errorf("identity: the certificate with serial %s is not held by this workload (any more): take the current one from SVID()",
		cert.SerialNumber.Text(16))
}

// Serial is the serial of the current certificate (what token.Credentials asks for).
func (s *Source) Serial() string { return s.svid.Load().Serial }

// RenewNow renews at once (the background loop renews at half-life anyway). A failure is also
// reported by Status until the next renewal succeeds.
func (s *Source) RenewNow(ctx context.Context) error {
	if err := s.renew(ctx); err != nil {
		msg := err.Error()
		s.lastErr.Store(&msg)
		return err
	}
	empty := ""
	s.lastErr.Store(&empty)
	s.renewals.Add(1)
	return nil
}

// Status reports the current certificate and how renewal is going.
func (s *Source) Status() Status {
	cur := s.svid.Load()
	st := Status{ID: cur.ID, Serial: cur.Serial, NotAfter: cur.Leaf.NotAfter, Renewals: s.renewals.Load(),
		BundleSequence: s.roots.Load().sequence}
	if e := s.lastErr.Load(); e != nil {
		st.LastRenewalError = *e
	}
	return st
}

func (s *Source) setRoots(certs []*x509.Certificate, sequence int64) {
	var federated map[spiffeid.TrustDomain][]*x509.Certificate
	if cur := s.roots.Load(); cur != nil {
		federated = cur.federated
	}
	s.setAllRoots(certs, federated, sequence)
}

func (s *Source) setAllRoots(certs []*x509.Certificate, federated map[spiffeid.TrustDomain][]*x509.Certificate, sequence int64) {
	td := s.td
	if td.IsZero() {
		td = spiffeid.RequireTrustDomainFromString("bootstrap.invalid")
	}
	s.roots.Store(&roots{certs: certs, bundle: x509bundle.FromX509Authorities(td, certs), sequence: sequence,
		federated: federated})
}
