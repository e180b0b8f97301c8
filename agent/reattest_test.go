package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// agentSVIDTTL is the agent SVID's lifetime on the server of these tests: short enough that an
// outage outlasts it.
const agentSVIDTTL = 6 * time.Second

// An outage that outlasts the agent's own SVID: once the server is back, an x509pop agent (it still
// holds the node key) attests again by itself and serves its workload a new SVID; a join-token agent
// (its token was single use) says once, in its log, that it needs a new token and a restart.
func TestAnAgentWhoseSVIDExpiredInAnOutageAttestsAgainOrSaysItCannot(t *testing.T) {
	t.Parallel()
	needServer(t)
	dir := openDir(t)
	roots := filepath.Join(dir, "node-ca.pem")
	if err := os.WriteFile(roots, nodeCA.rootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	s := ownServer(t, "--x509pop-roots", roots, "--agent-svid-ttl", agentSVIDTTL.String())
	ctx := ctxFor(t, 5*time.Minute)

	node := fmt.Sprintf("node-reattest-%d", idCounter.Add(1))
	cert, key := nodeCA.node(t, dir, node)
	id := newID(s, "reattest")
	if err := s.RegisterForAgent(ctx, id, "x509pop:subject:cn:"+node, self(t)...); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(cfg, []byte(`{"workload_svid_ttl": "8s", "sync_interval": "2s"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	pop := startAgentOf(t, s, s.GRPCAddr, nil, "--config", cfg, "--attestor", "x509pop",
		"--x509pop-cert", cert, "--x509pop-key", key)
	token, err := s.AgentJoinToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	joined := startAgentOf(t, s, s.GRPCAddr, []string{"LANYARD_JOIN_TOKEN=" + token})
	waitFor(t, func() bool {
		svid, err := workloadapi.FetchX509SVID(ctx, pop.clientOption())
		return err == nil && svid.ID == id
	})

	// Stopped until every agent SVID the server issued before has expired.
	if err := s.Restart(func(string) error { time.Sleep(agentSVIDTTL + time.Second); return nil }); err != nil {
		t.Fatal(err)
	}
	back := time.Now()

	deadline := time.Now().Add(2 * time.Minute)
	for {
		svid, err := workloadapi.FetchX509SVID(ctx, pop.clientOption())
		if err == nil && svid.ID == id && svid.Certificates[0].NotBefore.After(back.Add(-time.Minute)) &&
			svid.Certificates[0].NotAfter.After(back) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 min after the server came back the x509pop agent serves no new SVID (last: %v, %v)",
				svidExpiry(svid), err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if log := pop.log.String(); !strings.Contains(log, "attesting the node again") {
		t.Errorf("the x509pop agent's log does not say it attested again:\n%s", log)
	}

	const cannot = "it was attested with a join token, which is single use"
	waitFor(t, func() bool { return strings.Contains(joined.log.String(), cannot) })
	// It goes on asking to renew, and says why it cannot attest again only once.
	renewals := strings.Count(joined.log.String(), "agent SVID renewal failed")
	waitFor(t, func() bool { return strings.Count(joined.log.String(), "agent SVID renewal failed") >= renewals+2 })
	log := joined.log.String()
	if n := strings.Count(log, cannot); n != 1 {
		t.Errorf("the join-token agent said %d times that it cannot attest again, not once:\n%s", n, log)
	}
	for _, want := range []string{"lanyard join-token create --agent", "restart the agent"} {
		if !strings.Contains(log, want) {
			t.Errorf("the join-token agent's log does not say %q:\n%s", want, log)
		}
	}
}
