// Package jwks fetches the JWT signing keys a Lanyard server publishes
// (/.well-known/jwks.json) and caches them for as long as the response's Cache-Control allows,
// refetching early when a token names a key it has not seen: that is how a verifier learns of a
// rotated key without a restart. No fetch of any kind starts less than one interval after the
// previous one, whatever the tokens presented and whatever the server answered, so neither a flood
// of made-up kids nor a failing server makes a verifier send more than one request per interval;
// and a lookup of a key already held never waits for a fetch. The interval is MinRefetch, or the
// server's max-age when that is shorter, and never less than MinInterval (a second): the server publishes a new key one
// publish lead (twice its max-age) before it signs, so a verifier must be able to refresh as often
// as max-age says. The Java and Rust verifiers follow the same rules.
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

// MaxAge caps how long a fetched copy is used without asking again, whatever max-age says, so a
// key the server stopped publishing is not trusted for long.
const MaxAge = time.Hour

// MinInterval is the floor under every interval between two fetches, whatever WithMinRefetch and
// max-age say: without it a flood of made-up kids would make a request each (Java's floor too).
const MinInterval = time.Second

// Cache is a KeySource over HTTP. Safe for concurrent use.
type Cache struct {
	url        string
	client     *http.Client
	now        func() time.Time
	minRefetch time.Duration
	defaultAge time.Duration
	interval   time.Duration // the least time between two fetches: see the package comment
	plainHTTP  bool          // AllowPlainHTTP was given

	fetching sync.Mutex // one fetch at a time; mu is never held across one

	mu        sync.Mutex
	keys      map[string]jose.JSONWebKey
	fetched   bool // a fetch succeeded once: keys holds a document
	expires   time.Time
	lastFetch time.Time // when the last fetch started, whatever its outcome
	lastErr   error     // why the last fetch failed, nil after a success
	fetches   int
}

// Option configures a Cache.
type Option func(*Cache)

// WithHTTPClient sets the client used to fetch (default: one with a 10 s timeout).
func WithHTTPClient(c *http.Client) Option { return func(k *Cache) { k.client = c } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(k *Cache) { k.now = now } }

// WithMinRefetch sets the least time between two fetches when max-age is longer (default 10 s);
// less than MinInterval counts as MinInterval.
func WithMinRefetch(d time.Duration) Option { return func(k *Cache) { k.minRefetch = d } }

// WithDefaultMaxAge is how long a response without max-age stays fresh (default 5 min).
func WithDefaultMaxAge(d time.Duration) Option { return func(k *Cache) { k.defaultAge = d } }

// AllowPlainHTTP accepts an http:// URL. Whoever is on the path of a plain-HTTP fetch can
// substitute keys and so forge any token: use it only for a dev server on loopback and in tests.
func AllowPlainHTTP() Option { return func(k *Cache) { k.plainHTTP = true } }

// NewCache returns a cache of the JWKS at url, which must be https (http:// only with
// AllowPlainHTTP). Nothing is fetched until the first lookup.
func NewCache(url string, opts ...Option) (*Cache, error) {
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
	switch {
	case strings.HasPrefix(url, "https://"):
	case strings.HasPrefix(url, "http://") && c.plainHTTP:
	case strings.HasPrefix(url, "http://"):
		return nil, fmt.Errorf("jwks: %q is plain http: anyone on the path could substitute the keys and forge tokens; use https (or jwks.AllowPlainHTTP() for a dev server or a test)", url)
	default:
		return nil, fmt.Errorf("jwks: %q is not an https URL", url)
	}
	c.minRefetch = max(c.minRefetch, MinInterval)
	c.interval = c.minRefetch
	return c, nil
}

// Key returns the published key with this kid. It fetches when the copy is stale, or when the kid
// is unknown, but never sooner than one interval after the previous fetch. A stale key is refreshed
// by one caller while the others go on with it; when the refresh fails, keys fetched before stay
// usable: a short outage of the server must not stop every verifier.
func (c *Cache) Key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	c.mu.Lock()
	key, known := c.keys[kid]
	now := c.now()
	fresh := c.fetched && now.Before(c.expires)
	due := now.Sub(c.lastFetch) >= c.interval
	seen := c.fetches
	c.mu.Unlock()
	switch {
	case known && (fresh || !due):
		return &key, nil
	case known:
		// Stale: refresh unless another caller is; the key held answers meanwhile.
		if !c.fetching.TryLock() {
			return &key, nil
		}
	default:
		// Unknown: a fetch in progress may bring it, so wait for that one; start one only when due.
		c.fetching.Lock()
	}
	err := c.fetchIfNoneSince(ctx, seen)
	c.fetching.Unlock()
	c.mu.Lock()
	found, ok := c.keys[kid]
	c.mu.Unlock()
	switch {
	case ok:
		return &found, nil
	case known && err != nil:
		return &key, nil // the refresh failed: the key held stays in use
	case err != nil:
		return nil, err
	}
	return nil, c.missing(kid)
}

// missing is why kid cannot be had now: no document was ever fetched, or none publishes it.
func (c *Cache) missing(kid string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fetched && c.lastErr != nil {
		return c.lastErr
	}
	return fmt.Errorf("jwks: kid %q: %w", printable.Of(kid), ErrUnknownKey)
}

// Fetches counts the HTTP fetches made so far (for tests and metrics).
func (c *Cache) Fetches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches
}

// fetchIfNoneSince fetches, with c.fetching held, unless a fetch started after the caller saw seen
// fetches (it has the newest copy already) or the previous one is less than an interval old.
func (c *Cache) fetchIfNoneSince(ctx context.Context, seen int) error {
	c.mu.Lock()
	now := c.now()
	if c.fetches != seen || (c.fetches > 0 && now.Sub(c.lastFetch) < c.interval) {
		c.mu.Unlock()
		return nil
	}
	c.lastFetch = now
	c.fetches++
	c.mu.Unlock()
	// The fetch serves every caller, so the caller that happens to start it cannot cut it short:
	// a token sent by a client that hangs up at once would otherwise spend the interval's fetch.
	keys, age, err := c.fetch(context.WithoutCancel(ctx))
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.lastErr = err
		return err
	}
	c.keys, c.fetched, c.lastErr = keys, true, nil
	age = min(age, MaxAge)
	c.expires = now.Add(age)
	c.interval = min(c.minRefetch, max(age, MinInterval))
	return nil
}

func (c *Cache) fetch(ctx context.Context) (map[string]jose.JSONWebKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("jwks: %w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("jwks: %w: fetching %s: %w", ErrUnavailable, c.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("jwks: %w: %s answered %s", ErrUnavailable, c.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("jwks: %w: reading %s: %w", ErrUnavailable, c.url, err)
	}
	if len(body) > maxDocumentBytes {
		return nil, 0, fmt.Errorf("jwks: %w: %s sent more than %d bytes", ErrUnavailable, c.url, maxDocumentBytes)
	}
	keys, err := Parse(body)
	if err != nil {
		return nil, 0, fmt.Errorf("jwks: %w: %s: %w", ErrUnavailable, c.url, err)
	}
	return keys, maxAge(resp.Header.Get("Cache-Control"), c.defaultAge), nil
}

// Parse reads a JWKS document into keys by kid. Private keys and signature keys without a kid are
// refused: a verifier must never hold a private key by accident. So is a document without a "keys"
// array (an error body, {}, null): it is not an empty key set, and a cache that took it for one would
// drop the keys it holds, where the Java and Rust caches keep them.
func Parse(document []byte) (map[string]jose.JSONWebKey, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(document, &members); err != nil {
		return nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	if members == nil {
		return nil, errors.New("not a JWKS document: null")
	}
	// Looked up by its exact name: encoding/json would also take "Keys" or "KEYS" for a struct field.
	var raw []json.RawMessage
	if err := json.Unmarshal(members["keys"], &raw); err != nil || raw == nil {
		return nil, errors.New(`not a JWKS document: no "keys" array`)
	}
	keys := make(map[string]jose.JSONWebKey, len(raw))
	for i, r := range raw {
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

// maxAge reads max-age from Cache-Control; no-store and no-cache mean 0: stale at once, refetched
// when next due (a second later at the soonest).
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
