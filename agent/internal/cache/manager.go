package cache

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/lanyard-dev/lanyard/agent/internal/nodeattest"
	"github.com/lanyard-dev/lanyard/agent/internal/securedir"
	"github.com/lanyard-dev/lanyard/clients/go/identity"
	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/retry"
	"github.com/lanyard-dev/lanyard/clients/go/revocation"
)

// Config says where the server is, how to trust it, and how to attest.
type Config struct {
	Server          string
	BundleFile      string
	RootFingerprint string
	DataDir         string
	// Evidence is called only when no usable agent SVID is on disk (it may read a one-time token), and
	// again when the agent SVID has expired if Reattests.
	Evidence func() (nodeattest.Evidence, error)
	// Reattests says the attestor proves the node again without a person (x509pop holds the node key,
	// k8s_psat reads its projected token again): an agent SVID that expired (a long outage) is then
	// replaced by attesting again. A join token is single use, so a join-token agent cannot.
	Reattests    bool
	SyncInterval time.Duration
	SVIDTTL      time.Duration
	// AttestRetryTimeout caps the time spent retrying node attestation while the server is unavailable;
	// zero retries until it answers.
	AttestRetryTimeout time.Duration
	Logger             *slog.Logger
}

// batchSize is the most entries one BatchNewX509Svid carries (the server's max_items).
const batchSize = 100

// revocationChecker says whether a token id, an identity or a certificate serial is revoked;
// revocation.Follower is one.
type revocationChecker interface {
	Revoked(jti, spiffeID, serial string) (what string, revoked bool)
}

// Manager holds the agent's state and keeps it current. Safe for concurrent use.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	backoff retry.Backoff
	// attestBackoff spaces the retries at start (the pinned bundle, node attestation), all within
	// cfg.AttestRetryTimeout of started.
	attestBackoff retry.Backoff
	started       time.Time
	follower      *revocation.Follower
	// revocations is the follower, as asked about identities, serials and token ids.
	revocations revocationChecker

	state   atomic.Pointer[State]
	agent   atomic.Pointer[agentSVID]
	conn    atomic.Pointer[grpc.ClientConn]
	mu      sync.Mutex // serializes state changes
	changed chan struct{}
	revoked atomic.Bool // the agent itself was revoked: it serves nothing
	// toldCannotReattest: the agent SVID expired and the log said once that a join token cannot re-attest.
	toldCannotReattest atomic.Bool
	jwts               *jwtCache

	stop context.CancelFunc
	wg   sync.WaitGroup
}

type agentSVID struct {
	id   spiffeid.ID
	cert tls.Certificate
	leaf *x509.Certificate
}

// expired says the agent SVID is past its notAfter at now.
func (a *agentSVID) expired(now time.Time) bool { return !now.Before(a.leaf.NotAfter) }

// Start trusts the server, loads or attests the agent SVID, and starts syncing in the background.
// It returns before the first registrations arrive: the Workload API can serve at once.
func Start(ctx context.Context, cfg Config) (*Manager, error) {
	m := &Manager{cfg: cfg, log: cfg.Logger, changed: make(chan struct{}), started: time.Now(),
		backoff: retry.Backoff{Base: 500 * time.Millisecond, Max: 15 * time.Second,
			Random: mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))},
		attestBackoff: retry.Backoff{Base: time.Second, Max: 30 * time.Second,
			Random: mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))}}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.jwts = newJWTCache()
	if cfg.DataDir != "" {
		// Before anything is read from it or attested: the agent's key must not go where others reach.
		if err := securedir.Ensure(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("agent: the data directory: %w", err)
		}
	}
	var roots []*x509.Certificate
	var err error
	if cfg.BundleFile != "" {
		roots, err = identity.ReadBundleFile(cfg.BundleFile)
	} else {
		// The server may not be up yet: fetched as attestation is retried (a wrong pin is not retried).
		roots, err = untilAnswered(ctx, "fetching the pinned trust bundle", m.attestBackoff, m.started,
			cfg.AttestRetryTimeout, m.log, func() ([]*x509.Certificate, error) {
				return identity.FetchPinnedBundle(ctx, cfg.Server, cfg.RootFingerprint)
			})
	}
	if err != nil {
		return nil, err
	}
	if len(roots) == 0 {
		return nil, errors.New("agent: the trust bundle holds no root")
	}
	// The trust domain is the agent SVID's, known once it is loaded or attested.
	m.state.Store(&State{Roots: roots, JWTKeys: map[string]crypto.PublicKey{}})

	if loaded, ok := m.loadAgentSVID(roots); ok {
		m.agent.Store(loaded)
		m.log.Info("using the agent SVID on disk", "spiffe_id", loaded.id, "expires", loaded.leaf.NotAfter)
	} else if err := m.attest(ctx); err != nil {
		return nil, err
	}
	td := m.agent.Load().id.TrustDomain()
	m.update(func(s State) State { s.TrustDomain = td; return s })
	conn, err := m.dial()
	if err != nil {
		return nil, err
	}
	m.conn.Store(conn)
	m.follower = revocation.NewFollower(m, revocation.WithLogger(m.log), revocation.WithOnChange(m.applyRevocations))
	m.revocations = m.follower

	runCtx, stop := context.WithCancel(context.Background())
	m.stop = stop
	m.wg.Add(5)
	go func() { defer m.wg.Done(); m.syncLoop(runCtx) }()
	go func() { defer m.wg.Done(); m.expireLoop(runCtx) }()
	go func() { defer m.wg.Done(); m.renewAgentLoop(runCtx) }()
	go func() { defer m.wg.Done(); m.watchBundle(runCtx) }()
	go func() { defer m.wg.Done(); _ = m.follower.Run(runCtx) }()
	return m, nil
}

// Close stops the background work and closes the connection.
func (m *Manager) Close() {
	if m.stop != nil {
		m.stop()
	}
	m.wg.Wait()
	if c := m.conn.Load(); c != nil {
		c.Close()
	}
}

// State is the current snapshot.
func (m *Manager) State() *State { return m.state.Load() }

// Changed is closed at the next change of the state.
func (m *Manager) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// AgentID is the agent's own SPIFFE ID.
func (m *Manager) AgentID() spiffeid.ID { return m.agent.Load().id }

// Revoked says whether a token id, an identity or a certificate serial (lower-case hex) is revoked,
// as the revocation follower knows it.
func (m *Manager) Revoked(jti, spiffeID, serial string) (string, bool) {
	if m.revocations == nil {
		return "", false
	}
	return m.revocations.Revoked(jti, spiffeID, serial)
}

// RevocationsLoaded is closed once the revocation follower has caught up for the first time.
func (m *Manager) RevocationsLoaded() <-chan struct{} { return m.follower.Loaded() }

// Conn is the current mTLS connection to Lanyard (revocation.Conns).
func (m *Manager) Conn() *grpc.ClientConn { return m.conn.Load() }

// update replaces the state under the lock with what change returns, and wakes the watchers.
func (m *Manager) update(change func(old State) State) {
	m.updateIf(func(old State) (State, bool) { return change(old), true })
}

// updateIf is update where change may say that nothing changed (then nothing is replaced).
func (m *Manager) updateIf(change func(old State) (State, bool)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next, changed := change(*m.state.Load())
	if !changed {
		return
	}
	next.Version = m.state.Load().Version + 1
	m.state.Store(&next)
	close(m.changed)
	m.changed = make(chan struct{})
}

// dial connects presenting the current agent SVID and accepting only Lanyard's server SVID.
func (m *Manager) dial() (*grpc.ClientConn, error) { return m.dialPresenting(true) }

// dialPresenting is dial, presenting the agent SVID only if present: node attestation presents none
// (the agent SVID it replaces may have expired, and the server refuses a call that presents an expired one).
func (m *Manager) dialPresenting(present bool) (*grpc.ClientConn, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // the server is verified as an SVID below
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if a := m.agent.Load(); a != nil && present {
				return &a.cert, nil
			}
			return &tls.Certificate{}, nil
		},
		VerifyPeerCertificate: m.verifyServer,
	}
	return grpc.NewClient(m.cfg.Server, identity.DialOptions(credentials.NewTLS(cfg))...)
}

func (m *Manager) verifyServer(raw [][]byte, _ [][]*x509.Certificate) error {
	var chain []*x509.Certificate
	for _, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return errors.New("agent: the server presented no certificate")
	}
	id, err := x509svid.IDFromCert(chain[0])
	if err != nil {
		return err
	}
	bundle := x509bundle.FromX509Authorities(id.TrustDomain(), m.state.Load().Roots)
	if _, _, err := x509svid.Verify(chain, bundle); err != nil {
		return fmt.Errorf("agent: the server's certificate: %w", err)
	}
	if id.Path() != "/lanyard/server" {
		return fmt.Errorf("agent: the server presented %s, not the Lanyard server", id)
	}
	if td := m.state.Load().TrustDomain; !td.IsZero() && td != id.TrustDomain() {
		return fmt.Errorf("agent: the server is in trust domain %s, not %s", id.TrustDomain(), td)
	}
	return nil
}

// attest proves the node and stores the agent SVID (in memory and on disk), retrying what is
// transient within cfg.AttestRetryTimeout of the start.
func (m *Manager) attest(ctx context.Context) error {
	return m.attestWithin(ctx, m.started, m.cfg.AttestRetryTimeout)
}

// attestWithin is attest, retrying what is transient until limit has passed since started (zero: until
// ctx ends).
func (m *Manager) attestWithin(ctx context.Context, started time.Time, limit time.Duration) error {
	if m.cfg.Evidence == nil {
		return errors.New("agent: no usable agent SVID on disk and no way to attest")
	}
	evidence, err := m.cfg.Evidence()
	if err != nil {
		return err
	}
	key, csr, err := newKeyAndCSR()
	if err != nil {
		return err
	}
	// The evidence is read once and sent again on a retry (the server refuses a join token it used). A
	// token the server answered UNAVAILABLE for is not used; one on a connection that broke after it was
	// sent may be, and gRPC reports both as UNAVAILABLE: spent says the exit message must warn of it.
	spent := false
	resp, err := untilAnswered(ctx, "node attestation", m.attestBackoff, started, limit, m.log,
		func() (*lanyardv1.CertificateResponse, error) {
			conn, err := m.dialPresenting(false)
			if err != nil {
				return nil, err
			}
			defer conn.Close()
			resp, err := nodeattest.Attest(ctx, conn, evidence, csr)
			var sent *nodeattest.SentError
			if retry.IsTransient(err) && errors.As(err, &sent) && evidence.SingleUse() {
				spent = true
			}
			return resp, err
		})
	if err != nil {
		if spent {
			return fmt.Errorf("%w (an earlier attempt broke after the join token was sent: if the server used it"+
				" then, it is spent; create a new one with `lanyard join-token create --agent`)", err)
		}
		return err
	}
	a, err := m.acceptAgent(resp, key)
	if err != nil {
		return err
	}
	m.agent.Store(a)
	m.saveAgentSVID(a, key)
	m.log.Info("node attested", "spiffe_id", a.id, "expires", a.leaf.NotAfter)
	return nil
}

func (m *Manager) acceptAgent(resp *lanyardv1.CertificateResponse, key *ecdsa.PrivateKey) (*agentSVID, error) {
	chain, err := parseChain(resp)
	if err != nil {
		return nil, err
	}
	id, err := m.verifySVID(chain)
	if err != nil {
		return nil, fmt.Errorf("agent: the agent SVID: %w", err)
	}
	if pub, ok := chain[0].PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("agent: the agent SVID is not for the agent's key")
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return &agentSVID{id: id, cert: cert, leaf: chain[0]}, nil
}

func (m *Manager) verifySVID(chain []*x509.Certificate) (spiffeid.ID, error) {
	id, err := x509svid.IDFromCert(chain[0])
	if err != nil {
		return spiffeid.ID{}, err
	}
	bundle := x509bundle.FromX509Authorities(id.TrustDomain(), m.state.Load().Roots)
	if _, _, err := x509svid.Verify(chain, bundle); err != nil {
		return spiffeid.ID{}, err
	}
	return id, nil
}

// renewAgentLoop renews the agent SVID at half-life (with jitter); a revoked agent stops.
func (m *Manager) renewAgentLoop(ctx context.Context) {
	failures := 0
	for {
		wait := time.Until(renewAt(m.agent.Load().leaf))
		if failures > 0 {
			wait = m.backoff.Delay(failures - 1)
		}
		if retry.Sleep(ctx, wait) != nil {
			return
		}
		if m.revoked.Load() {
			// Nothing is renewed while the agent is revoked; it may be reinstated.
			failures = 0
			if retry.Sleep(ctx, m.cfg.SyncInterval) != nil {
				return
			}
			continue
		}
		if err := m.renewOrReattest(ctx); err != nil {
			failures++
			m.log.Warn("agent SVID renewal failed; retrying", "error", err)
			continue
		}
		failures = 0
	}
}

func (m *Manager) renewAgent(ctx context.Context) error {
	key, csr, err := newKeyAndCSR()
	if err != nil {
		return err
	}
	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := lanyardv1.NewAgentServiceClient(m.Conn()).RenewAgent(callCtx, &lanyardv1.RenewAgentRequest{Csr: csr})
	if err != nil {
		return err
	}
	a, err := m.acceptAgent(resp, key)
	if err != nil {
		return err
	}
	m.agent.Store(a)
	m.saveAgentSVID(a, key)
	if err := m.redial(); err != nil {
		return err
	}
	m.log.Info("renewed the agent SVID", "expires", a.leaf.NotAfter)
	return nil
}

// redial makes the connection that presents the current agent SVID: new TLS sessions present the new
// certificate; the old connection ends after its streams moved.
func (m *Manager) redial() error {
	conn, err := m.dial()
	if err != nil {
		return err
	}
	old := m.conn.Swap(conn)
	time.AfterFunc(30*time.Second, func() { old.Close() })
	return nil
}

// renewAt is half of the certificate's life, moved earlier by up to a tenth of it so a fleet of
// agents (or SVIDs) issued together does not renew together.
func renewAt(leaf *x509.Certificate) time.Time {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	jitter := time.Duration(mrand.Int64N(int64(life/10) + 1))
	return leaf.NotBefore.Add(life/2 - jitter)
}

func newKeyAndCSR() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, nil, err
	}
	return key, csr, nil
}

func parseChain(resp *lanyardv1.CertificateResponse) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for _, der := range append([][]byte{resp.GetCertificate()}, resp.GetChain()...) {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("agent: the server sent an unreadable certificate: %w", err)
		}
		chain = append(chain, c)
	}
	return chain, nil
}

// applyRevocations drops every SVID the follower says is revoked (identity or serial), at once;
// if the agent itself is revoked, it drops everything and stops asking.
func (m *Manager) applyRevocations() {
	a := m.agent.Load()
	if _, revoked := m.follower.Revoked("", a.id.String(), a.leaf.SerialNumber.Text(16)); revoked {
		if !m.revoked.Swap(true) {
			m.log.Warn("this agent was revoked; it serves no identity any more", "spiffe_id", a.id)
			// A restart must prove the node again, which the server refuses until an admin reinstates it.
			m.forgetAgentSVID()
		}
		m.update(func(s State) State { s.SVIDs = nil; return s })
		return
	}
	// Reinstated (the follower replays a revocation and its reinstatement one event at a time, so
	// an agent started after both passes through "revoked" first): serve and renew again, and keep
	// the agent SVID on disk again. The next sync brings the registrations' SVIDs back.
	if m.revoked.Swap(false) {
		m.log.Info("this agent was reinstated; it serves again", "spiffe_id", a.id)
		if key, ok := a.cert.PrivateKey.(*ecdsa.PrivateKey); ok {
			m.saveAgentSVID(a, key)
		}
	}
	isRevoked := func(s *SVID) bool {
		_, revoked := m.isRevoked(s)
		return revoked
	}
	// Checked under the state lock, so an SVID a sync is merging at the same time is either seen
	// here or refused by the merge (which asks the follower, which already holds the revocation).
	dropped := false
	m.updateIf(func(s State) (State, bool) {
		if !slices.ContainsFunc(s.SVIDs, isRevoked) {
			return s, false
		}
		s.SVIDs = slices.DeleteFunc(slices.Clone(s.SVIDs), isRevoked)
		dropped = true
		return s, true
	})
	if dropped {
		m.log.Info("dropped revoked identities")
	}
}
