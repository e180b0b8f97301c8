package cache

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// renewOrReattest renews the agent SVID. Once it has expired (an outage outlasted it) no renewal can
// succeed, as the server refuses an expired certificate: an agent whose attestor proves the node
// again by itself (cfg.Reattests) attests again, as at start, and goes on with the new SVID. A
// join-token agent cannot; it says so once and keeps asking to renew, in case a clock was wrong.
func (m *Manager) renewOrReattest(ctx context.Context) error {
	a := m.agent.Load()
	expired := a.expired(time.Now())
	if !expired {
		err := m.renewAgent(ctx)
		if err == nil || !refusedAsExpired(err) {
			if err == nil {
				m.toldCannotReattest.Store(false)
			}
			return err
		}
	}
	if !m.cfg.Reattests {
		if !m.toldCannotReattest.Swap(true) {
			m.log.Error("the agent SVID has expired (a server outage outlasted it) and this agent cannot attest"+
				" again by itself: it was attested with a join token, which is single use. Create a new one"+
				" (`lanyard join-token create --agent`) and restart the agent with it. Until then it serves the"+
				" SVIDs it holds until they expire, and keeps asking to renew in case a clock was wrong",
				"spiffe_id", a.id, "expired", a.leaf.NotAfter)
		}
		if expired {
			return m.renewAgent(ctx)
		}
		return errors.New("agent: the server refused the agent SVID as expired")
	}
	m.log.Warn("the agent SVID has expired; attesting the node again", "spiffe_id", a.id, "expired", a.leaf.NotAfter)
	// Retried with backoff until the server answers; a refusal returns, and the renewal loop tries again.
	if err := m.attestWithin(ctx, time.Now(), 0); err != nil {
		return err
	}
	return m.redial()
}

// refusedAsExpired says the server refused the call because the agent's certificate has expired by
// its clock (UNAUTHENTICATED, "... expired at ...").
func refusedAsExpired(err error) bool {
	s, ok := status.FromError(err)
	return ok && s.Code() == codes.Unauthenticated && strings.Contains(s.Message(), "expired")
}
