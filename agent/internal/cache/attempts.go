package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lanyard-dev/lanyard/clients/go/retry"
)

// untilAnswered runs attempt until it succeeds or fails in a way a retry cannot mend. What is
// transient (the server unreachable, or answering UNAVAILABLE, DEADLINE_EXCEEDED or
// RESOURCE_EXHAUSTED) is retried with b until limit has passed since started (zero: until ctx
// ends); a refusal ends it at once. Each retry is logged once with the status and the wait, never
// with what the attempt sent.
func untilAnswered[T any](ctx context.Context, what string, b retry.Backoff, started time.Time, limit time.Duration,
	log *slog.Logger, attempt func() (T, error)) (T, error) {
	for n := 0; ; n++ {
		v, err := attempt()
		if err == nil || !retry.IsTransient(err) || ctx.Err() != nil {
			return v, err
		}
		wait := b.Delay(n)
		if limit > 0 {
			left := limit - time.Since(started)
			if left <= 0 {
				return v, fmt.Errorf("agent: %s: gave up after %s (attest_retry_timeout %s): %w",
					what, time.Since(started).Round(time.Second), limit, err)
			}
			wait = min(wait, left) // one last attempt at the cap
		}
		code, message := statusOf(err)
		log.Warn(what+" failed, retrying", "code", code, "status", message,
			"attempt", n+1, "wait", wait.Round(time.Millisecond))
		if err := retry.Sleep(ctx, wait); err != nil {
			return v, fmt.Errorf("agent: %s: stopped while waiting to retry: %w", what, err)
		}
	}
}

// statusOf is the gRPC status inside err (a network error is Unavailable, as gRPC reports it).
func statusOf(err error) (codes.Code, string) {
	var s interface{ GRPCStatus() *status.Status }
	if errors.As(err, &s) {
		return s.GRPCStatus().Code(), s.GRPCStatus().Message()
	}
	return codes.Unavailable, err.Error()
}
