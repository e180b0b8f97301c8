package workload

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/metadata"

	"github.com/lanyard-dev/lanyard/agent/internal/cache"
)

// racingSource is a Source whose state changes once, just after the server first reads it: a
// revocation that lands while a stream builds and sends its answer from the state it read.
type racingSource struct {
	mu      sync.Mutex
	state   *cache.State
	next    *cache.State // what the first read leaves in place, then nil
	changed chan struct{}
	loaded  chan struct{}
}

func (r *racingSource) State() *cache.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	read := r.state
	if r.next != nil {
		r.state, r.next = r.next, nil
		close(r.changed)
		r.changed = make(chan struct{})
	}
	return read
}

func (r *racingSource) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

func (r *racingSource) RevocationsLoaded() <-chan struct{}            { return r.loaded }
func (r *racingSource) Revoked(string, string, string) (string, bool) { return "", false }
func (r *racingSource) JWTSVID(context.Context, *cache.SVID, string) (string, error) {
	return "", fmt.Errorf("not minted here")
}

// newRacingSource holds two identities of this process; the first read of it revokes the first one.
func newRacingSource(t *testing.T) (*racingSource, spiffeid.ID) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	svid := func(path string) *cache.SVID {
		id := spiffeid.RequireFromPath(td, path)
		return &cache.SVID{ID: id, Chain: []*x509.Certificate{selfSigned(t, key, id)}, KeyPKCS8: []byte("key"),
			Selectors: []string{fmt.Sprintf("unix:uid:%d", os.Getuid())}}
	}
	revoked, kept := svid("/revoked"), svid("/kept")
	state := func(svids ...*cache.SVID) *cache.State {
		return &cache.State{TrustDomain: td, Roots: kept.Chain, JWTKeys: map[string]crypto.PublicKey{}, SVIDs: svids}
	}
	loaded := make(chan struct{})
	close(loaded)
	return &racingSource{state: state(revoked, kept), next: state(kept), changed: make(chan struct{}),
		loaded: loaded}, kept.ID
}

// A change that lands just after a stream read the state it answers from is not lost: the stream
// sends again, without the identity revoked (FetchX509SVID and SDS StreamSecrets alike).
func TestAChangeWhileAStreamAnswersIsSentNext(t *testing.T) {
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "workload.spiffe.io", "true"),
		30*time.Second)
	defer cancel()
	streams := map[string]func(t *testing.T, src Source) func() ([]string, error){
		"FetchX509SVID": func(t *testing.T, src Source) func() ([]string, error) {
			stream, err := workload.NewSpiffeWorkloadAPIClient(serve(t, src)).FetchX509SVID(ctx, &workload.X509SVIDRequest{})
			if err != nil {
				t.Fatal(err)
			}
			return func() ([]string, error) {
				resp, err := stream.Recv()
				var ids []string
				for _, s := range resp.GetSvids() {
					ids = append(ids, s.GetSpiffeId())
				}
				return ids, err
			}
		},
		"SDS StreamSecrets": func(t *testing.T, src Source) func() ([]string, error) {
			stream, err := secretv3.NewSecretDiscoveryServiceClient(serve(t, src)).StreamSecrets(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: SecretType}); err != nil {
				t.Fatal(err)
			}
			return func() ([]string, error) {
				resp, err := stream.Recv()
				return lastNames(resp), err
			}
		},
	}
	for name, open := range streams {
		t.Run(name, func(t *testing.T) {
			src, kept := newRacingSource(t)
			recv := open(t, src)
			if first, err := recv(); err != nil || len(first) < 2 {
				t.Fatalf("the first answer: %v, %v; want both identities", first, err)
			}
			got := make(chan []string, 1)
			go func() {
				ids, err := recv()
				if err != nil {
					ids = []string{err.Error()}
				}
				got <- ids
			}()
			select {
			case ids := <-got:
				if ids[0] != kept.String() || (len(ids) == 2 && ids[1] != "ROOTCA") || len(ids) > 2 {
					t.Fatalf("the answer after the change holds %v, want only %s (and ROOTCA)", ids, kept)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the change made while the stream answered was never sent: it still holds the revoked identity")
			}
		})
	}
}
