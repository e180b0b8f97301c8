// Package revocation follows Lanyard's RevocationService.WatchRevocations stream and answers
// whether a token id, an identity or a certificate serial is revoked. It resumes from the last
// sequence it saw (from 0, keeping what it holds, when the server refuses that sequence with
// OUT_OF_RANGE), and treats a stream that misses two heartbeats as dead and reconnects. While the
// stream is down it falls back to Lanyard's signed CRLs (WithCRLFallback, CRLsOf), which cover
// certificates.
package revocation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/retry"
)

// Conns gives the current connection to Lanyard; identity.Source is one.
type Conns interface {
	Conn() *grpc.ClientConn
}

// errSilent is why a stream was given up: no message within two heartbeat intervals.
var errSilent = errors.New("revocation: no heartbeat within two intervals; the stream is dead")

// Follower keeps the set of revocations in force. Safe for concurrent use.
type Follower struct {
	conns        Conns
	now          func() time.Time
	log          *slog.Logger
	backoff      retry.Backoff
	firstSilence time.Duration

	mu          sync.RWMutex
	sequence    int64
	jtis        map[string]map[string]held // by jti, then by the trust domain that revoked it
	serials     map[string]map[string]held // by lower-case hex serial, then as jtis
	identities  map[string]struct{}
	crl         *crlFallback
	crlSerials  map[string]map[string]struct{} // by CRL URL
	connected   bool
	connections int
	onChange    func()
	loaded      chan struct{} // closed at the first catch-up
	loadOnce    sync.Once
}

// held is a revocation of a certificate or a token.
type held struct {
	until       time.Time // when it stops mattering (zero: never)
	trustDomain string    // "" for Lanyard's own; else the federated trust domain that revoked it
}

// appliesTo says whether a revocation held refuses a peer or token of spiffeID: one a federated
// trust domain revoked refuses only that trust domain's (or, when the ID is not known, anyone).
func (h held) appliesTo(spiffeID string) bool {
	if h.trustDomain == "" || spiffeID == "" {
		return true
	}
	id, err := spiffeid.FromString(spiffeID)
	return err != nil || id.TrustDomain().Name() == h.trustDomain
}

// Option configures a Follower.
type Option func(*Follower)

// WithClock sets the clock used to drop expired revocations (default time.Now).
func WithClock(now func() time.Time) Option { return func(f *Follower) { f.now = now } }

// WithLogger sets where reconnects are reported (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(f *Follower) { f.log = l } }

// WithBackoff sets the wait between reconnects.
func WithBackoff(b retry.Backoff) Option { return func(f *Follower) { f.backoff = b } }

// WithFirstSilence bounds the wait for the first message of a stream, before the server has told
// its heartbeat interval (default 60 s).
func WithFirstSilence(d time.Duration) Option { return func(f *Follower) { f.firstSilence = d } }

// WithOnChange sets a function called (outside the follower's lock) after each revocation or
// reinstatement is applied, so a holder of credentials can drop a revoked one at once.
func WithOnChange(f func()) Option { return func(fl *Follower) { fl.onChange = f } }

// NewFollower returns a follower; call Run to start following.
func NewFollower(conns Conns, opts ...Option) *Follower {
	f := &Follower{conns: conns, now: time.Now, log: slog.Default(), firstSilence: time.Minute,
		backoff: retry.Backoff{Base: 200 * time.Millisecond, Max: 15 * time.Second, Random: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))},
		jtis:    map[string]map[string]held{}, serials: map[string]map[string]held{}, identities: map[string]struct{}{},
		crlSerials: map[string]map[string]struct{}{}, loaded: make(chan struct{})}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Run follows the stream until ctx is done, reconnecting (from the last sequence seen, or from 0
// after OUT_OF_RANGE) after any failure or silence. It returns ctx.Err().
func (f *Follower) Run(ctx context.Context) error {
	if f.crl != nil {
		crlCtx, stop := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() { f.followCRLs(crlCtx); close(stopped) }()
		defer func() { stop(); <-stopped }()
	}
	failures := 0
	for {
		err := f.follow(ctx, &failures)
		f.setConnected(false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if status.Code(err) == codes.OutOfRange {
			f.watchFromZero(err)
		}
		f.log.Warn("revocation watch interrupted; reconnecting", "error", err, "after_sequence", f.Sequence())
		if retry.Sleep(ctx, f.backoff.Delay(failures)) != nil {
			return ctx.Err()
		}
		failures++
	}
}

// watchFromZero makes the next watch replay everything: the server's store never handed out the
// sequence we asked to resume from (another store, or an older copy of this one). The revocations
// held stay held; one that store no longer has stays revoked here, the safe side.
func (f *Follower) watchFromZero(refusal error) {
	f.mu.Lock()
	seq := f.sequence
	f.sequence = 0
	f.mu.Unlock()
	f.log.Warn("the server does not know our revocation sequence; watching again from 0, keeping the revocations held",
		"after_sequence", seq, "error", refusal)
}

func (f *Follower) follow(ctx context.Context, failures *int) error {
	streamCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The watchdog cuts the stream when nothing arrives for two heartbeat intervals.
	watchdog := time.AfterFunc(f.firstSilence, func() { cancel(errSilent) })
	defer watchdog.Stop()
	stream, err := lanyardv1.NewRevocationServiceClient(f.conns.Conn()).WatchRevocations(streamCtx,
		&lanyardv1.WatchRevocationsRequest{AfterSequence: f.Sequence()})
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.connections++
	f.mu.Unlock()
	for {
		ev, err := stream.Recv()
		if err != nil {
			if cause := context.Cause(streamCtx); errors.Is(cause, errSilent) {
				return cause
			}
			return err
		}
		if hb := ev.GetHeartbeat(); hb != nil {
			if d := hb.GetInterval().AsDuration(); d > 0 {
				watchdog.Reset(2 * d)
			}
			f.setConnected(true)
			f.loadOnce.Do(func() { close(f.loaded) })
			*failures = 0
			continue
		}
		watchdog.Reset(f.firstSilence)
		if err := f.apply(ev); err != nil {
			return err
		}
		if f.onChange != nil {
			f.onChange()
		}
	}
}

func (f *Follower) apply(ev *lanyardv1.RevocationEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ev.GetSequence() <= f.sequence {
		return nil // already applied (a replay overlapping what we saw)
	}
	switch e := ev.GetEvent().(type) {
	case *lanyardv1.RevocationEvent_Revoked:
		var until time.Time
		if e.Revoked.GetExpiresAt() != nil {
			until = e.Revoked.GetExpiresAt().AsTime()
		}
		switch t := e.Revoked.GetTarget().GetTarget().(type) {
		case *lanyardv1.RevocationTarget_Jti:
			hold(f.jtis, t.Jti, held{until, e.Revoked.GetTrustDomain()})
		case *lanyardv1.RevocationTarget_Serial:
			hold(f.serials, normalSerial(t.Serial), held{until, e.Revoked.GetTrustDomain()})
		case *lanyardv1.RevocationTarget_SpiffeId:
			f.identities[t.SpiffeId] = struct{}{}
		default:
			return fmt.Errorf("revocation: event %d revokes an unknown kind of target", ev.GetSequence())
		}
	case *lanyardv1.RevocationEvent_Reinstated:
		delete(f.identities, e.Reinstated.GetSpiffeId())
	default:
		return fmt.Errorf("revocation: event %d is of an unknown kind", ev.GetSequence())
	}
	f.sequence = ev.GetSequence()
	f.pruneLocked()
	return nil
}

// hold keeps a revocation of value beside those other trust domains hold of the same value: one
// federated trust domain's never replaces another's, or Lanyard's own.
func hold(m map[string]map[string]held, value string, h held) {
	if m[value] == nil {
		m[value] = map[string]held{}
	}
	m[value][h.trustDomain] = h
}

// refusing is a revocation of value held that refuses spiffeID, if any.
func refusing(m map[string]map[string]held, value, spiffeID string) bool {
	for _, h := range m[value] {
		if h.appliesTo(spiffeID) {
			return true
		}
	}
	return false
}

// pruneLocked drops revocations of certificates and tokens that have expired anyway.
func (f *Follower) pruneLocked() {
	now := f.now()
	for _, m := range []map[string]map[string]held{f.jtis, f.serials} {
		for k, byDomain := range m {
			for td, h := range byDomain {
				if !h.until.IsZero() && now.After(h.until) {
					delete(byDomain, td)
				}
			}
			if len(byDomain) == 0 {
				delete(m, k)
			}
		}
	}
}

func (f *Follower) setConnected(c bool) {
	f.mu.Lock()
	f.connected = c
	f.mu.Unlock()
}

// Revoked says whether the token id, the identity or the certificate serial (lower-case hex) is
// revoked, and which. Empty arguments are not looked up. A certificate or token that a federated
// trust domain revoked (Lanyard passes those on, tagged) refuses only a spiffeID of that trust domain.
func (f *Follower) Revoked(jti, spiffeID, serial string) (string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if _, ok := f.identities[spiffeID]; ok && spiffeID != "" {
		return "identity " + spiffeID, true
	}
	if serial != "" {
		serial = normalSerial(serial)
		if refusing(f.serials, serial, spiffeID) {
			return "certificate " + serial, true
		}
		for _, listed := range f.crlSerials {
			if _, ok := listed[serial]; ok {
				return "certificate " + serial + " (on the CRL)", true
			}
		}
	}
	if jti != "" && refusing(f.jtis, jti, spiffeID) {
		return "token " + jti, true
	}
	return "", false
}

// Loaded is closed once the stream has caught up for the first time (the server's first heartbeat
// follows its replay), and stays closed: what was learned stays known while the stream is down.
// Until then the revocations in force are unknown, and a verify.Verifier or an identity.Source
// given this follower refuses every token and peer.
func (f *Follower) Loaded() <-chan struct{} { return f.loaded }

// Sequence is the last revocation event applied.
func (f *Follower) Sequence() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.sequence
}

// Connected reports whether the stream is up and has sent a heartbeat.
func (f *Follower) Connected() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.connected
}

// Connections counts the streams opened so far (for status and tests).
func (f *Follower) Connections() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.connections
}
