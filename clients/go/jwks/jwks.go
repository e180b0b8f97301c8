// Package jwks fetches the JWT signing keys a Lanyard server publishes
// (/.well-known/jwks.json) and caches them for as long as the response's Cache-Control allows,
// refetching early (at most once per MinRefetch) when a token names a key it has not seen: that
// is how a verifier learns of a rotated key without a restart.
package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/lanyard-dev/lanyard/clients/go/internal/printable"
)

// ErrUnknownKey is returned (wrapped) when no published key has the requested kid.
var ErrUnknownKey = errors.New("no published key has this kid")

// ErrUnavailable is returned (wrapped) when the keys cannot be fetched and none are cached.
var ErrUnavailable = errors.New("the JWKS is unavailable")

// maxDocumentBytes bounds what is read from the server: a JWKS is a few kilobytes.
const maxDocumentBytes = 1 << 20

// Cache is a KeySource over HTTP. Safe for concurrent use.
type Cache struct {
	url        string
	client     *http.Client
	now        func() time.Time
	minRefetch time.Duration
	defaultAge time.Duration

	mu        sync.Mutex
	keys      map[string]jose.JSONWebKey
	fetched   bool
	expires   time.Time
	lastFetch time.Time
	fetches   int
}

// Option configures a Cache.
type Option func(*Cache)

// WithHTTPClient sets the client used to fetch (default: one with a 10 s timeout).
func WithHTTPClient(c *http.Client) Option { return func(k *Cache) { k.client = c } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(k *Cache) { k.now = now } }

// WithMinRefetch bounds how often an unknown kid may trigger a fetch (default 10 s).
func WithMinRefetch(d time.Duration) Option { return func(k *Cache) { k.minRefetch = d } }

// WithDefaultMaxAge is how long a response without max-age stays fresh (default 5 min).
func WithDefaultMaxAge(d time.Duration) Option { return func(k *Cache) { k.defaultAge = d } }

// NewCache returns a cache of the JWKS at url. Nothing is fetched until the first lookup.
func NewCache(url string, opts ...Option) (*Cache, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("jwks: %q is not an http(s) URL", url)
	}
	c := &Cache{
		url:        url,
		client:     &http.Client{Timeout: 10 * time.Second},
		now:        time.Now,
		minRefetch: 10 * time.Second,
		defaultAge: 5 * time.Minute,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Key returns the published key with this kid. It fetches when the cache is stale, or when the
// kid is unknown and the last fetch is at least MinRefetch old. When a refetch fails, keys
// fetched before stay usable: a short outage of the server must not stop every verifier.
func (c *Cache) Key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	key, known := c.keys[kid]
	stale := !c.fetched || !now.Before(c.expires)
	mayRefetch := !c.fetched || now.Sub(c.lastFetch) >= c.minRefetch
	if known && !stale {
		return &key, nil
	}
	if stale || mayRefetch {
		if err := c.fetchLocked(ctx, now); err != nil {
			if known {
				return &key, nil
			}
			return nil, err
		}
		if key, ok := c.keys[kid]; ok {
			return &key, nil
		}
	}
	return nil, fmt.Errorf("jwks: kid %q: %w", printable.Of(kid), ErrUnknownKey)
}

// Fetches counts the HTTP fetches made so far (for tests and metrics).
func (c *Cache) Fetches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches
}

func (c *Cache) fetchLocked(ctx context.Context, now time.Time) error {
	c.lastFetch = now
	c.fetches++
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return fmt.Errorf("jwks: %w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("jwks: %w: fetching %s: %w", ErrUnavailable, c.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks: %w: %s answered %s", ErrUnavailable, c.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("jwks: %w: reading %s: %w", ErrUnavailable, c.url, err)
	}
	if len(body) > maxDocumentBytes {
		return fmt.Errorf("jwks: %w: %s sent more than %d bytes", ErrUnavailable, c.url, maxDocumentBytes)
	}
	keys, err := Parse(body)
	if err != nil {
		return fmt.Errorf("jwks: %w: %s: %w", ErrUnavailable, c.url, err)
	}
	c.keys = keys
	c.fetched = true
	c.expires = now.Add(maxAge(resp.Header.Get("Cache-Control"), c.defaultAge))
	return nil
}

// Parse reads a JWKS document into keys by kid. Private keys and signature keys without a kid are
// refused: a verifier must never hold a private key by accident.
func Parse(document []byte) (map[string]jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(document, &raw); err != nil {
		return nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	keys := make(map[string]jose.JSONWebKey, len(raw.Keys))
	for i, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		switch {
		case !k.IsPublic():
			return nil, fmt.Errorf("key %d is a private key; a JWKS must publish public keys only", i)
		case k.KeyID == "" && k.Use != "" && k.Use != "sig":
			continue // e.g. the x509-svid keys of a SPIFFE bundle: never looked up by kid
		case k.KeyID == "":
			return nil, fmt.Errorf("key %d has no kid", i)
		}
		// Keys published for another use stay, so that a token naming one is refused for what it
		// is (the verifier checks use and algorithm), not as an unknown key.
		if _, dup := keys[k.KeyID]; dup {
			return nil, fmt.Errorf("kid %q appears twice", printable.Of(k.KeyID))
		}
		keys[k.KeyID] = k
	}
	return keys, nil
}

// Static is a fixed key set, for tests, vectors and keys delivered another way.
type Static map[string]jose.JSONWebKey

// Key returns the key with this kid.
func (s Static) Key(_ context.Context, kid string) (*jose.JSONWebKey, error) {
	if k, ok := s[kid]; ok {
		return &k, nil
	}
	return nil, fmt.Errorf("jwks: kid %q: %w", printable.Of(kid), ErrUnknownKey)
}

// maxAge reads max-age from Cache-Control; no-store and no-cache mean "refetch every time"
// (still bounded by MinRefetch for unknown kids, and by callers' own pacing).
func maxAge(header string, fallback time.Duration) time.Duration {
	age := fallback
	for _, part := range strings.Split(header, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		switch {
		case part == "no-store" || part == "no-cache":
			return 0
		case strings.HasPrefix(part, "max-age="):
			if n, err := strconv.ParseInt(strings.Trim(part[len("max-age="):], `"`), 10, 64); err == nil && n >= 0 {
				age = time.Duration(n) * time.Second
			}
		}
	}
	return age
}
