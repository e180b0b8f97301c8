package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lanyard-dev/lanyard/clients/go/retry"
)

func TestIsTransient(t *testing.T) {
	_, dialErr := net.Dial("tcp", "127.0.0.1:1")
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{status.Error(codes.Unavailable, "down"), true},
		{fmt.Errorf("renewal: %w", status.Error(codes.DeadlineExceeded, "slow")), true},
		{status.Error(codes.ResourceExhausted, "rate"), true},
		{dialErr, true},
		{context.DeadlineExceeded, true},
		{status.Error(codes.PermissionDenied, "revoked"), false},
		{fmt.Errorf("bootstrap: %w", status.Error(codes.Unauthenticated, "bad token")), false},
		{status.Error(codes.InvalidArgument, "bad csr"), false},
		{context.Canceled, false},
		{errors.New("something else"), false},
	}
	for _, tc := range cases {
		if got := retry.IsTransient(tc.err); got != tc.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestBackoffGrowsWithJitterAndStaysUnderMax(t *testing.T) {
	b := retry.Backoff{Base: 100 * time.Millisecond, Max: 2 * time.Second, Random: rand.New(rand.NewPCG(1, 2))}
	for attempt, ceiling := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000} {
		ceiling *= time.Millisecond
		d := b.Delay(attempt)
		if d < ceiling/2 || d >= ceiling {
			t.Errorf("attempt %d: %s not in [%s, %s)", attempt, d, ceiling/2, ceiling)
		}
	}
	if d := b.Delay(200); d >= 2*time.Second {
		t.Errorf("a huge attempt number overflowed: %s", d)
	}
}

func TestFollowWaitsLongerAfterEachEmptyAttemptAndStartsOverAfterAMessage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := retry.Backoff{Base: 20 * time.Millisecond, Max: time.Second}
	var starts []time.Time
	var broken []error
	attempt := 0
	retry.Follow(ctx, b, func(ctx context.Context, received func()) error {
		starts = append(starts, time.Now())
		attempt++
		switch attempt {
		case 5: // a stream that delivered, then broke: the next wait is the first one again
			received()
		case 7:
			cancel()
			return errors.New("ended by the caller")
		}
		return fmt.Errorf("attempt %d", attempt)
	}, func(err error) { broken = append(broken, err) })

	if attempt != 7 {
		t.Fatalf("%d attempts, want 7 (Follow must stop once ctx is done)", attempt)
	}
	if len(broken) != 6 || broken[0].Error() != "attempt 1" {
		t.Fatalf("broken heard %v, want attempts 1-6 and not the one ctx ended", broken)
	}
	waits := make([]time.Duration, len(starts)-1)
	for i := range waits {
		waits[i] = starts[i+1].Sub(starts[i])
	}
	// Without jitter the waits are 20, 40, 80, 160 ms, then 20 ms after the delivering attempt, then 40 ms.
	if waits[3] < 160*time.Millisecond || waits[4] >= 160*time.Millisecond {
		t.Fatalf("waits %v: want them to grow to 160 ms, then start over after a delivered message", waits)
	}
}
