// Package identity gives a workload its X.509-SVID from Lanyard and keeps it fresh: it generates
// an ECDSA P-256 key locally, bootstraps with a one-time join token, renews over mTLS at half of
// the certificate's life, and follows WatchTrustBundle so a CA rotation needs no restart. The
// tls.Configs it hands out always present the current certificate and trust the current roots.
package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
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
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/durationpb"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
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

	svid     atomic.Pointer[SVID]
	roots    atomic.Pointer[roots]
	conn     atomic.Pointer[grpc.ClientConn]
	renewals atomic.Int64
	lastErr  atomic.Pointer[string]

	stop   context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	old    []*grpc.ClientConn
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
	conn, err := s.dial()
	if err != nil {
		return nil, err
	}
	s.conn.Store(conn)
	if err := s.bootstrap(ctx, conn, cfg.JoinToken); err != nil {
		conn.Close()
		return nil, err
	}
	// Reconnect so that the connection presents the new certificate from now on.
	if err := s.redial(); err != nil {
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
func (s *Source) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if td != s.td {
		return nil, fmt.Errorf("identity: no bundle for trust domain %q (this workload is in %q)", td, s.td)
	}
	return s.roots.Load().bundle, nil
}

// GetX509SVID makes the Source a go-spiffe x509svid.Source.
func (s *Source) GetX509SVID() (*x509svid.SVID, error) {
	cur := s.svid.Load()
	return &x509svid.SVID{ID: cur.ID, Certificates: append([]*x509.Certificate{cur.Leaf}, cur.Intermediates...),
		PrivateKey: cur.cert.PrivateKey.(*ecdsa.PrivateKey)}, nil
}

// Conn is the current mTLS connection to Lanyard (it changes after a renewal; do not keep it).
func (s *Source) Conn() *grpc.ClientConn { return s.conn.Load() }

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
	td := s.td
	if td.IsZero() {
		td = spiffeid.RequireTrustDomainFromString("bootstrap.invalid")
	}
	s.roots.Store(&roots{certs: certs, bundle: x509bundle.FromX509Authorities(td, certs), sequence: sequence})
}

func (s *Source) dial() (*grpc.ClientConn, error) {
	tlsConfig := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The server is authenticated by verifyServer against the current roots and its SPIFFE ID,
		// not by host name: Lanyard's certificate is an SVID issued by its own CA.
		InsecureSkipVerify:    true, //nolint:gosec // verified in VerifyPeerCertificate
		VerifyPeerCertificate: s.verifyServer,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cur := s.svid.Load(); cur != nil {
				return &cur.cert, nil
			}
			return &tls.Certificate{}, nil // bootstrap: no client certificate yet
		},
	}
	conn, err := grpc.NewClient(s.server, grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	if err != nil {
		return nil, fmt.Errorf("identity: connecting to %s: %w", s.server, err)
	}
	return conn, nil
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
	r := s.rand
	key, err := ecdsa.GenerateKey(elliptic.P256(), randOrDefault(r))
	if err != nil {
		return nil, nil, fmt.Errorf("identity: generating a key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(randOrDefault(r), &x509.CertificateRequest{}, key)
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

func (s *Source) bootstrap(ctx context.Context, conn *grpc.ClientConn, joinToken string) error {
	key, csr, err := s.newKeyAndCSR()
	if err != nil {
		return err
	}
	resp, err := lanyardv1.NewCertificateServiceClient(conn).IssueCertificate(ctx, &lanyardv1.IssueCertificateRequest{
		Attestation: &lanyardv1.Attestation{Kind: &lanyardv1.Attestation_JoinToken{
			JoinToken: &lanyardv1.JoinTokenAttestation{Token: joinToken}}},
		Csr: csr,
		Ttl: s.ttlProto(),
	})
	if err != nil {
		return fmt.Errorf("identity: bootstrap with the join token was refused or failed: %w", err)
	}
	return s.accept(resp, key)
}

// accept checks what the server issued before using it: it chains to the roots, carries the
// SPIFFE ID the server says, and is for our key.
func (s *Source) accept(resp *lanyardv1.CertificateResponse, key *ecdsa.PrivateKey) error {
	chain, err := certsFromDER(append([][]byte{resp.GetCertificate()}, resp.GetChain()...))
	if err != nil {
		return fmt.Errorf("identity: the server issued %w", err)
	}
	bundleRoots := s.roots.Load().certs
	if len(resp.GetTrustBundle()) > 0 {
		if bundleRoots, err = certsFromDER(resp.GetTrustBundle()); err != nil {
			return fmt.Errorf("identity: the server's trust bundle holds %w", err)
		}
	}
	id, err := verifyChain(chain, bundleRoots, s.now())
	if err != nil {
		return fmt.Errorf("identity: the issued certificate does not verify: %w", err)
	}
	if id.String() != resp.GetSpiffeId() {
		return fmt.Errorf("identity: the issued certificate is for %s, the response says %q", id, resp.GetSpiffeId())
	}
	if !s.td.IsZero() && id.TrustDomain() != s.td {
		return fmt.Errorf("identity: the issued certificate is in trust domain %s, not %s", id.TrustDomain(), s.td)
	}
	pub, ok := chain[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return errors.New("identity: the issued certificate is not for the key this workload generated")
	}
	raw := make([][]byte, len(chain))
	for i, c := range chain {
		raw[i] = c.Raw
	}
	if s.td.IsZero() {
		s.td = id.TrustDomain() // at bootstrap, before any goroutine reads it; fixed from then on
	}
	s.svid.Store(&SVID{ID: id, Leaf: chain[0], Intermediates: chain[1:], Serial: chain[0].SerialNumber.Text(16),
		cert: tls.Certificate{Certificate: raw, PrivateKey: key, Leaf: chain[0]}})
	s.setRoots(bundleRoots, s.roots.Load().sequence)
	return nil
}

func (s *Source) redial() error {
	conn, err := s.dial()
	if err != nil {
		return err
	}
	old := s.conn.Swap(conn)
	if old == nil {
		return nil
	}
	// Calls in flight on the old connection (a token request, a watch) finish or move over.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		conn.Close()
		return old.Close()
	}
	s.old = append(s.old, old)
	time.AfterFunc(time.Minute, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, c := range s.old {
			if c == old {
				s.old = append(s.old[:i], s.old[i+1:]...)
				old.Close()
				return
			}
		}
	})
	return nil
}

func (s *Source) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.old {
		c.Close()
	}
	s.old = nil
	if c := s.conn.Load(); c != nil {
		c.Close()
	}
}

// renewAt is half of the certificate's life.
func renewAt(leaf *x509.Certificate) time.Time {
	return leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
}

func (s *Source) renewLoop(ctx context.Context) {
	failures := 0
	for {
		wait := renewAt(s.svid.Load().Leaf).Sub(s.now())
		if failures > 0 {
			wait = s.backoff.Delay(failures - 1)
		}
		if retry.Sleep(ctx, max(wait, 0)) != nil {
			return
		}
		if err := s.renew(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			msg := err.Error()
			s.lastErr.Store(&msg)
			s.log.Warn("certificate renewal failed", "error", msg, "transient", retry.IsTransient(err), "attempt", failures)
			continue
		}
		failures = 0
		empty := ""
		s.lastErr.Store(&empty)
		s.renewals.Add(1)
		cur := s.svid.Load()
		s.log.Info("certificate renewed", "spiffe_id", cur.ID.String(), "serial", cur.Serial, "not_after", cur.Leaf.NotAfter)
	}
}

func (s *Source) renew(ctx context.Context) error {
	key, csr, err := s.newKeyAndCSR()
	if err != nil {
		return err
	}
	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := lanyardv1.NewCertificateServiceClient(s.conn.Load()).RenewCertificate(callCtx,
		&lanyardv1.RenewCertificateRequest{Csr: csr, Ttl: s.ttlProto()})
	if err != nil {
		return fmt.Errorf("identity: renewal: %w", err)
	}
	if err := s.accept(resp, key); err != nil {
		return err
	}
	return s.redial()
}

// watchBundle follows WatchTrustBundle: every new bundle replaces the roots at once, so a CA
// rotation needs no restart. A broken stream is reopened with backoff.
func (s *Source) watchBundle(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		err := s.followBundle(ctx, &failures)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("trust bundle watch interrupted; reconnecting", "error", err)
		if retry.Sleep(ctx, s.backoff.Delay(failures)) != nil {
			return
		}
		failures++
	}
}

func (s *Source) followBundle(ctx context.Context, failures *int) error {
	stream, err := lanyardv1.NewTrustBundleServiceClient(s.conn.Load()).WatchTrustBundle(ctx, &lanyardv1.WatchTrustBundleRequest{})
	if err != nil {
		return err
	}
	for {
		b, err := stream.Recv()
		if err != nil {
			return err
		}
		*failures = 0
		if b.GetTrustDomain() != s.td.Name() {
			s.log.Warn("ignoring a trust bundle of another trust domain", "trust_domain", b.GetTrustDomain())
			continue
		}
		certs, err := certsFromDER(b.GetX509Authorities())
		if err != nil || len(certs) == 0 {
			s.log.Warn("ignoring a trust bundle without usable roots", "sequence", b.GetSequence())
			continue
		}
		if prev := s.roots.Load().sequence; b.GetSequence() != prev {
			s.setRoots(certs, b.GetSequence())
			level := slog.LevelInfo
			if prev == 0 {
				level = slog.LevelDebug // the first bundle of the watch, not a change
			}
			s.log.Log(ctx, level, "trust bundle updated", "sequence", b.GetSequence(), "roots", len(certs))
		}
	}
}

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return cryptoRand
	}
	return r
}

// Serial is the serial of the current certificate (what token.Credentials asks for).
func (s *Source) Serial() string { return s.svid.Load().Serial }
