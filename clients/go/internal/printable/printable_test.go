package printable

import (
	"strings"
	"testing"
)

func TestOf(t *testing.T) {
	if got := Of("kid\x1b[31m\n"); got != "kid?[31m?" {
		t.Errorf("control characters: got %q", got)
	}
	long := strings.Repeat("a", 100)
	if got := Of(long); got != strings.Repeat("a", 64)+"…" {
		t.Errorf("long text: got %q", got)
	}
	if got := Of("spiffe://lanyard.local/ns/payments"); got != "spiffe://lanyard.local/ns/payments" {
		t.Errorf("plain text changed: %q", got)
	}
}
