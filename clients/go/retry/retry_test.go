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
