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
	// FederatesWith are the foreign trust domains the entry federates with: the Workload API
	// serves their bundles to this identity's workloads.
	FederatesWith []string
	RenewAt       time.Time
}

// State is everything the Workload API serves, as one immutable snapshot.
type State struct {
	Version     uint64
	TrustDomain spiffeid.TrustDomain
	Roots       []*x509.Certificate
	JWTKeys     map[string]crypto.PublicKey
	SVIDs       []*SVID // ordered by SPIFFE ID
	// Federated are the bundles of the trust domains Lanyard federates with, as it serves them.
	Federated map[spiffeid.TrustDomain]Bundle
	// TokenIssuer is the iss of the tokens the server mints, as its latest ListEntries answer names it
	// ("" until the first answer, or from a server too old to name it).
	TokenIssuer string
}

// Bundle is one foreign trust domain's authorities. Immutable.
type Bundle struct {
	Roots   []*x509.Certificate
	JWTKeys map[string]crypto.PublicKey
}

// FederatedFor are the federated bundles the identities in svids may use: those of the trust
// domains their entries federate with that Lanyard holds a bundle of.
func (s *State) FederatedFor(svids []*SVID) map[spiffeid.TrustDomain]Bundle {
	out := map[spiffeid.TrustDomain]Bundle{}
	for _, svid := range svids {
		for _, name := range svid.FederatesWith {
			td, err := spiffeid.TrustDomainFromString(name)
			if err != nil {
				continue
			}
			if b, ok := s.Federated[td]; ok {
				out[td] = b
			}
		}
	}
	return out
}

// Expired says whether the SVID's certificate is past its notAfter at now.
func (s *SVID) Expired(now time.Time) bool { return !now.Before(s.Chain[0].NotAfter) }

// Matching are the SVIDs whose selectors all match the caller's, unexpired at now. (The manager
// drops an SVID as it expires; checked here too, so a call between the two never gets it.)
func (s *State) Matching(caller []string, matches func(entry, caller []string) bool, now time.Time) []*SVID {
	var out []*SVID
	for _, svid := range s.SVIDs {
		if matches(svid.Selectors, caller) && !svid.Expired(now) {
			out = append(out, svid)
		}
	}
	return out
}

// nextExpiry is the earliest notAfter of the SVIDs held, false when none is held.
func (s *State) nextExpiry() (time.Time, bool) {
	var next time.Time
	for _, svid := range s.SVIDs {
		if na := svid.Chain[0].NotAfter; next.IsZero() || na.Before(next) {
			next = na
		}
	}
	return next, !next.IsZero()
}
