package cache

import (
	"context"
	"fmt"
	"log/slog"
	"time"

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
		if limit > 0 && time.Since(started)+wait > limit {
			return v, fmt.Errorf("agent: %s: gave up after %s (attest_retry_timeout %s): %w",
				what, time.Since(started).Round(time.Second), limit, err)
		}
		s, _ := status.FromError(err)
		log.Warn(what+" failed, retrying", "code", s.Code(), "status", s.Message(),
			"attempt", n+1, "wait", wait.Round(time.Millisecond))
		if err := retry.Sleep(ctx, wait); err != nil {
			return v, fmt.Errorf("agent: %s: stopped while waiting to retry: %w", what, err)
		}
	}
}
