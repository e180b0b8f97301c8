// Package token fetches the tokens a workload sends to the services it calls
// (TokenService.IssueToken) and caches each until shortly before it expires. A token is bound to
// one of the workload's certificates (its cnf claim holds the certificate's x5t#S256), and the
// service it is sent to refuses it over a connection presenting any other. So a token is always
// asked for the certificate the outgoing connection presents, it is minted over a connection to
// Lanyard presenting that same certificate, and the cache is keyed by that certificate's
// thumbprint: a renewal between minting and calling cannot pair a token with the wrong one.
package token

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/verify"
)

// Credentials is what the fetcher needs of the workload's identity; identity.Source is one.
type Credentials interface {
	// ConnPresenting is an mTLS connection to Lanyard that presents exactly cert, or an error if
	// the workload does not hold cert (any more).
	ConnPresenting(cert *x509.Certificate) (*grpc.ClientConn, error)
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
	expiresAt time.Time // the token's, or its certificate's if that comes first
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

// Token returns a token for audience holding scopes, bound to cert: the certificate the connection
// that will carry the token presents (with identity.Source, take svid := src.SVID() once, dial with
// src.ClientTLSConfigFor(svid, ...) and pass svid.Leaf here). From the cache while it is fresh.
// The token is a secret: send it as `authorization: Bearer <token>` and never log it. Errors keep
// the gRPC status of the refusal (retry.IsTransient tells whether to retry).
func (f *Fetcher) Token(ctx context.Context, cert *x509.Certificate, audience string, scopes []string) (string, error) {
	if cert == nil {
		return "", errors.New("token: the certificate the token is for is required")
	}
	if audience == "" {
		return "", errors.New("token: an audience is required")
	}
	if len(scopes) == 0 {
		return "", errors.New("token: at least one scope is required")
	}
	sorted := slices.Clone(scopes)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	thumbprint := verify.Thumbprint(cert)
	key := thumbprint + "\x00" + audience + "\x00" + strings.Join(sorted, " ")
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

	m.token, m.err = f.mint(ctx, key, cert, thumbprint, audience, sorted)
	f.mu.Lock()
	delete(f.inflight, key)
	f.mu.Unlock()
	close(m.done)
	return m.token, m.err
}

func (f *Fetcher) mint(ctx context.Context, key string, cert *x509.Certificate, thumbprint, audience string, scopes []string) (string, error) {
	conn, err := f.creds.ConnPresenting(cert)
	if err != nil {
		return "", fmt.Errorf("token: minting a token for audience %q: %w", audience, err)
	}
	resp, err := lanyardv1.NewTokenServiceClient(conn).IssueToken(ctx,
		&lanyardv1.IssueTokenRequest{Audience: audience, Scopes: scopes})
	if err != nil {
		return "", fmt.Errorf("token: minting a token for audience %q, scopes %q: %w", audience, scopes, err)
	}
	// Lanyard binds the token to the certificate our connection presented; check it is the one
	// asked for, so a mismatch shows here rather than as a refusal by the service called.
	if bound, err := boundTo(resp.GetToken()); err != nil || bound != thumbprint {
		return "", fmt.Errorf("token: Lanyard minted a token for audience %q bound to another certificate than serial %s, which the connection presented",
			audience, cert.SerialNumber.Text(16))
	}
	now := f.now()
	exp := resp.GetExpiresAt().AsTime()
	if cert.NotAfter.Before(exp) {
		exp = cert.NotAfter // useless once the certificate it is bound to has expired
	}
	margin := min(f.refreshBefore, exp.Sub(now)/5)
	e := entry{token: resp.GetToken(), expiresAt: exp, refreshAt: exp.Add(-margin)}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, old := range f.cache {
		if !now.Before(old.expiresAt) {
			delete(f.cache, k)
		}
	}
	f.cache[key] = e
	return e.token, nil
}

// boundTo reads the cnf x5t#S256 of a token we were handed; its signature is for the callee to check.
func boundTo(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims struct {
		Cnf struct {
			X5t string `json:"x5t#S256"`
		} `json:"cnf"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", err
	}
	return claims.Cnf.X5t, nil
}
