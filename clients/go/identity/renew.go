package identity

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"time"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"

	"github.com/lanyard-dev/lanyard/clients/go/retry"
)

// link is a connection to Lanyard that presents one certificate for its whole life, reconnects
// included, so whatever is minted over it is bound to that certificate.
type link struct {
	conn *grpc.ClientConn
	svid *SVID // nil for the bootstrap connection, which presents none
}

func (l *link) presents(cert *x509.Certificate) bool {
	return l != nil && l.svid != nil && cert != nil && l.svid.Leaf.Equal(cert)
}

// install makes svid the certificate presented from now on: first a connection to Lanyard that
// presents it, then the certificate itself, so that every certificate SVID() returns has a
// connection presenting it. The previous connection stays open while its certificate is valid
// (a minute at least: calls in flight and tokens for connections that still present it).
func (s *Source) install(svid *SVID) error {
	next, err := s.dial(svid)
	if err != nil {
		return err
	}
	// The swap and the keeping of the previous connection happen under one lock, which
	// ConnPresenting takes before it looks again: a token for the previous certificate finds its
	// connection at every instant.
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.link.Swap(next)
	s.svid.Store(svid)
	if prev == nil {
		return nil
	}
	if s.closed {
		next.conn.Close()
		return prev.conn.Close()
	}
	s.old = append(s.old, prev)
	keep := time.Minute
	if prev.svid != nil {
		keep = max(keep, prev.svid.Leaf.NotAfter.Sub(s.now()))
	}
	time.AfterFunc(keep, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, l := range s.old {
			if l == prev {
				s.old = append(s.old[:i], s.old[i+1:]...)
				prev.conn.Close()
				return
			}
		}
	})
	return nil
}

func (s *Source) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.old {
		l.conn.Close()
	}
	s.old = nil
	if l := s.link.Load(); l != nil {
		l.conn.Close()
	}
}

// renewAt is half of the certificate's life.
func renewAt(leaf *x509.Certificate) time.Time {
	return leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
}

func (s *Source) renewLoop(ctx context.Context) {
	failures := 0
	for {
		wait := renewAt(s.svid.Load().Leaf).Sub(s.now())
		if failures > 0 {
			wait = s.backoff.Delay(failures - 1)
		}
		if retry.Sleep(ctx, max(wait, 0)) != nil {
			return
		}
		if err := s.renew(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			msg := err.Error()
			s.lastErr.Store(&msg)
			s.log.Warn("certificate renewal failed", "error", msg, "transient", retry.IsTransient(err), "attempt", failures)
			continue
		}
		failures = 0
		empty := ""
		s.lastErr.Store(&empty)
		s.renewals.Add(1)
		cur := s.svid.Load()
		s.log.Info("certificate renewed", "spiffe_id", cur.ID.String(), "serial", cur.Serial, "not_after", cur.Leaf.NotAfter)
	}
}

func (s *Source) renew(ctx context.Context) error {
	key, csr, err := s.newKeyAndCSR()
	if err != nil {
		return err
	}
	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := lanyardv1.NewCertificateServiceClient(s.Conn()).RenewCertificate(callCtx,
		&lanyardv1.RenewCertificateRequest{Csr: csr, Ttl: s.ttlProto()})
	if err != nil {
		return fmt.Errorf("identity: renewal: %w", err)
	}
	next, err := s.accept(resp, key)
	if err != nil {
		return err
	}
	return s.install(next)
}

// federatedRoots reads the bundles of the trust domains Lanyard federates with; a bad one is left out.
func federatedRoots(b *lanyardv1.TrustBundle, log *slog.Logger) map[spiffeid.TrustDomain][]*x509.Certificate {
	federated := map[spiffeid.TrustDomain][]*x509.Certificate{}
	for _, f := range b.GetFederatedBundles() {
		td, err := spiffeid.TrustDomainFromString(f.GetTrustDomain())
		if err != nil {
			log.Warn("ignoring a federated bundle with a bad trust domain", "trust_domain", f.GetTrustDomain())
			continue
		}
		certs, err := certsFromDER(f.GetX509Authorities())
		if err != nil || len(certs) == 0 {
			log.Warn("ignoring a federated bundle without usable roots", "trust_domain", td.Name())
			continue
		}
		federated[td] = certs
	}
	return federated
}

// watchBundle follows WatchTrustBundle: every new bundle replaces the roots at once, so a CA
// rotation needs no restart. A broken stream is reopened with backoff.
func (s *Source) watchBundle(ctx context.Context) {
	retry.Follow(ctx, s.backoff, s.followBundle, func(err error) {
		s.log.Warn("trust bundle watch interrupted; reconnecting", "error", err)
	})
}

func (s *Source) followBundle(ctx context.Context, received func()) error {
	stream, err := lanyardv1.NewTrustBundleServiceClient(s.Conn()).WatchTrustBundle(ctx, &lanyardv1.WatchTrustBundleRequest{})
	if err != nil {
		return err
	}
	for {
		b, err := stream.Recv()
		if err != nil {
			return err
		}
		received()
		if b.GetTrustDomain() != s.td.Name() {
			s.log.Warn("ignoring a trust bundle of another trust domain", "trust_domain", b.GetTrustDomain())
			continue
		}
		certs, err := certsFromDER(b.GetX509Authorities())
		if err != nil || len(certs) == 0 {
			s.log.Warn("ignoring a trust bundle without usable roots", "sequence", b.GetSequence())
			continue
		}
		if prev := s.roots.Load().sequence; b.GetSequence() != prev {
			s.setAllRoots(certs, federatedRoots(b, s.log), b.GetSequence())
			level := slog.LevelInfo
			if prev == 0 {
				level = slog.LevelDebug // the first bundle of the watch, not a change
			}
			s.log.Log(ctx, level, "trust bundle updated", "sequence", b.GetSequence(), "roots", len(certs))
		}
	}
}
