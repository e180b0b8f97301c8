package revocation_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/retry"
	"github.com/lanyard-dev/lanyard/clients/go/revocation"
)

// fakeRevocationServer behaves like Lanyard's watch for one scripted scenario: each stream replays
// the events after the requested sequence, sends one heartbeat (interval 100 ms), and then, on the
// first stream only, falls silent without closing, as a server behind a dead network path would.
type fakeRevocationServer struct {
	lanyardv1.UnimplementedRevocationServiceServer
	mu     sync.Mutex
	events []*lanyardv1.RevocationEvent
	asked  []int64
}

func (s *fakeRevocationServer) WatchRevocations(req *lanyardv1.WatchRevocationsRequest, stream lanyardv1.RevocationService_WatchRevocationsServer) error {
	s.mu.Lock()
	s.asked = append(s.asked, req.GetAfterSequence())
	first := len(s.asked) == 1
	events := s.events
	s.mu.Unlock()
	var last int64
	for _, e := range events {
		if e.GetSequence() > req.GetAfterSequence() {
			if first && e.GetSequence() > 2 {
				break // the first stream only gets as far as sequence 2
			}
			if err := stream.Send(e); err != nil {
				return err
			}
			last = e.GetSequence()
		}
	}
	hb := &lanyardv1.RevocationEvent{Sequence: last, Event: &lanyardv1.RevocationEvent_Heartbeat{Heartbeat: &lanyardv1.Heartbeat{
		ServerTime: timestamppb.Now(), Interval: durationpb.New(100 * time.Millisecond)}}}
	if err := stream.Send(hb); err != nil {
		return err
	}
	<-stream.Context().Done() // silent from here on
	return nil
}

func revoked(seq int64, target *lanyardv1.RevocationTarget) *lanyardv1.RevocationEvent {
	return &lanyardv1.RevocationEvent{Sequence: seq, Event: &lanyardv1.RevocationEvent_Revoked{
		Revoked: &lanyardv1.Revocation{Sequence: seq, Target: target}}}
}

type conn struct{ c *grpc.ClientConn }

func (c conn) Conn() *grpc.ClientConn { return c.c }

func TestFollowerReconnectsAfterTwoMissedHeartbeatsAndResumes(t *testing.T) {
	fake := &fakeRevocationServer{events: []*lanyardv1.RevocationEvent{
		revoked(1, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Jti{Jti: "t-1"}}),
		revoked(2, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_SpiffeId{SpiffeId: "spiffe://td/a"}}),
		revoked(3, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Serial{Serial: "abc1"}}),
		{Sequence: 4, Event: &lanyardv1.RevocationEvent_Reinstated{Reinstated: &lanyardv1.Reinstatement{SpiffeId: "spiffe://td/a"}}},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	lanyardv1.RegisterRevocationServiceServer(srv, fake)
	go srv.Serve(ln)
	defer srv.Stop()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()

	f := revocation.NewFollower(conn{cc}, revocation.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		revocation.WithBackoff(retry.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	deadline := time.Now().Add(10 * time.Second)
	for f.Sequence() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("stuck at sequence %d after %d connections", f.Sequence(), f.Connections())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v", err)
	}
	fake.mu.Lock()
	asked := fake.asked
	fake.mu.Unlock()
	if len(asked) < 2 || asked[0] != 0 || asked[1] != 2 {
		t.Fatalf("want a first watch from 0 and a resume from 2, got %v", asked)
	}
	if what, ok := f.Revoked("t-1", "", ""); !ok || what != "token t-1" {
		t.Fatalf("jti: %q %v", what, ok)
	}
	if what, ok := f.Revoked("", "", "abc1"); !ok || what != "certificate abc1" {
		t.Fatalf("serial: %q %v", what, ok)
	}
	if what, ok := f.Revoked("", "spiffe://td/a", ""); ok {
		t.Fatalf("a reinstated identity is still revoked: %q", what)
	}
	if _, ok := f.Revoked("t-2", "spiffe://td/b", "abc2"); ok {
		t.Fatal("something never revoked is revoked")
	}
}

func TestExpiredRevocationsAreDropped(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	fake := &fakeRevocationServer{events: []*lanyardv1.RevocationEvent{
		{Sequence: 1, Event: &lanyardv1.RevocationEvent_Revoked{Revoked: &lanyardv1.Revocation{Sequence: 1,
			Target:    &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Jti{Jti: "old"}},
			ExpiresAt: timestamppb.New(now.Add(-time.Minute))}}},
		revoked(2, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Jti{Jti: "live"}}),
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	lanyardv1.RegisterRevocationServiceServer(srv, fake)
	go srv.Serve(ln)
	defer srv.Stop()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	f := revocation.NewFollower(conn{cc}, revocation.WithClock(func() time.Time { return now }),
		revocation.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	for deadline := time.Now().Add(10 * time.Second); f.Sequence() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("never reached sequence 2")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := f.Revoked("old", "", ""); ok {
		t.Fatal("a revocation past its expiry is still in force")
	}
	if _, ok := f.Revoked("live", "", ""); !ok {
		t.Fatal("a live revocation is missing")
	}
}

func TestAFederatedRevocationRefusesOnlyItsOwnTrustDomain(t *testing.T) {
	fed := func(seq int64, td string, target *lanyardv1.RevocationTarget) *lanyardv1.RevocationEvent {
		ev := revoked(seq, target)
		ev.GetRevoked().TrustDomain = td
		return ev
	}
	fake := &fakeRevocationServer{events: []*lanyardv1.RevocationEvent{
		fed(1, "b.test", &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Serial{Serial: "ab01"}}),
		fed(2, "b.test", &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Jti{Jti: "jb"}}),
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	lanyardv1.RegisterRevocationServiceServer(srv, fake)
	go srv.Serve(ln)
	defer srv.Stop()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	f := revocation.NewFollower(conn{cc}, revocation.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	for deadline := time.Now().Add(10 * time.Second); f.Sequence() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("never reached sequence 2")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if what, ok := f.Revoked("", "spiffe://b.test/ledger", "AB01"); !ok || what != "certificate ab01" {
		t.Fatalf("b.test's revoked certificate is not refused for a b.test peer: %q %v", what, ok)
	}
	if _, ok := f.Revoked("jb", "spiffe://b.test/ledger", ""); !ok {
		t.Fatal("b.test's revoked token is not refused for a b.test subject")
	}
	// b.test cannot revoke what another trust domain's peers present.
	if what, ok := f.Revoked("jb", "spiffe://c.test/x", "ab01"); ok {
		t.Fatalf("b.test's revocation refused a c.test peer: %q", what)
	}
}

func TestTwoTrustDomainsRevokingOneSerialOrJtiAreBothHeld(t *testing.T) {
	fed := func(seq int64, td string, target *lanyardv1.RevocationTarget) *lanyardv1.RevocationEvent {
		ev := revoked(seq, target)
		ev.GetRevoked().TrustDomain = td
		return ev
	}
	serial := &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Serial{Serial: "c0ffee01"}}
	jti := &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Jti{Jti: "shared"}}
	// c.test revokes its own certificate and token; b.test then lists the same serial and jti.
	fake := &fakeRevocationServer{events: []*lanyardv1.RevocationEvent{
		fed(1, "c.test", serial), fed(2, "b.test", serial), fed(3, "c.test", jti), fed(4, "b.test", jti),
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	lanyardv1.RegisterRevocationServiceServer(srv, fake)
	go srv.Serve(ln)
	defer srv.Stop()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	f := revocation.NewFollower(conn{cc}, revocation.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		revocation.WithBackoff(retry.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	for deadline := time.Now().Add(10 * time.Second); f.Sequence() < 4; {
		if time.Now().After(deadline) {
			t.Fatal("never reached sequence 4")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, td := range []string{"c.test", "b.test"} {
		if what, ok := f.Revoked("", "spiffe://"+td+"/w", "c0ffee01"); !ok {
			t.Fatalf("%s's revocation of the certificate does not refuse a %s peer: %q", td, td, what)
		}
		if what, ok := f.Revoked("shared", "spiffe://"+td+"/w", ""); !ok {
			t.Fatalf("%s's revocation of the token does not refuse a %s subject: %q", td, td, what)
		}
	}
	if what, ok := f.Revoked("shared", "spiffe://d.test/w", "c0ffee01"); ok {
		t.Fatalf("another trust domain's revocations refused a d.test peer: %q", what)
	}
}

// olderStoreServer behaves like Lanyard's watch over a store that can be swapped for an older copy
// of itself: a watch past the store's newest sequence is refused OUT_OF_RANGE; otherwise it replays
// what follows, then new events as they are added, and heartbeats. Swapping the store
// ends the streams open (the server was restarted on it).
type olderStoreServer struct {
	lanyardv1.UnimplementedRevocationServiceServer
	mu      sync.Mutex
	events  []*lanyardv1.RevocationEvent
	asked   []int64
	swapped chan struct{}
}

func (s *olderStoreServer) WatchRevocations(req *lanyardv1.WatchRevocationsRequest, stream lanyardv1.RevocationService_WatchRevocationsServer) error {
	s.mu.Lock()
	s.asked = append(s.asked, req.GetAfterSequence())
	swapped := s.swapped
	head := s.headLocked()
	s.mu.Unlock()
	if req.GetAfterSequence() > head {
		return status.Errorf(codes.OutOfRange, "after_sequence %d is past the newest revocation sequence %d of this "+
			"server's store (the watcher followed another store, or an older copy of this one): watch again from 0",
			req.GetAfterSequence(), head)
	}
	last := req.GetAfterSequence()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		events := s.events
		s.mu.Unlock()
		for _, e := range events {
			if e.GetSequence() > last {
				if err := stream.Send(e); err != nil {
					return err
				}
				last = e.GetSequence()
			}
		}
		if err := stream.Send(&lanyardv1.RevocationEvent{Sequence: last, Event: &lanyardv1.RevocationEvent_Heartbeat{
			Heartbeat: &lanyardv1.Heartbeat{ServerTime: timestamppb.Now(), Interval: durationpb.New(time.Second)}}}); err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-swapped:
			return status.Error(codes.Unavailable, "the server is restarting")
		case <-stream.Context().Done():
			return nil
		}
	}
}

func (s *olderStoreServer) headLocked() int64 {
	if len(s.events) == 0 {
		return 0
	}
	return s.events[len(s.events)-1].GetSequence()
}

// swap puts events in place of the store's and ends the streams open.
func (s *olderStoreServer) swap(events ...*lanyardv1.RevocationEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = events
	close(s.swapped)
	s.swapped = make(chan struct{})
}

func (s *olderStoreServer) add(e *lanyardv1.RevocationEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *olderStoreServer) askedSoFar() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.asked...)
}

// A server that comes back on an older copy of its store refuses the follower's sequence: the
// follower watches again from 0 (not the same sequence forever), still refuses what it learned from
// the newer store, and hears of what is revoked from then on.
func TestFollowerRefusedOutOfRangeWatchesAgainFromZeroKeepingWhatItHolds(t *testing.T) {
	jti := func(seq int64, id string) *lanyardv1.RevocationEvent {
		return revoked(seq, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Jti{Jti: id}})
	}
	store := &olderStoreServer{events: []*lanyardv1.RevocationEvent{jti(1, "in-both"), jti(2, "only-in-the-newer")},
		swapped: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	lanyardv1.RegisterRevocationServiceServer(srv, store)
	go srv.Serve(ln)
	defer srv.Stop()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	f := revocation.NewFollower(conn{cc}, revocation.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		revocation.WithBackoff(retry.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s (sequence %d, watches asked from %v)", what, f.Sequence(), store.askedSoFar())
			}
		}
	}
	waitUntil("caught up with the newer store", func() bool { return f.Sequence() == 2 && f.Connected() })

	store.swap(jti(1, "in-both"))
	waitUntil("refused at 2, caught up from 0", func() bool { return f.Sequence() == 1 && f.Connected() })
	store.add(jti(2, "after"))
	waitUntil("the revocation made on the older store", func() bool { _, ok := f.Revoked("after", "", ""); return ok })

	for _, held := range []string{"in-both", "only-in-the-newer"} {
		if _, ok := f.Revoked(held, "", ""); !ok {
			t.Fatalf("%s is no longer revoked after watching again from 0", held)
		}
	}
	asked := store.askedSoFar()
	for i := 1; i < len(asked); i++ {
		if asked[i-1] == 2 && asked[i] == 0 {
			return
		}
	}
	t.Fatalf("want a watch from 2 (refused) followed by one from 0; got %v", asked)
}

// Loaded closes at the stream's first catch-up (the heartbeat after the replay), not before: a
// verifier waits on it, and until then refuses.
func TestLoadedClosesOnceTheReplayIsDone(t *testing.T) {
	fake := &fakeRevocationServer{events: []*lanyardv1.RevocationEvent{
		revoked(1, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Jti{Jti: "t-1"}}),
		revoked(2, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_SpiffeId{SpiffeId: "spiffe://td/a"}}),
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	lanyardv1.RegisterRevocationServiceServer(srv, fake)
	go srv.Serve(ln)
	defer srv.Stop()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	f := revocation.NewFollower(conn{cc}, revocation.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	select {
	case <-f.Loaded():
		t.Fatal("loaded before following anything")
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-f.Loaded():
	case <-time.After(10 * time.Second):
		t.Fatal("not loaded 10 s after the stream opened")
	}
	if _, ok := f.Revoked("", "spiffe://td/a", ""); !ok || f.Sequence() != 2 {
		t.Fatalf("loaded before the replay was applied (sequence %d)", f.Sequence())
	}
}
