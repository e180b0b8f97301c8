package cache

import (
	"context"
	"crypto"
	"crypto/x509"
	"maps"
	"slices"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/retry"
)

// watchBundle follows TrustBundleService.WatchTrustBundle: X.509 roots and JWT keys, on every change.
func (m *Manager) watchBundle(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		err := m.followBundle(ctx, &failures)
		if ctx.Err() != nil {
			return
		}
		m.log.Debug("trust bundle watch interrupted; reconnecting", "error", err)
		if retry.Sleep(ctx, m.backoff.Delay(failures)) != nil {
			return
		}
		failures++
	}
}

func (m *Manager) followBundle(ctx context.Context, failures *int) error {
	stream, err := lanyardv1.NewTrustBundleServiceClient(m.Conn()).WatchTrustBundle(ctx, &lanyardv1.WatchTrustBundleRequest{})
	if err != nil {
		return err
	}
	for {
		b, err := stream.Recv()
		if err != nil {
			return err
		}
		*failures = 0
		if b.GetTrustDomain() != m.State().TrustDomain.Name() {
			m.log.Warn("ignoring a trust bundle of another trust domain", "trust_domain", b.GetTrustDomain())
			continue
		}
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
		if len(roots) == 0 {
			m.log.Warn("ignoring a trust bundle without usable roots", "sequence", b.GetSequence())
			continue
		}
		cur := m.State()
		if sameRoots(cur.Roots, roots) && maps.EqualFunc(cur.JWTKeys, keys, func(a, b crypto.PublicKey) bool {
			return a.(interface{ Equal(crypto.PublicKey) bool }).Equal(b)
		}) {
			continue
		}
		m.update(func(s State) State { s.Roots, s.JWTKeys = roots, keys; return s })
		m.log.Info("trust bundle updated", "sequence", b.GetSequence(), "roots", len(roots), "jwt_keys", len(keys))
	}
}

func sameRoots(a, b []*x509.Certificate) bool {
	return slices.EqualFunc(a, b, func(x, y *x509.Certificate) bool { return x.Equal(y) })
}
