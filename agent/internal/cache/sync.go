package cache

import (
	"context"
	"crypto/x509"
	"slices"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/types/known/durationpb"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/retry"
)

// syncLoop fetches the entries and renews what is due, every SyncInterval; after a failure (the
// server is down) it keeps serving what it holds (expireLoop drops each SVID as it expires) and
// retries with backoff.
func (m *Manager) syncLoop(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		wait := m.cfg.SyncInterval
		if err := m.SyncNow(ctx); err != nil {
			if !m.revoked.Load() {
				m.log.Warn("sync with Lanyard failed; serving the cached SVIDs", "error", err)
			}
			wait = min(m.backoff.Delay(failures), m.cfg.SyncInterval)
			failures++
		} else {
			failures = 0
		}
		if retry.Sleep(ctx, wait) != nil {
			return
		}
	}
}

// SyncNow fetches the entries, gets SVIDs for new, changed or due ones in batches, and drops the
// SVIDs of entries that are gone.
func (m *Manager) SyncNow(ctx context.Context) error {
	if m.revoked.Load() {
		return nil
	}
	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := lanyardv1.NewAgentServiceClient(m.Conn())
	resp, err := client.ListEntries(callCtx, &lanyardv1.ListEntriesRequest{})
	if err != nil {
		return err
	}
	held := map[string]*SVID{}
	for _, s := range m.State().SVIDs {
		held[s.ID.String()] = s
	}
	now := time.Now()
	entries := map[string]*lanyardv1.Registration{}
	var due []*lanyardv1.Registration
	for _, e := range resp.GetEntries() {
		entries[e.GetSpiffeId()] = e
		s, ok := held[e.GetSpiffeId()]
		if !ok || now.After(s.RenewAt) || !slices.Equal(s.Selectors, e.GetSelectors()) {
			due = append(due, e)
		}
	}
	fresh := map[string]*SVID{}
	var firstErr error
	for chunk := range slices.Chunk(due, batchSize) {
		got, err := m.issue(callCtx, client, chunk)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		for _, s := range got {
			fresh[s.ID.String()] = s
		}
	}
	m.merge(entries, fresh, resp.GetTokenIssuer())
	return firstErr
}

// merge puts the fresh SVIDs of a sync into the state, under the state lock: entries are the
// registrations listed (an SVID whose entry is gone goes too), fresh the SVIDs just issued. An SVID
// the revocation follower says is revoked (by identity or serial) is not kept, fresh or not: a
// revocation that arrived while the batch was in flight was applied to the state as it was then, and
// must not come back with the batch. (applyRevocations checks under the same lock, after the
// follower holds the revocation, so one of the two always sees the other.) A revoked agent keeps none.
// tokenIssuer is the iss the server said its tokens carry, in the same answer as entries.
func (m *Manager) merge(entries map[string]*lanyardv1.Registration, fresh map[string]*SVID, tokenIssuer string) {
	m.update(func(s State) State {
		s.TokenIssuer = tokenIssuer
		if m.revoked.Load() {
			s.SVIDs = nil
			return s
		}
		var next []*SVID
		for _, cur := range s.SVIDs {
			if _, listed := entries[cur.ID.String()]; !listed {
				continue // the entry is gone: so is its identity
			}
			if f, ok := fresh[cur.ID.String()]; ok {
				next = append(next, f)
				delete(fresh, cur.ID.String())
			} else if fw := entries[cur.ID.String()].GetFederatesWith(); !slices.Equal(cur.FederatesWith, fw) {
				changed := *cur // federating with other trust domains needs no new certificate
				changed.FederatesWith = slices.Clone(fw)
				next = append(next, &changed)
			} else {
				next = append(next, cur)
			}
		}
		for _, f := range fresh {
			next = append(next, f)
		}
		next = slices.DeleteFunc(next, func(svid *SVID) bool {
			what, revoked := m.isRevoked(svid)
			if revoked {
				m.log.Info("not serving a revoked identity the server issued", "spiffe_id", svid.ID, "revoked", what)
			}
			return revoked
		})
		slices.SortFunc(next, func(a, b *SVID) int {
			if a.ID.String() < b.ID.String() {
				return -1
			}
			return 1
		})
		s.SVIDs = next
		return s
	})
}

// isRevoked asks the revocation follower about an SVID's identity and serial.
func (m *Manager) isRevoked(s *SVID) (string, bool) {
	if m.revocations == nil {
		return "", false
	}
	return m.revocations.Revoked("", s.ID.String(), s.Serial)
}

// issue asks for one batch; an entry the server refuses is logged and keeps its old SVID, if any.
func (m *Manager) issue(ctx context.Context, client lanyardv1.AgentServiceClient,
	entries []*lanyardv1.Registration) ([]*SVID, error) {
	req := &lanyardv1.BatchNewX509SvidRequest{}
	keys := map[string]*keyed{}
	for _, e := range entries {
		key, csr, err := newKeyAndCSR()
		if err != nil {
			return nil, err
		}
		keys[e.GetSpiffeId()] = &keyed{key: key, entry: e}
		p := &lanyardv1.SvidParams{SpiffeId: e.GetSpiffeId(), Csr: csr}
		if m.cfg.SVIDTTL > 0 {
			p.Ttl = durationpb.New(m.cfg.SVIDTTL)
		}
		req.Params = append(req.Params, p)
	}
	resp, err := client.BatchNewX509Svid(ctx, req)
	if err != nil {
		return nil, err
	}
	var out []*SVID
	for _, r := range resp.GetResults() {
		k, ok := keys[r.GetSpiffeId()]
		if !ok {
			continue
		}
		if r.GetErrorCode() != "" {
			m.log.Warn("the server refused an SVID", "spiffe_id", r.GetSpiffeId(), "code", r.GetErrorCode(),
				"reason", r.GetErrorMessage())
			continue
		}
		s, err := m.accept(r.GetSvid(), k)
		if err != nil {
			m.log.Warn("ignoring an SVID that does not verify", "spiffe_id", r.GetSpiffeId(), "error", err)
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

func (m *Manager) accept(resp *lanyardv1.CertificateResponse, k *keyed) (*SVID, error) {
	chain, err := parseChain(resp)
	if err != nil {
		return nil, err
	}
	id, err := m.verifySVID(chain)
	if err != nil {
		return nil, err
	}
	if id.String() != k.entry.GetSpiffeId() {
		return nil, errMismatch(id)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, err
	}
	return &SVID{ID: id, Chain: chain, Key: k.key, KeyPKCS8: der, Serial: chain[0].SerialNumber.Text(16),
		Selectors: slices.Clone(k.entry.GetSelectors()), FederatesWith: slices.Clone(k.entry.GetFederatesWith()),
		RenewAt: renewAt(chain[0])}, nil
}

// expireLoop drops each SVID when it expires, so that the streams serving it are told then: an
// SVID is kept through a server outage until its notAfter, not after. It does not wait for the sync
// loop, which may sleep a whole SyncInterval, or a call's 30 s on a server that does not answer.
func (m *Manager) expireLoop(ctx context.Context) {
	for {
		changed := m.Changed() // before the state is read: a change after the read wakes us
		m.dropExpired()
		var expiry <-chan time.Time
		var timer *time.Timer
		if next, ok := m.State().nextExpiry(); ok {
			timer = time.NewTimer(time.Until(next))
			expiry = timer.C
		}
		select {
		case <-changed:
		case <-expiry:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// dropExpired removes SVIDs past their notAfter.
func (m *Manager) dropExpired() {
	now := time.Now()
	expired := func(s *SVID) bool { return s.Expired(now) }
	if !slices.ContainsFunc(m.State().SVIDs, expired) {
		return
	}
	m.update(func(s State) State {
		s.SVIDs = slices.DeleteFunc(slices.Clone(s.SVIDs), expired)
		return s
	})
}

type errMismatch spiffeid.ID

func (e errMismatch) Error() string {
	return "the certificate is for " + spiffeid.ID(e).String() + ", not the entry asked for"
}
