// Package token fetches the tokens a workload sends to the services it calls
// (TokenService.IssueToken) and caches each until shortly before it expires. A token is bound to
// the certificate it was minted over, so the cache is keyed by that certificate's serial too: after
// a renewal the next call gets a token bound to the new certificate.
package token

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// Credentials is what the fetcher needs of the workload's identity; identity.Source is one.
type Credentials interface {
	// Conn is the current mTLS connection to Lanyard.
	Conn() *grpc.ClientConn
	// Serial is the serial of the certificate that connection presents.
	Serial() string
}

// Fetcher mints and caches tokens. Safe for concurrent use.
type Fetcher struct {
	creds Credentials
	now   func() time.Time
	// refreshBefore: a cached token is replaced when less than this (or a fifth of its life) remains,
	// so a token never expires in flight.
	refreshBefore time.Duration

	mu       sync.Mutex
	cache    map[string]entry
	inflight map[string]*mint // one IssueToken per key at a time: callers at expiry share it
}

type mint struct {
	done  chan struct{}
	token string
	err   error
}

type entry struct {
	token     string
	expiresAt time.Time
	refreshAt time.Time
}

// Option configures a Fetcher.
type Option func(*Fetcher)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(f *Fetcher) { f.now = now } }

// WithRefreshBefore sets how long before expiry a cached token is replaced (default 30 s).
func WithRefreshBefore(d time.Duration) Option { return func(f *Fetcher) { f.refreshBefore = d } }

// NewFetcher returns a fetcher minting over creds.
func NewFetcher(creds Credentials, opts ...Option) *Fetcher {
	f := &Fetcher{creds: creds, now: time.Now, refreshBefore: 30 * time.Second, cache: map[string]entry{},
		inflight: map[string]*mint{}}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Token returns a token for audience holding scopes, from the cache while it is fresh. The token
// is a secret: send it as `authorization: Bearer <token>` and never log it. Errors keep the gRPC
// status of the refusal (retry.IsTransient tells whether to retry).
func (f *Fetcher) Token(ctx context.Context, audience string, scopes []string) (string, error) {
	if audience == "" {
		return "", errors.New("token: an audience is required")
	}
	if len(scopes) == 0 {
		return "", errors.New("token: at least one scope is required")
	}
	sorted := slices.Clone(scopes)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	serial := f.creds.Serial()
	key := serial + "\x00" + audience + "\x00" + strings.Join(sorted, " ")
	f.mu.Lock()
	if e, ok := f.cache[key]; ok && f.now().Before(e.refreshAt) {
		f.mu.Unlock()
		return e.token, nil
	}
	if m, ok := f.inflight[key]; ok {
		f.mu.Unlock()
		select {
		case <-m.done:
			return m.token, m.err
		case <-ctx.Done():
			return "", fmt.Errorf("token: waiting for a token for audience %q: %w", audience, ctx.Err())
		}
	}
	m := &mint{done: make(chan struct{})}
	f.inflight[key] = m
	f.mu.Unlock()

	m.token, m.err = f.mint(ctx, key, serial, audience, sorted)
	f.mu.Lock()
	delete(f.inflight, key)
	f.mu.Unlock()
	close(m.done)
	return m.token, m.err
}

func (f *Fetcher) mint(ctx context.Context, key, serial, audience string, scopes []string) (string, error) {
	resp, err := lanyardv1.NewTokenServiceClient(f.creds.Conn()).IssueToken(ctx,
		&lanyardv1.IssueTokenRequest{Audience: audience, Scopes: scopes})
	if err != nil {
		return "", fmt.Errorf("token: minting a token for audience %q, scopes %q: %w", audience, scopes, err)
	}
	now := f.now()
	exp := resp.GetExpiresAt().AsTime()
	margin := min(f.refreshBefore, exp.Sub(now)/5)
	e := entry{token: resp.GetToken(), expiresAt: exp, refreshAt: exp.Add(-margin)}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, old := range f.cache {
		if !now.Before(old.expiresAt) || !strings.HasPrefix(k, serial+"\x00") {
			delete(f.cache, k) // expired, or bound to a certificate no longer presented
		}
	}
	f.cache[key] = e
	return e.token, nil
}
