package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	ledgerv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/ledger/v1"
	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/lanyardtest"
)

// BenchmarkAgentFigures measures what issue 12 asks to report, against a real server and agent:
// resident memory idle and with 100 registrations, start-up time (attesting, and with the SVID on
// disk), FetchX509SVID and FetchJWTSVID rates through `lanyard-agent bench` (a separate process,
// go-spiffe clients), and the time from a Revoke call to a watching client's update. Figures only,
// nothing asserted on speed. Run it alone, once:
//
//	go test -run '^$' -bench AgentFigures -benchtime 1x .
func BenchmarkAgentFigures(b *testing.B) {
	s := needServer(b)
	ctx := ctxFor(b, 15*time.Minute)
	dataDir := openDir(b) + "/data"
	token, err := s.AgentJoinToken(ctx)
	if err != nil {
		b.Fatal(err)
	}
	agent := startAgent(b, s.GRPCAddr, []string{"LANYARD_JOIN_TOKEN=" + token}, "--data-dir", dataDir)
	b.ReportMetric(ms(agent.Startup), "ms-startup-attesting")
	time.Sleep(3 * time.Second)
	b.ReportMetric(rssMiB(b, agent), "MiB-rss-idle-0-registrations")

	// One identity for this uid, with a JWT grant: the rates are measured against it.
	uid := fmt.Sprintf("unix:uid:%d", os.Getuid())
	first := newID(s, "figures")
	if err := s.RegisterForAgent(ctx, first, agent.ID, uid); err != nil {
		b.Fatal(err)
	}
	if err := s.PublishContracts(ctx, "agent-figures", ledgerv1.File_examples_ledger_v1_ledger_proto); err != nil {
		b.Fatal(err)
	}
	if err := s.ApplyPolicy(ctx, lanyardtest.Grant{SpiffeIDs: []string{first.String()}, Audience: "ledger",
		Scopes: []string{"ledger.read"}}); err != nil {
		b.Fatal(err)
	}
	awaitSVIDs(b, ctx, agent, 1)
	b.ReportMetric(benchRate(b, agent, "--duration", "10s"), "FetchX509SVID/s-1-svid")
	b.ReportMetric(benchRate(b, agent, "--duration", "10s", "--jwt-audience", "ledger"), "FetchJWTSVID/s")

	ids := []spiffeid.ID{first}
	for len(ids) < 100 {
		id := newID(s, "figures")
		if err := s.RegisterForAgent(ctx, id, agent.ID, uid); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	awaitSVIDs(b, ctx, agent, 100)
	time.Sleep(3 * time.Second)
	b.ReportMetric(rssMiB(b, agent), "MiB-rss-idle-100-registrations")
	b.ReportMetric(benchRate(b, agent, "--duration", "10s"), "FetchX509SVID/s-100-svids")

	// Revocation to the watcher's update, one identity at a time.
	w := newWatcher()
	watchCtx, stopWatch := context.WithCancel(ctx)
	client, err := workloadapi.New(watchCtx, agent.clientOption())
	if err != nil {
		b.Fatal(err)
	}
	go client.WatchX509Context(watchCtx, w)
	var delays []time.Duration
	for i, id := range ids[len(ids)-5:] {
		left := len(ids) - 1 - i
		revoked := time.Now()
		if _, err := s.Revoke(ctx, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_SpiffeId{SpiffeId: id.String()}}); err != nil {
			b.Fatal(err)
		}
		w.waitFor(b, func(got []string, _ error) bool { return len(got) == left && !slices.Contains(got, id.String()) })
		delays = append(delays, time.Since(revoked))
	}
	slices.Sort(delays)
	b.Logf("Revoke call to the watcher's update, 5 identities: %v", delays)
	b.ReportMetric(ms(delays[len(delays)/2]), "ms-revocation-to-drop-median")
	b.ReportMetric(ms(delays[len(delays)-1]), "ms-revocation-to-drop-max")

	// Restarts with the SVID on disk (no attestation), holding 95 registrations. The watch ends
	// first: its error callbacks would fill the watcher's channel while the agent is down.
	stopWatch()
	client.Close()
	agent.stop()
	var starts []time.Duration
	for range 5 {
		again := startAgent(b, s.GRPCAddr, nil, "--data-dir", dataDir)
		starts = append(starts, again.Startup)
		again.stop()
	}
	slices.Sort(starts)
	b.Logf("start to serving with the SVID on disk, 5 runs: %v", starts)
	b.ReportMetric(ms(starts[len(starts)/2]), "ms-startup-svid-on-disk-median")
	for range b.N {
		// The figures above are the measurement; b.N is not used.
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rssMiB reads VmRSS of the agent process.
func rssMiB(b *testing.B, a *runningAgent) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

func awaitSVIDs(b *testing.B, ctx context.Context, a *runningAgent, n int) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		svids, err := workloadapi.FetchX509SVIDs(ctx, a.clientOption())
		if err == nil && len(svids) == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the agent serves %d SVIDs, not %d, after 3 minutes (%v)", len(svids), n, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// benchRate runs `lanyard-agent bench` against the agent and returns its calls per second.
func benchRate(b *testing.B, a *runningAgent, args ...string) float64 {
	out, err := exec.Command(agentBin, append([]string{"bench", "--socket", a.Socket}, args...)...).CombinedOutput()
	if err != nil {
		b.Fatalf("lanyard-agent bench: %v\n%s", err, out)
	}
	line := strings.TrimSpace(string(out))
	b.Logf("lanyard-agent bench %s: %s", strings.Join(args, " "), line)
	// "...: N calls in D with C callers: R/s, F failed"
	f := strings.Fields(line[strings.LastIndex(line, ": ")+2:])
	rate, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "/s,"), 64)
	if err != nil {
		b.Fatalf("cannot read the rate in %q", line)
	}
	return rate
}
