package cache

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// revokedSet is a follower's state: identities and serials revoked.
type revokedSet struct{ ids, serials []string }

func (r revokedSet) Revoked(_, spiffeID, serial string) (string, bool) {
	if slices.Contains(r.ids, spiffeID) {
		return "identity " + spiffeID, true
	}
	if slices.Contains(r.serials, serial) {
		return "certificate " + serial, true
	}
	return "", false
}

func svid(id, serial string) *SVID {
	return &SVID{ID: spiffeid.RequireFromString(id), Serial: serial}
}

// The step of a sync that merges the SVIDs a batch brought back: a revocation that arrived while the
// batch was in flight (the follower holds it; the state it was applied to did not have these SVIDs
// yet) keeps the batch's SVIDs of that identity, or with that serial, out of the state.
//
// This is the merge step alone, with the follower's state given: the real server cannot be made
// to deliver a revocation between BatchNewX509Svid's request and its answer on purpose.
func TestASyncDoesNotBringBackAnIdentityRevokedWhileItsBatchWasInFlight(t *testing.T) {
	const (
		revokedID = "spiffe://lanyard.local/ns/a/sa/revoked"
		bySerial  = "spiffe://lanyard.local/ns/a/sa/serial"
		kept      = "spiffe://lanyard.local/ns/a/sa/kept"
		renewed   = "spiffe://lanyard.local/ns/a/sa/renewed"
	)
	m := &Manager{log: slog.New(slog.NewTextHandler(io.Discard, nil)), changed: make(chan struct{}),
		revocations: revokedSet{ids: []string{revokedID}, serials: []string{"bad1"}}}
	// Before the batch: renewed held an SVID the revocation did not touch.
	m.state.Store(&State{SVIDs: []*SVID{svid(renewed, "01")}})
	entries := map[string]*lanyardv1.Registration{}
	for _, id := range []string{revokedID, bySerial, kept, renewed} {
		entries[id] = &lanyardv1.Registration{SpiffeId: id}
	}
	fresh := map[string]*SVID{
		revokedID: svid(revokedID, "aa"),
		bySerial:  svid(bySerial, "bad1"),
		kept:      svid(kept, "bb"),
		renewed:   svid(renewed, "cc"),
	}
	m.merge(entries, fresh, "https://lanyard.example")
	var got []string
	for _, s := range m.State().SVIDs {
		got = append(got, s.ID.String()+"#"+s.Serial)
	}
	if want := []string{kept + "#bb", renewed + "#cc"}; !slices.Equal(got, want) {
		t.Fatalf("after the merge the state holds %v, want %v", got, want)
	}
	if got := m.State().TokenIssuer; got != "https://lanyard.example" {
		t.Fatalf("the state's token issuer is %q, not the one the answer named", got)
	}

	// A revoked agent keeps nothing, whatever a batch brought back.
	m.revoked.Store(true)
	m.merge(entries, map[string]*SVID{kept: svid(kept, "dd")}, "https://lanyard.example")
	if n := len(m.State().SVIDs); n != 0 {
		t.Fatalf("a revoked agent holds %d SVIDs after a sync", n)
	}
}
