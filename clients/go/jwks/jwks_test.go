package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/lanyard-dev/lanyard/clients/go/jwks"
)

// publisher serves a JWKS over real HTTP and lets the test change it and its Cache-Control.
type publisher struct {
	mu           sync.Mutex
	keys         []jose.JSONWebKey
	cacheControl string
	status       int
	body         string // when set, sent as is instead of the keys
	hits         int
}

func (p *publisher) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hits++
	if p.status != 0 {
		w.WriteHeader(p.status)
		return
	}
	w.Header().Set("Cache-Control", p.cacheControl)
	if p.body != "" {
		w.Write([]byte(p.body))
		return
	}
	json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: p.keys})
}

func (p *publisher) set(f func(*publisher)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func newKey(t *testing.T, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestCacheHonoursMaxAgeAndRefetchesUnknownKidsAtMostOncePerInterval(t *testing.T) {
	pub := &publisher{keys: []jose.JSONWebKey{newKey(t, "a")}, cacheControl: "public, max-age=60"}
	srv := httptest.NewServer(pub)
	defer srv.Close()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c, err := jwks.NewCache(srv.URL, jwks.AllowPlainHTTP(), jwks.WithClock(clk.now), jwks.WithMinRefetch(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Key(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(30 * time.Second)
	if _, err := c.Key(ctx, "a"); err != nil || c.Fetches() != 1 {
		t.Fatalf("within max-age: %v, %d fetches", err, c.Fetches())
	}
	// A rotated-in key: the first unknown kid refetches, the next ones within 10 s do not.
	pub.set(func(p *publisher) { p.keys = append(p.keys, newKey(t, "b")) })
	if _, err := c.Key(ctx, "b"); err != nil || c.Fetches() != 2 {
		t.Fatalf("new kid: %v, %d fetches", err, c.Fetches())
	}
	for range 5 {
		if _, err := c.Key(ctx, "forged"); !errors.Is(err, jwks.ErrUnknownKey) {
			t.Fatalf("want ErrUnknownKey, got %v", err)
		}
	}
	if c.Fetches() != 2 {
		t.Fatalf("%d fetches; unknown kids must not refetch within the interval", c.Fetches())
	}
	clk.t = clk.t.Add(11 * time.Second)
	for range 5 {
		c.Key(ctx, "forged")
	}
	if c.Fetches() != 3 {
		t.Fatalf("%d fetches; an unknown kid refetches once per interval", c.Fetches())
	}
	// Past max-age the cache refetches; if the server is down, known keys stay usable.
	clk.t = clk.t.Add(61 * time.Second)
	pub.set(func(p *publisher) { p.status = http.StatusServiceUnavailable })
	if _, err := c.Key(ctx, "a"); err != nil {
		t.Fatalf("a known key during an outage: %v", err)
	}
	clk.t = clk.t.Add(11 * time.Second)
	if _, err := c.Key(ctx, "c"); !errors.Is(err, jwks.ErrUnavailable) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("an unknown key during an outage: %v", err)
	}
}

func TestNoStoreMeansRefetchOncePerSecondAtMost(t *testing.T) {
	pub := &publisher{keys: []jose.JSONWebKey{newKey(t, "a")}, cacheControl: "no-store"}
	srv := httptest.NewServer(pub)
	defer srv.Close()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c, _ := jwks.NewCache(srv.URL, jwks.AllowPlainHTTP(), jwks.WithClock(clk.now), jwks.WithMinRefetch(10*time.Second))
	for range 10 {
		if _, err := c.Key(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		clk.t = clk.t.Add(100 * time.Millisecond)
	}
	if c.Fetches() != 1 {
		t.Fatalf("%d fetches in a second with no-store; at most one per second", c.Fetches())
	}
	c.Key(context.Background(), "a")
	if c.Fetches() != 2 {
		t.Fatalf("%d fetches; no-store refetches once a second has passed", c.Fetches())
	}
}

// Lanyard publishes a new key one publish lead (twice the refresh hint, its max-age) before it signs:
// a max-age shorter than MinRefetch is honoured, or a verifier could meet a token of a key it has
// not fetched and not be allowed to fetch it yet.
func TestAMaxAgeShorterThanMinRefetchIsHonoured(t *testing.T) {
	pub := &publisher{keys: []jose.JSONWebKey{newKey(t, "a")}, cacheControl: "max-age=1"}
	srv := httptest.NewServer(pub)
	defer srv.Close()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c, _ := jwks.NewCache(srv.URL, jwks.AllowPlainHTTP(), jwks.WithClock(clk.now), jwks.WithMinRefetch(10*time.Second))
	if _, err := c.Key(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	pub.set(func(p *publisher) { p.keys = append(p.keys, newKey(t, "b")) }) // prepared, not signing yet
	clk.t = clk.t.Add(time.Second)
	if _, err := c.Key(context.Background(), "a"); err != nil || c.Fetches() != 2 {
		t.Fatalf("a stale copy after max-age=1: %v, %d fetches", err, c.Fetches())
	}
	if _, err := c.Key(context.Background(), "b"); err != nil || c.Fetches() != 2 {
		t.Fatalf("the prepared key, fetched with the refresh: %v, %d fetches", err, c.Fetches())
	}
}

// A server that answers errors (or cannot be reached) once the copy went stale is asked once per
// interval, not once per token: verifiers must not turn an outage into a flood, nor keep every
// token waiting on a fetch.
func TestAFailingServerIsAskedAtMostOncePerInterval(t *testing.T) {
	pub := &publisher{keys: []jose.JSONWebKey{newKey(t, "a")}, cacheControl: "max-age=60"}
	srv := httptest.NewServer(pub)
	defer srv.Close()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c, _ := jwks.NewCache(srv.URL, jwks.AllowPlainHTTP(), jwks.WithClock(clk.now), jwks.WithMinRefetch(10*time.Second))
	ctx := context.Background()
	if _, err := c.Key(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(61 * time.Second)
	pub.set(func(p *publisher) { p.status = http.StatusInternalServerError })
	for i := range 100 {
		if _, err := c.Key(ctx, "a"); err != nil {
			t.Fatalf("lookup %d of a known key during an outage: %v", i, err)
		}
		if _, err := c.Key(ctx, "unknown"); err == nil {
			t.Fatal("an unknown kid was found")
		}
	}
	if pub.hits != 2 {
		t.Fatalf("the server was asked %d times for 200 lookups within one interval; want 2 (the first fetch and one refresh)", pub.hits)
	}
	clk.t = clk.t.Add(10 * time.Second)
	pub.set(func(p *publisher) { p.status = 0; p.keys = append(p.keys, newKey(t, "b")) })
	if _, err := c.Key(ctx, "a"); err != nil || pub.hits != 3 {
		t.Fatalf("after the interval: %v, %d requests; want one more", err, pub.hits)
	}
	if _, err := c.Key(ctx, "b"); err != nil || pub.hits != 3 {
		t.Fatalf("the refreshed copy: %v, %d requests", err, pub.hits)
	}
}

// A refresh of a stale copy that hangs holds up only the caller that started it: the others go on
// with the keys held.
func TestAKnownKeyDoesNotWaitForARefresh(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var requests atomic.Int32
	pub := &publisher{keys: []jose.JSONWebKey{newKey(t, "a")}, cacheControl: "max-age=60"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) > 1 {
			once.Do(func() { close(entered) })
			<-release
		}
		pub.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(release)
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c, _ := jwks.NewCache(srv.URL, jwks.AllowPlainHTTP(), jwks.WithClock(clk.now))
	if _, err := c.Key(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(61 * time.Second)
	go c.Key(context.Background(), "a") // starts the refresh, which hangs
	<-entered
	done := make(chan error, 1)
	go func() { _, err := c.Key(context.Background(), "a"); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a lookup of a known key waited for the hanging refresh")
	}
}

func TestMaxAgeIsCappedAtAnHour(t *testing.T) {
	pub := &publisher{keys: []jose.JSONWebKey{newKey(t, "a")}, cacheControl: "max-age=31536000"}
	srv := httptest.NewServer(pub)
	defer srv.Close()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c, _ := jwks.NewCache(srv.URL, jwks.AllowPlainHTTP(), jwks.WithClock(clk.now))
	c.Key(context.Background(), "a")
	clk.t = clk.t.Add(jwks.MaxAge)
	c.Key(context.Background(), "a")
	if c.Fetches() != 2 {
		t.Fatalf("%d fetches; a copy is kept at most %s, whatever max-age says", c.Fetches(), jwks.MaxAge)
	}
}

func TestParseRefusesUnsafeDocuments(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	private, _ := json.Marshal(jose.JSONWebKey{Key: priv, KeyID: "p", Algorithm: "ES256"})
	noKid, _ := json.Marshal(jose.JSONWebKey{Key: &priv.PublicKey, Algorithm: "ES256"})
	pub, _ := json.Marshal(jose.JSONWebKey{Key: &priv.PublicKey, KeyID: "k", Algorithm: "ES256"})
	cases := []struct {
		doc, want string
	}{
		{`[]`, "not a JWKS document"},
		{`null`, "not a JWKS document"},
		{`{}`, `no "keys" array`},
		{`{"error":"upstream unavailable"}`, `no "keys" array`},
		{`{"keys":null}`, `no "keys" array`},
		{`{"keys":{}}`, `no "keys" array`},
		{`{"Keys":[` + string(pub) + `]}`, `no "keys" array`},
		{`{"keys":[` + string(private) + `]}`, "key 0 is a private key"},
		{`{"keys":[` + string(noKid) + `]}`, "key 0 has no kid"},
		{`{"keys":[` + string(pub) + `,` + string(pub) + `]}`, `kid "k" appears twice`},
	}
	for _, tc := range cases {
		if _, err := jwks.Parse([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	if _, err := jwks.NewCache("file:///etc/passwd"); err == nil {
		t.Error("a non-HTTP URL was accepted")
	}
}

// A refresh answered with a JSON document that is not a key set (no "keys" array: an error body, {},
// null) is a failed refresh, not an empty key set: the keys held stay in use, as in the Java and Rust
// caches, instead of every token being refused until the next fetch.
func TestADocumentWithoutKeysIsAFailedRefresh(t *testing.T) {
	for _, body := range []string{`{}`, `null`, `{"error":"upstream unavailable"}`, `{"keys":null}`} {
		pub := &publisher{keys: []jose.JSONWebKey{newKey(t, "a")}, cacheControl: "max-age=60"}
		srv := httptest.NewServer(pub)
		clk := &clock{t: time.Unix(1_800_000_000, 0)}
		c, _ := jwks.NewCache(srv.URL, jwks.AllowPlainHTTP(), jwks.WithClock(clk.now))
		ctx := context.Background()
		if _, err := c.Key(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		clk.t = clk.t.Add(61 * time.Second)
		pub.set(func(p *publisher) { p.body = body })
		if _, err := c.Key(ctx, "a"); err != nil {
			t.Errorf("after a refresh answered %s: %v; want the key held", body, err)
		}
		if c.Fetches() != 2 {
			t.Errorf("%d fetches, want 2", c.Fetches())
		}
		srv.Close()
	}
	// An empty key set is a key set: it drops the keys held.
	pub := &publisher{keys: []jose.JSONWebKey{newKey(t, "a")}, cacheControl: "max-age=60"}
	srv := httptest.NewServer(pub)
	defer srv.Close()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c, _ := jwks.NewCache(srv.URL, jwks.AllowPlainHTTP(), jwks.WithClock(clk.now))
	if _, err := c.Key(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(61 * time.Second)
	pub.set(func(p *publisher) { p.body = `{"keys":[]}` })
	if _, err := c.Key(context.Background(), "a"); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Errorf("after a refresh to an empty key set: %v; want ErrUnknownKey", err)
	}
}

// Whoever answers a plain-HTTP fetch chooses the keys, and so can forge any token: http:// is
// refused unless the caller opts in, by name.
func TestPlainHTTPIsRefusedUnlessAllowed(t *testing.T) {
	_, err := jwks.NewCache("http://lanyard.example/.well-known/jwks.json")
	if err == nil || !strings.Contains(err.Error(), "plain http") || !strings.Contains(err.Error(), "AllowPlainHTTP") {
		t.Fatalf("want a refusal naming plain http and AllowPlainHTTP, got %v", err)
	}
	if _, err := jwks.NewCache("http://127.0.0.1:8080/.well-known/jwks.json", jwks.AllowPlainHTTP()); err != nil {
		t.Fatalf("with AllowPlainHTTP: %v", err)
	}
	if _, err := jwks.NewCache("https://lanyard.example/.well-known/jwks.json"); err != nil {
		t.Fatalf("https: %v", err)
	}
}

// The fetch an unknown kid starts serves every caller: a client that sends a made-up kid and hangs
// up at once must not spend the interval's fetch, or it could keep a verifier from learning a
// rotated-in key.
func TestACallerThatHangsUpDoesNotSpendTheFetch(t *testing.T) {
	pub := &publisher{keys: []jose.JSONWebKey{newKey(t, "a")}, cacheControl: "max-age=60"}
	srv := httptest.NewServer(pub)
	defer srv.Close()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c, _ := jwks.NewCache(srv.URL, jwks.AllowPlainHTTP(), jwks.WithClock(clk.now))
	if _, err := c.Key(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(11 * time.Second)
	pub.set(func(p *publisher) { p.keys = append(p.keys, newKey(t, "b")) })
	gone, hangUp := context.WithCancel(context.Background())
	hangUp()
	c.Key(gone, "b")
	if _, err := c.Key(context.Background(), "b"); err != nil || c.Fetches() != 2 {
		t.Fatalf("the rotated-in key after a caller hung up: %v, %d fetches", err, c.Fetches())
	}
}

// A key the server no longer publishes is refused as soon as a refresh succeeds, also by the lookup
// that made the refresh.
func TestAKeyNoLongerPublishedIsRefusedOnceRefreshed(t *testing.T) {
	pub := &publisher{keys: []jose.JSONWebKey{newKey(t, "a")}, cacheControl: "max-age=60"}
	srv := httptest.NewServer(pub)
	defer srv.Close()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c, _ := jwks.NewCache(srv.URL, jwks.AllowPlainHTTP(), jwks.WithClock(clk.now))
	if _, err := c.Key(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(61 * time.Second)
	pub.set(func(p *publisher) { p.keys = []jose.JSONWebKey{newKey(t, "b")} })
	if _, err := c.Key(context.Background(), "a"); !errors.Is(err, jwks.ErrUnknownKey) || c.Fetches() != 2 {
		t.Fatalf("a dropped key after a refresh: %v, %d fetches", err, c.Fetches())
	}
}

// WithMinRefetch cannot remove the floor: a burst of made-up kids, with a minimum of 0 (or less),
// still makes at most one request per second to the server, as the Java cache does.
func TestAMinRefetchBelowOneSecondKeepsTheOneSecondFloor(t *testing.T) {
	for _, minimum := range []time.Duration{0, -time.Second, time.Millisecond, 999 * time.Millisecond} {
		pub := &publisher{keys: []jose.JSONWebKey{newKey(t, "a")}, cacheControl: "no-store"}
		srv := httptest.NewServer(pub)
		clk := &clock{t: time.Unix(1_800_000_000, 0)}
		var clkMu sync.Mutex
		now := func() time.Time { clkMu.Lock(); defer clkMu.Unlock(); return clk.t }
		c, err := jwks.NewCache(srv.URL, jwks.AllowPlainHTTP(), jwks.WithClock(now), jwks.WithMinRefetch(minimum))
		if err != nil {
			t.Fatal(err)
		}
		// Three seconds of random kids from eight callers, the clock moving 100 ms at a time.
		for range 30 {
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					kid := make([]byte, 8)
					rand.Read(kid)
					if _, err := c.Key(context.Background(), string(kid)); !errors.Is(err, jwks.ErrUnknownKey) {
						t.Errorf("a random kid: want ErrUnknownKey, got %v", err)
					}
				}()
			}
			wg.Wait()
			clkMu.Lock()
			clk.t = clk.t.Add(100 * time.Millisecond)
			clkMu.Unlock()
		}
		srv.Close()
		pub.set(func(p *publisher) {
			// Fetches at 0 s, 1 s and 2 s of the 2.9 s the burst lasted.
			if p.hits != 3 {
				t.Errorf("WithMinRefetch(%v): the server saw %d requests in 2.9 s of random kids; at most one per second", minimum, p.hits)
			}
		})
	}
}
