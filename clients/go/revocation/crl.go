package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lanyard-dev/lanyard/clients/go/identity"
)

// maxCRLBytes bounds what is read from a distribution point.
const maxCRLBytes = 8 << 20

// crlCheckEvery is how often the follower looks whether the stream is down and a fetch is due.
const crlCheckEvery = 500 * time.Millisecond

// crlFallback reads Lanyard's signed CRLs while the stream is down, as the Java RevocationWatcher
// does. CRLs cover certificates only: identities and token ids are known from the stream alone,
// and what the follower learned before the stream went down stays known.
type crlFallback struct {
	urls    func() []string
	issuers func() []*x509.Certificate
	client  *http.Client
	refresh time.Duration
}

// WithCRLFallback reads the CRLs at urls() while the stream is down (at most every refresh, 30 s
// by default) and refuses the serials they list. A CRL counts only if one of issuers() (the
// issuing CAs, looked up at each fetch so CA rotation is followed) signed it and it is not past
// its nextUpdate.
func WithCRLFallback(urls func() []string, issuers func() []*x509.Certificate) Option {
	return func(f *Follower) {
		f.crl = &crlFallback{urls: urls, issuers: issuers, client: &http.Client{Timeout: 10 * time.Second},
			refresh: 30 * time.Second}
	}
}

// WithCRLRefresh sets how often the CRLs are fetched while the stream is down.
func WithCRLRefresh(d time.Duration) Option {
	return func(f *Follower) {
		if f.crl != nil {
			f.crl.refresh = d
		}
	}
}

// WithCRLHTTPClient sets the client the CRLs are fetched with (e.g. one trusting an https_web
// publication certificate).
func WithCRLHTTPClient(c *http.Client) Option {
	return func(f *Follower) {
		if f.crl != nil {
			f.crl.client = c
		}
	}
}

// SVIDs gives the workload's current certificate chain; identity.Source is one.
type SVIDs interface {
	SVID() *identity.SVID
}

// CRLsOf is the CRL fallback for a workload's own chain: the CRL distribution points its
// certificate names (Lanyard's /crl/<issuer key id>) and the issuing CAs that signed it.
func CRLsOf(src SVIDs) Option {
	return WithCRLFallback(func() []string {
		if s := src.SVID(); s != nil && s.Leaf != nil {
			return s.Leaf.CRLDistributionPoints
		}
		return nil
	}, func() []*x509.Certificate {
		if s := src.SVID(); s != nil {
			return s.Intermediates
		}
		return nil
	})
}

// followCRLs fetches the CRLs whenever the stream is down and a refresh is due, until ctx is done.
func (f *Follower) followCRLs(ctx context.Context) {
	ticker := time.NewTicker(crlCheckEvery)
	defer ticker.Stop()
	var next time.Time
	for {
		if !f.Connected() && !f.now().Before(next) {
			next = f.now().Add(f.crl.refresh)
			f.fetchCRLs(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (f *Follower) fetchCRLs(ctx context.Context) {
	for _, url := range f.crl.urls() {
		serials, err := f.fetchCRL(ctx, url)
		if err != nil {
			// The serials this URL gave before stay in force: a failed fetch revokes nothing less.
			f.log.Warn("could not use a CRL", "url", url, "error", err)
			continue
		}
		f.mu.Lock()
		f.crlSerials[url] = serials
		f.mu.Unlock()
	}
}

func (f *Follower) fetchCRL(ctx context.Context, url string) (map[string]struct{}, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.crl.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, maxCRLBytes+1))
	if err != nil {
		return nil, err
	}
	if len(der) > maxCRLBytes {
		return nil, fmt.Errorf("the CRL is larger than %d bytes", maxCRLBytes)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("not a DER CRL: %w", err)
	}
	if !f.signedByIssuingCA(crl) {
		return nil, fmt.Errorf("the CRL is not signed by a trusted issuing CA")
	}
	if !crl.NextUpdate.IsZero() && crl.NextUpdate.Before(f.now()) {
		return nil, fmt.Errorf("the CRL is stale (nextUpdate %s)", crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	serials := make(map[string]struct{}, len(crl.RevokedCertificateEntries))
	for _, e := range crl.RevokedCertificateEntries {
		serials[e.SerialNumber.Text(16)] = struct{}{}
	}
	return serials, nil
}

func (f *Follower) signedByIssuingCA(crl *x509.RevocationList) bool {
	for _, ca := range f.crl.issuers() {
		// Another CA with the same name may have signed it, so every match is tried.
		if bytes.Equal(ca.RawSubject, crl.RawIssuer) && crl.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	return false
}

// normalSerial is a serial as lower-case hex without leading zeros, the form certificates give.
func normalSerial(s string) string {
	s = strings.TrimLeft(strings.ToLower(s), "0")
	if s == "" {
		return "0"
	}
	return s
}
