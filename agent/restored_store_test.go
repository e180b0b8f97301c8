package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// A server that comes back on an older copy of its store (its files put back from before the last
// revocation) refuses the agent's revocation sequence with OUT_OF_RANGE: the agent watches again
// from 0, still refuses the identity only the newer store had revoked, and a revocation made on the
// older store afterwards reaches it. (It used to ask from the refused sequence forever, and never heard
// of a revocation again.) Its own server: the test stops it and swaps its store.
func TestRevocationsStillReachTheAgentWhenItsServerComesBackOnAnOlderStore(t *testing.T) {
	t.Parallel()
	s := ownServer(t)
	ctx := ctxFor(t, 5*time.Minute)
	token, err := s.AgentJoinToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	agent := startAgentOf(t, s, s.GRPCAddr, []string{"LANYARD_JOIN_TOKEN=" + token})
	inBoth, onlyNewer, after, kept := newID(s, "older"), newID(s, "older"), newID(s, "older"), newID(s, "older")
	for _, id := range []spiffeid.ID{inBoth, onlyNewer, after, kept} {
		if err := s.RegisterForAgent(ctx, id, agent.ID, self(t)...); err != nil {
			t.Fatal(err)
		}
	}
	served := func(want ...spiffeid.ID) func() bool {
		return func() bool {
			svids, err := workloadapi.FetchX509SVIDs(ctx, agent.clientOption())
			var ids []string
			for _, svid := range svids {
				ids = append(ids, svid.ID.String())
			}
			slices.Sort(ids)
			var wanted []string
			for _, id := range want {
				wanted = append(wanted, id.String())
			}
			slices.Sort(wanted)
			return err == nil && slices.Equal(ids, wanted)
		}
	}
	revoke := func(id spiffeid.ID) {
		t.Helper()
		if _, err := s.Revoke(ctx, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_SpiffeId{SpiffeId: id.String()}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, served(inBoth, onlyNewer, after, kept))
	revoke(inBoth)
	waitFor(t, served(onlyNewer, after, kept))

	older := filepath.Join(openDir(t), "older-store")
	if err := s.Restart(func(data string) error { return copyStore(data, older) }); err != nil {
		t.Fatal(err)
	}
	revoke(onlyNewer)
	waitFor(t, served(after, kept))
	if err := s.Restart(func(data string) error { return copyStore(older, data) }); err != nil {
		t.Fatal(err)
	}
	// The revocation below must come after the agent's follower was refused (had it not asked yet, the
	// older store's new sequences could reach its own, and it would skip them: a copy of the store
	// files put back is not a restore, which moves the sequence on).
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(agent.log.String(), "OutOfRange") {
		if time.Now().After(deadline) {
			t.Fatalf("the server never refused the agent's revocation sequence:\n%s", agent.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	revoke(after)
	waitFor(t, served(kept))
	if !strings.Contains(agent.log.String(), "watching again from 0") {
		t.Fatalf("the agent did not say it watched again from 0:\n%s", agent.log.String())
	}
}

var storeFile = regexp.MustCompile(`^lanyard\.(db|mv\.db)(-wal|-shm)?$`)

// copyStore replaces the store files (SQLite's or H2's, closed) in the directory to with those in from.
func copyStore(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	stale, err := storeFiles(to)
	if err != nil {
		return err
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(to, name)); err != nil {
			return err
		}
	}
	files, err := storeFiles(from)
	if err != nil {
		return err
	}
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func storeFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if storeFile.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, err
}
