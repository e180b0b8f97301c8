package workload

import (
	"context"
	"log/slog"
	"maps"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/lanyard-dev/lanyard/agent/internal/cache"
)

// Issuers are the iss the agent expects of tokens, by trust domain: the configured ones, and for the
// agent's own trust domain, when none is configured, the one its server names. Immutable.
type Issuers struct {
	own       string
	federated map[string]string
}

// NewIssuers is own (configured; "" to follow the server) for the agent's trust domain and
// federated by trust domain name.
func NewIssuers(own string, federated map[string]string) Issuers {
	return Issuers{own: own, federated: maps.Clone(federated)}
}

// For is the issuer of td's tokens as of st ("" when none is known). For the agent's trust domain a
// configured issuer wins (an operator's explicit setting); otherwise it is the one the server named
// in its latest ListEntries answer, and none before the first (refuse rather than guess).
func (i Issuers) For(st *cache.State, td spiffeid.TrustDomain) string {
	if td != st.TrustDomain {
		return i.federated[td.Name()]
	}
	if i.own != "" {
		return i.own
	}
	return st.TokenIssuer
}

// stateSource is what WarnIfOverridden watches (cache.Manager).
type stateSource interface {
	State() *cache.State
	Changed() <-chan struct{}
}

// WarnIfOverridden waits until the server names its issuer and logs one warning if the configured
// issuer is another (the configured one stays in force). It returns then, at once when no issuer
// is configured, or when ctx ends.
func (i Issuers) WarnIfOverridden(ctx context.Context, source stateSource, log *slog.Logger) {
	if i.own == "" {
		return
	}
	for {
		changed := source.Changed() // before the state is read, so no change in between is missed
		if named := source.State().TokenIssuer; named != "" {
			if named != i.own {
				log.Warn("the configured issuer is not the one the server names for its tokens;"+
					" ValidateJWTSVID expects the configured one (remove issuer to follow the server)",
					"issuer", i.own, "server_issuer", named)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}
