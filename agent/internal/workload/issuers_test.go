package workload

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/lanyard-dev/lanyard/agent/internal/cache"
)

// namingSource is a Source's state and change signal, whose server names its issuer when told to.
type namingSource struct {
	mu      sync.Mutex
	state   *cache.State
	changed chan struct{}
}

func newNamingSource() *namingSource {
	return &namingSource{state: &cache.State{}, changed: make(chan struct{})}
}

func (n *namingSource) State() *cache.State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

func (n *namingSource) Changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changed
}

// name is a sync whose answer names issuer.
func (n *namingSource) name(issuer string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	next := *n.state
	next.TokenIssuer = issuer
	n.state = &next
	close(n.changed)
	n.changed = make(chan struct{})
}

// warnings runs WarnIfOverridden for issuers while syncs name each of named in turn, then has one
// more sync name another issuer, and returns the warnings it logged.
func warnings(t *testing.T, issuers Issuers, named ...string) []string {
	t.Helper()
	var buf bytes.Buffer
	src := newNamingSource()
	done := make(chan struct{})
	go func() {
		defer close(done)
		issuers.WarnIfOverridden(context.Background(), src, slog.New(slog.NewTextHandler(&buf, nil)))
	}()
	for _, issuer := range named {
		src.name(issuer)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("WarnIfOverridden did not return once the server named its issuer")
	}
	src.name("https://later.example")
	return strings.FieldsFunc(buf.String(), func(r rune) bool { return r == '\n' })
}

// A configured issuer that is not the server's is warned about once, whatever the later syncs say;
// a matching one, or none configured, is not.
func TestWarnIfOverriddenWarnsOnceWhenTheServerNamesAnotherIssuer(t *testing.T) {
	got := warnings(t, NewIssuers("https://configured.example", nil), "", testIssuer)
	if len(got) != 1 || !strings.Contains(got[0], "level=WARN") ||
		!strings.Contains(got[0], "issuer=https://configured.example") || !strings.Contains(got[0], "server_issuer="+testIssuer) {
		t.Fatalf("logged %q, want one warning naming both issuers", got)
	}
	if got := warnings(t, NewIssuers(testIssuer, nil), testIssuer); len(got) != 0 {
		t.Fatalf("the server named the configured issuer, yet: %q", got)
	}
	if got := warnings(t, NewIssuers("", nil)); len(got) != 0 {
		t.Fatalf("no issuer configured, yet: %q", got)
	}
}

// Until the server names its issuer there is nothing to compare: it waits, and stops with ctx.
func TestWarnIfOverriddenWaitsForTheServerAndStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewIssuers("https://configured.example", nil).WarnIfOverridden(ctx, newNamingSource(), slog.New(slog.DiscardHandler))
	}()
	select {
	case <-done:
		t.Fatal("returned before the server named an issuer")
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop with its context")
	}
}

// For: federated trust domains only from configuration; ours from configuration, else the server.
func TestIssuersFor(t *testing.T) {
	ours, b := spiffeid.RequireTrustDomainFromString("a.test"), spiffeid.RequireTrustDomainFromString("b.test")
	named := &cache.State{TrustDomain: ours, TokenIssuer: "https://server.a.test"}
	unnamed := &cache.State{TrustDomain: ours}
	fed := map[string]string{"b.test": "https://lanyard.b.test"}
	for _, c := range []struct {
		name    string
		issuers Issuers
		st      *cache.State
		td      spiffeid.TrustDomain
		want    string
	}{
		{"ours, configured", NewIssuers("https://configured.a.test", fed), named, ours, "https://configured.a.test"},
		{"ours, from the server", NewIssuers("", fed), named, ours, "https://server.a.test"},
		{"ours, before the server named one", NewIssuers("", fed), unnamed, ours, ""},
		{"federated", NewIssuers("", fed), named, b, "https://lanyard.b.test"},
		{"federated, not configured", NewIssuers("", nil), named, b, ""},
	} {
		if got := c.issuers.For(c.st, c.td); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
