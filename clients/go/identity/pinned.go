package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// FetchPinnedBundle fetches the trust bundle from server and accepts it only if one of its roots
// has the pinned fingerprint ("sha256:HEX") and the server's chain verifies against that root.
func FetchPinnedBundle(ctx context.Context, server, pin string) ([]*x509.Certificate, error) {
	return fetchPinnedBundle(ctx, server, pin, time.Now)
}

// fetchPinnedBundle fetches the trust bundle from a server not trusted yet and accepts it only if
// one of its roots has the pinned fingerprint and the chain the server presented verifies against
// that root. Nothing secret is sent on this connection.
func fetchPinnedBundle(ctx context.Context, server, pin string, now func() time.Time) ([]*x509.Certificate, error) {
	want, err := parsePin(pin)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var presented [][]byte
	tlsConfig := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // the chain is judged below, once the bundle is known
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			mu.Lock()
			defer mu.Unlock()
			presented = raw
			return nil
		},
	}
	conn, err := grpc.NewClient(server, DialOptions(credentials.NewTLS(tlsConfig))...)
	if err != nil {
		return nil, fmt.Errorf("identity: connecting to %s: %w", server, err)
	}
	defer conn.Close()
	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	bundle, err := lanyardv1.NewTrustBundleServiceClient(conn).GetTrustBundle(callCtx, &lanyardv1.GetTrustBundleRequest{})
	if err != nil {
		return nil, fmt.Errorf("identity: fetching the trust bundle from %s: %w", server, err)
	}
	roots, err := certsFromDER(bundle.GetX509Authorities())
	if err != nil {
		return nil, fmt.Errorf("identity: the server's trust bundle holds %w", err)
	}
	var pinned *x509.Certificate
	for _, r := range roots {
		if Fingerprint(r) == want {
			pinned = r
		}
	}
	if pinned == nil {
		return nil, errors.New("identity: no root in the server's trust bundle matches the pinned fingerprint; refusing to continue")
	}
	mu.Lock()
	chain, err := certsFromDER(presented)
	mu.Unlock()
	if err != nil || len(chain) == 0 {
		return nil, errors.New("identity: the server presented no readable certificate")
	}
	id, err := verifyChain(chain, []*x509.Certificate{pinned}, now())
	if err != nil {
		return nil, fmt.Errorf("identity: the server's certificate does not chain to the pinned root: %w", err)
	}
	if id.Path() != "/lanyard/server" || id.TrustDomain().Name() != bundle.GetTrustDomain() {
		return nil, fmt.Errorf("identity: the server presented %s, not the Lanyard server of trust domain %q", id, bundle.GetTrustDomain())
	}
	return roots, nil
}
