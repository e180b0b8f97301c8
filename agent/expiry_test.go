package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Through a server outage the agent serves an SVID until it expires and never after: a caller that
// asks once it has expired is refused (Workload API and SDS), and a watching client loses it then,
// not at the agent's next sync (ten minutes away here).
func TestAnSVIDThatExpiresDuringAnOutageIsNoLongerServed(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	ctx := ctxFor(t, 2*time.Minute)
	p := newProxy(t, s.GRPCAddr)
	dir := openDir(t)
	node := fmt.Sprintf("node-expiry-%d", idCounter.Add(1))
	cert, key := nodeCA.node(t, dir, node)
	id := newID(s, "expiry")
	// Registered before the agent starts, so its first sync (at start) brings the SVID.
	if err := s.RegisterForAgent(ctx, id, "x509pop:subject:cn:"+node, self(t)...); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(cfg, []byte(`{"workload_svid_ttl": "8s", "sync_interval": "10m"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	agent := startAgent(t, p.Addr(), nil, "--config", cfg, "--attestor", "x509pop", "--x509pop-cert", cert,
		"--x509pop-key", key)

	var notAfter time.Time
	waitFor(t, func() bool {
		svid, err := workloadapi.FetchX509SVID(ctx, agent.clientOption())
		if err != nil {
			return false
		}
		notAfter = svid.Certificates[0].NotAfter
		return svid.ID == id
	})
	w := newWatcher()
	client, err := workloadapi.New(ctx, agent.clientOption())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	go client.WatchX509Context(ctx, w)
	w.waitFor(t, func(ids []string, _ error) bool { return len(ids) == 1 && ids[0] == id.String() })

	p.setDown(true)
	if time.Until(notAfter) < time.Second {
		t.Fatalf("the SVID (notAfter %s) expired before the outage began: the test proves nothing", notAfter)
	}
	time.Sleep(time.Until(notAfter) + 100*time.Millisecond)

	if svid, err := workloadapi.FetchX509SVID(ctx, agent.clientOption()); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("after %s a caller got %v (%v), not PermissionDenied", notAfter, svidExpiry(svid), err)
	}
	conn, err := grpc.NewClient(agent.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = secretv3.NewSecretDiscoveryServiceClient(conn).FetchSecrets(ctx,
		&discoveryv3.DiscoveryRequest{ResourceNames: []string{"default"}, TypeUrl: secretType})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("after %s SDS answered %v, not PermissionDenied", notAfter, err)
	}
	w.waitFor(t, func(_ []string, err error) bool { return status.Code(err) == codes.PermissionDenied })
}

// svidExpiry names an SVID served and when it expires, for a failure message.
func svidExpiry(svid *x509svid.SVID) string {
	if svid == nil {
		return "nothing"
	}
	return fmt.Sprintf("%s expiring %s", svid.ID, svid.Certificates[0].NotAfter)
}
