// Package retry tells failures worth retrying (the server or the network is unavailable for a
// while) from refusals (the caller is not allowed, or asked for something wrong), and spaces
// retries out.
package retry

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// IsTransient reports whether err is worth retrying with backoff: gRPC Unavailable,
// DeadlineExceeded, ResourceExhausted or Aborted, a network error, or a connection cut short.
// Refusals (PermissionDenied, Unauthenticated, InvalidArgument, NotFound, ...) are not transient:
// retrying them only repeats the refusal. A canceled context is not transient either: the caller
// gave up.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
			return true
		}
	}
	return false
}

// Backoff is exponential backoff with jitter: attempt n waits a random time in [c/2, c), where
// c = min(Max, Base·2ⁿ). Random is the source of jitter (a *rand.Rand; tests seed it); without
// one the wait is c.
type Backoff struct {
	Base   time.Duration
	Max    time.Duration
	Random *rand.Rand
}

// Delay is how long to wait before retry number attempt (from 0).
func (b Backoff) Delay(attempt int) time.Duration {
	ceiling := b.Max
	if attempt < 32 {
		if d := b.Base << attempt; d > 0 && d < b.Max {
			ceiling = d
		}
	}
	if ceiling <= 0 {
		return 0
	}
	if b.Random == nil {
		return ceiling
	}
	// At least half the ceiling: a retry loop that spins without waiting helps nobody.
	return time.Duration(b.Random.Int64N(int64(ceiling)))/2 + ceiling/2
}

// Sleep waits d or until ctx is done, whichever is first, and returns ctx.Err() in the latter case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Follow keeps a stream followed until ctx is done: it runs follow, and after each return waits
// with b and runs it again. The wait grows with every attempt that ended before it received
// anything; follow calls received once a message arrives, which starts the waits over. broken hears
// why each attempt ended (not when ctx ended it).
func Follow(ctx context.Context, b Backoff, follow func(ctx context.Context, received func()) error, broken func(error)) {
	failures := 0
	received := func() { failures = 0 }
	for ctx.Err() == nil {
		err := follow(ctx, received)
		if ctx.Err() != nil {
			return
		}
		broken(err)
		if Sleep(ctx, b.Delay(failures)) != nil {
			return
		}
		failures++
	}
}
