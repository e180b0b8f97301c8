package cache

import (
	"context"
	"crypto"
	"crypto/x509"
	"maps"
	"slices"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/retry"
)

// watchBundle follows TrustBundleService.WatchTrustBundle: X.509 roots and JWT keys, on every change.
func (m *Manager) watchBundle(ctx context.Context) {
	retry.Follow(ctx, m.backoff, m.followBundle, func(err error) {
		m.log.Debug("trust bundle watch interrupted; reconnecting", "error", err)
	})
}

func (m *Manager) followBundle(ctx context.Context, received func()) error {
	stream, err := lanyardv1.NewTrustBundleServiceClient(m.Conn()).WatchTrustBundle(ctx, &lanyardv1.WatchTrustBundleRequest{})
	if err != nil {
		return err
	}
	for {
		b, err := stream.Recv()
		if err != nil {
			return err
		}
		received()
		if b.GetTrustDomain() != m.State().TrustDomain.Name() {
			m.log.Warn("ignoring a trust bundle of another trust domain", "trust_domain", b.GetTrustDomain())
			continue
		}
		roots, keys := authorities(b)
		if len(roots) == 0 {
			m.log.Warn("ignoring a trust bundle without usable roots", "sequence", b.GetSequence())
			continue
		}
		federated := map[spiffeid.TrustDomain]Bundle{}
		for _, fb := range b.GetFederatedBundles() {
			td, err := spiffeid.TrustDomainFromString(fb.GetTrustDomain())
			if err != nil || td == m.State().TrustDomain {
				m.log.Warn("ignoring a federated bundle", "trust_domain", fb.GetTrustDomain())
				continue
			}
			if fr, fk := authorities(fb); len(fr) > 0 {
				federated[td] = Bundle{Roots: fr, JWTKeys: fk}
			}
		}
		cur := m.State()
		if sameRoots(cur.Roots, roots) && sameKeys(cur.JWTKeys, keys) && maps.EqualFunc(cur.Federated, federated,
			func(a, b Bundle) bool { return sameRoots(a.Roots, b.Roots) && sameKeys(a.JWTKeys, b.JWTKeys) }) {
			continue
		}
		m.update(func(s State) State { s.Roots, s.JWTKeys, s.Federated = roots, keys, federated; return s })
		m.log.Info("trust bundle updated", "sequence", b.GetSequence(), "roots", len(roots), "jwt_keys", len(keys),
			"federated", len(federated))
	}
}

// authorities are a bundle's parsable X.509 roots and JWT keys.
func authorities(b *lanyardv1.TrustBundle) ([]*x509.Certificate, map[string]crypto.PublicKey) {
	var roots []*x509.Certificate
	for _, der := range b.GetX509Authorities() {
		if c, err := x509.ParseCertificate(der); err == nil {
			roots = append(roots, c)
		}
	}
	keys := map[string]crypto.PublicKey{}
	for _, k := range b.GetJwtAuthorities() {
		if pub, err := x509.ParsePKIXPublicKey(k.GetPublicKey()); err == nil {
			keys[k.GetKeyId()] = pub
		}
	}
	return roots, keys
}

func sameKeys(a, b map[string]crypto.PublicKey) bool {
	return maps.EqualFunc(a, b, func(x, y crypto.PublicKey) bool {
		return x.(interface{ Equal(crypto.PublicKey) bool }).Equal(y)
	})
}

func sameRoots(a, b []*x509.Certificate) bool {
	return slices.EqualFunc(a, b, func(x, y *x509.Certificate) bool { return x.Equal(y) })
}
