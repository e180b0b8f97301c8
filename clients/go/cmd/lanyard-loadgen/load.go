package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/lanyard-dev/lanyard/clients/go/identity"
	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// callTimeout bounds one call, as the Java loop's 30 s deadline did.
const callTimeout = 30 * time.Second

// call makes one request as worker w; i counts the worker's calls.
type call func(ctx context.Context, w, i int) error

// run opens the connections, warms them, runs the warm-up and then the timed window.
func run(ctx context.Context, c config, in io.Reader, out io.Writer) (report, error) {
	svid, err := x509svid.Load(c.certFile, c.keyFile)
	if err != nil {
		return report{}, fmt.Errorf("reading the workload credential: %w", err)
	}
	td := svid.ID.TrustDomain()
	bundle, err := x509bundle.Load(td, c.bundleFile)
	if err != nil {
		return report{}, fmt.Errorf("reading the trust bundle: %w", err)
	}
	tlsConfig := tlsconfig.MTLSClientConfig(svid, bundle, tlsconfig.AuthorizeMemberOf(td))
	conns := make([]*grpc.ClientConn, c.concurrency)
	for w := range conns {
		conns[w], err = grpc.NewClient(c.server, identity.DialOptions(credentials.NewTLS(tlsConfig))...)
		if err != nil {
			return report{}, fmt.Errorf("connecting to %s: %w", c.server, err)
		}
		defer conns[w].Close()
	}
	do, err := caller(c, conns)
	if err != nil {
		return report{}, err
	}
	// One call per connection first: it connects, and fails fast if the server refuses us.
	for w := range conns {
		if err := timed(ctx, do, w, w); err != nil {
			return report{}, fmt.Errorf("the first %s call to %s: %w", c.kind, c.server, err)
		}
	}
	if c.warmup > 0 {
		closedLoop(ctx, c.concurrency, c.warmup, do)
	}
	if c.handshake {
		if _, err := fmt.Fprintln(out, "warm"); err != nil {
			return report{}, err
		}
		if _, err := bufio.NewReader(in).ReadString('\n'); err != nil {
			return report{}, fmt.Errorf("waiting for the go-ahead on stdin: %w", err)
		}
	}
	before := cpuTime()
	lat, errs := closedLoop(ctx, c.concurrency, c.duration, do)
	cpu := cpuTime() - before
	return summarize(c, lat, errs, cpu), nil
}

// caller makes the request function for the kind: renewals use the CSR pool, made here, before
// any load; each worker starts at its own part of the pool. A ping is a gRPC health check: the
// server's request chain and transport with no work behind them, the floor under every call.
func caller(c config, conns []*grpc.ClientConn) (call, error) {
	if c.kind == "ping" {
		req := &healthpb.HealthCheckRequest{}
		clients := make([]healthpb.HealthClient, len(conns))
		for w, conn := range conns {
			clients[w] = healthpb.NewHealthClient(conn)
		}
		return func(ctx context.Context, w, _ int) error {
			_, err := clients[w].Check(ctx, req)
			return err
		}, nil
	}
	if c.kind == "token" {
		req := &lanyardv1.IssueTokenRequest{Audience: c.audience, Scopes: c.scopes}
		clients := make([]lanyardv1.TokenServiceClient, len(conns))
		for w, conn := range conns {
			clients[w] = lanyardv1.NewTokenServiceClient(conn)
		}
		return func(ctx context.Context, w, _ int) error {
			_, err := clients[w].IssueToken(ctx, req)
			return err
		}, nil
	}
	reqs := make([]*lanyardv1.RenewCertificateRequest, c.csrs)
	for i := range reqs {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating a key: %w", err)
		}
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
		if err != nil {
			return nil, fmt.Errorf("making a CSR: %w", err)
		}
		reqs[i] = &lanyardv1.RenewCertificateRequest{Csr: csr}
	}
	clients := make([]lanyardv1.CertificateServiceClient, len(conns))
	for w, conn := range conns {
		clients[w] = lanyardv1.NewCertificateServiceClient(conn)
	}
	return func(ctx context.Context, w, i int) error {
		_, err := clients[w].RenewCertificate(ctx, reqs[(w*len(reqs)/len(conns)+i)%len(reqs)])
		return err
	}, nil
}

func timed(ctx context.Context, do call, w, i int) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return do(ctx, w, i)
}

// closedLoop runs do on each of workers goroutines until d has passed: the latencies of the calls
// that succeeded, and the failures counted by gRPC code.
func closedLoop(ctx context.Context, workers int, d time.Duration, do call) ([]time.Duration, map[string]int64) {
	deadline := time.Now().Add(d)
	lat := make([][]time.Duration, workers)
	errs := make([]map[string]int64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			errs[w] = map[string]int64{}
			for i := 0; ; i++ {
				start := time.Now()
				if !start.Before(deadline) {
					return
				}
				if err := timed(ctx, do, w, i); err != nil {
					errs[w][codeName(status.Code(err))]++
					continue
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		})
	}
	wg.Wait()
	all := map[string]int64{}
	for _, e := range errs {
		for code, n := range e {
			all[code] += n
		}
	}
	return slices.Concat(lat...), all
}

func summarize(c config, lat []time.Duration, errs map[string]int64, cpu time.Duration) report {
	slices.Sort(lat)
	return report{
		Kind:        c.kind,
		Concurrency: c.concurrency,
		Seconds:     c.duration.Seconds(),
		Operations:  int64(len(lat)),
		Errors:      errs,
		P50Millis:   millis(percentile(lat, 0.50)),
		P99Millis:   millis(percentile(lat, 0.99)),
		CPUSeconds:  cpu.Seconds(),
	}
}

// percentile of sorted latencies (nearest rank); zero when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuTime is this process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// codeName is the code as gRPC's specification spells it (RESOURCE_EXHAUSTED), as Java prints it.
func codeName(c codes.Code) string {
	if c == codes.Canceled {
		return "CANCELLED"
	}
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}
