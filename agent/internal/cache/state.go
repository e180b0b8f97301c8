// Package cache keeps the agent's identities: its own agent SVID (attested once, renewed over mTLS,
// kept on disk), the registrations it may serve with their X.509-SVIDs (fetched in batches, renewed
// at half-life with jitter, kept across server outages until they expire), the trust bundle and
// JWT keys (followed live), and revocations (followed live, applied at once).
package cache

import (
	"crypto"
	"crypto/x509"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// SVID is one workload identity the agent holds. Immutable.
type SVID struct {
	ID        spiffeid.ID
	Chain     []*x509.Certificate // leaf first, then intermediates
	Key       crypto.Signer
	KeyPKCS8  []byte
	Serial    string
	Selectors []string // the entry's workload selectors
	RenewAt   time.Time
}

// State is everything the Workload API serves, as one immutable snapshot.
type State struct {
	Version     uint64
	TrustDomain spiffeid.TrustDomain
	Roots       []*x509.Certificate
	JWTKeys     map[string]crypto.PublicKey
	SVIDs       []*SVID // ordered by SPIFFE ID
}

// Matching are the SVIDs whose selectors all match the caller's.
func (s *State) Matching(caller []string, matches func(entry, caller []string) bool) []*SVID {
	var out []*SVID
	for _, svid := range s.SVIDs {
		if matches(svid.Selectors, caller) {
			out = append(out, svid)
		}
	}
	return out
}
