// Package integration runs the Go client against a real Lanyard dev server (one per test binary).
package integration

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/lanyard-dev/lanyard/clients/go/identity"
	"github.com/lanyard-dev/lanyard/clients/go/lanyardtest"
)

var (
	server  *lanyardtest.Server
	noServe error
	counter atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(lanyardtest.Main(m, "lanyard-go-it-", func(s *lanyardtest.Server, err error) { server, noServe = s, err }))
}

// needServer skips the test when no server can be started (no LANYARD_CLASSPATH).
func needServer(t *testing.T) *lanyardtest.Server {
	t.Helper()
	if server == nil {
		t.Skip(noServe.Error())
	}
	return server
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newID is a fresh SPIFFE ID per workload, so tests never share registrations.
func newID(s *lanyardtest.Server, ns string) spiffeid.ID {
	return s.ID(fmt.Sprintf("/ns/%s/sa/w%d", ns, counter.Add(1)))
}

// workload enrolls a new identity and starts a Source for it.
func workload(t *testing.T, ns string, ttl time.Duration) *identity.Source {
	t.Helper()
	s := needServer(t)
	ctx := ctxFor(t)
	id := newID(s, ns)
	token, err := s.Enroll(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	src, err := identity.Start(ctx, identity.Config{Server: s.GRPCAddr, BundleFile: s.BundleFile, JoinToken: token, TTL: ttl,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if src.SVID().ID != id {
		t.Fatalf("got %s, want %s", src.SVID().ID, id)
	}
	return src
}
