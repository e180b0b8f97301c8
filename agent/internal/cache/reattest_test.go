package cache

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Only the server's refusal of an expired certificate leads to attesting again: not an outage, not
// another refusal, not a local error that mentions expiry.
func TestRefusedAsExpired(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{status.Error(codes.Unauthenticated, "client certificate expired at 2026-12-03T10:00:00Z"), true},
		{fmt.Errorf("renewing: %w", status.Error(codes.Unauthenticated, "client certificate expired at X")), true},
		{status.Error(codes.Unauthenticated, "client certificate is not valid before X"), false},
		{status.Error(codes.Unavailable, "connection refused; the cache expired"), false},
		{status.Error(codes.PermissionDenied, "agent revoked (expired key)"), false},
		{errors.New("certificate expired"), false},
		{nil, false},
	} {
		if got := refusedAsExpired(c.err); got != c.want {
			t.Errorf("refusedAsExpired(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
