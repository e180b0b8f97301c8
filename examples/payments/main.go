// Command payments is the Go example service of Lanyard: it gets its identity from Lanyard with a
// join token, serves examples.payments.v1.PaymentsService over mTLS behind the scope-enforcing
// interceptors, and calls other services (the Rust ledger) when told to through its control API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/lanyard-dev/lanyard/clients/go/authz"
	paymentsv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/payments/v1"
	"github.com/lanyard-dev/lanyard/clients/go/identity"
	"github.com/lanyard-dev/lanyard/clients/go/jwks"
	"github.com/lanyard-dev/lanyard/clients/go/retry"
	"github.com/lanyard-dev/lanyard/clients/go/revocation"
	"github.com/lanyard-dev/lanyard/clients/go/token"
	"github.com/lanyard-dev/lanyard/clients/go/verify"

	// The ledger's descriptors, so that POST /call can build its requests.
	_ "github.com/lanyard-dev/lanyard/clients/go/examplespb/ledger/v1"
)

// options are the flags shared with the Rust example (see the e2e suite).
type options struct {
	lanyard   string
	bundle    string
	rootPin   string
	joinToken string
	jwksURL   string
	// allowPlainHTTP accepts an http:// --jwks-url (the dev server's; never in production).
	allowPlainHTTP bool
	issuer         string
	listen         string
	// listener, when set (tests), serves instead of a new listener on listen: a port picked and
	// released first could be taken by another socket before run binds it.
	listener net.Listener
	control  string
	ttl      time.Duration
	// federateWith are the federated trust domains whose services this one may call.
	federateWith []spiffeid.TrustDomain
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("payments", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.lanyard, "lanyard", "", "Lanyard's gRPC address, HOST:PORT")
	fs.StringVar(&o.bundle, "bundle", "", "PEM roots that Lanyard's server certificate chains to")
	fs.StringVar(&o.rootPin, "root-fingerprint", "", "sha256:HEX of Lanyard's root, as `lanyard dev` prints it (instead of --bundle)")
	fs.StringVar(&o.joinToken, "join-token", "", "one-time join token (prefer the LANYARD_JOIN_TOKEN environment variable)")
	fs.StringVar(&o.jwksURL, "jwks-url", "", "Lanyard's JWKS, e.g. https://lanyard.example/.well-known/jwks.json")
	fs.BoolVar(&o.allowPlainHTTP, "allow-plain-http", false, "accept an http:// --jwks-url, as `lanyard dev` serves it (anyone on the path could forge tokens: dev and tests only)")
	fs.StringVar(&o.issuer, "issuer", "", "the iss every token must carry")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9443", "where PaymentsService listens (mTLS)")
	fs.StringVar(&o.control, "control", "127.0.0.1:9090", "where the HTTP control API listens (loopback only)")
	fs.DurationVar(&o.ttl, "ttl", 0, "certificate lifetime to ask for (default: the server's)")
	fs.Func("federate-with", "a federated trust domain whose services POST /call may call (repeatable)", func(v string) error {
		td, err := spiffeid.TrustDomainFromString(v)
		if err != nil {
			return fmt.Errorf("not a trust domain: %w", err)
		}
		o.federateWith = append(o.federateWith, td)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.joinToken == "" {
		o.joinToken = getenv("LANYARD_JOIN_TOKEN")
	}
	var missing []string
	for name, v := range map[string]string{"--lanyard": o.lanyard, "--bundle or --root-fingerprint": o.bundle + o.rootPin,
		"--jwks-url": o.jwksURL, "--issuer": o.issuer, "--join-token or LANYARD_JOIN_TOKEN": o.joinToken} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return o, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if o.bundle != "" && o.rootPin != "" {
		return o, errors.New("--bundle and --root-fingerprint exclude each other: trust Lanyard one way")
	}
	if host, _, err := net.SplitHostPort(o.control); err != nil || !isLoopback(host) {
		return o, fmt.Errorf("--control must be a loopback HOST:PORT (it has no authentication), not %q", o.control)
	}
	return o, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	o, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "payments:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, log, nil); err != nil {
		log.Error("payments stopped", "error", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. ready, if not nil, receives the control API's address once it listens.
func run(ctx context.Context, o options, log *slog.Logger, ready chan<- string) error {
	ctl := &control{log: log}
	controlLn, err := net.Listen("tcp", o.control)
	if err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	httpServer := &http.Server{Handler: ctl.routes(), ReadHeaderTimeout: 10 * time.Second}
	go httpServer.Serve(controlLn)
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		httpServer.Shutdown(shutdownCtx)
	}()
	if ready != nil {
		ready <- controlLn.Addr().String()
	}

	src, err := bootstrap(ctx, o, log)
	if err != nil {
		return err
	}
	defer src.Close()
	log.Info("bootstrapped", "spiffe_id", src.SVID().ID.String(), "serial", src.Serial())

	var plain []jwks.Option
	if o.allowPlainHTTP {
		plain = append(plain, jwks.AllowPlainHTTP())
	}
	keys, err := jwks.NewCache(o.jwksURL, plain...)
	if err != nil {
		return err
	}
	follower := revocation.NewFollower(src, revocation.WithLogger(log), revocation.CRLsOf(src))
	followCtx, stopFollowing := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() { follower.Run(followCtx); close(followed) }()
	defer func() { stopFollowing(); <-followed }()

	// A revoked peer (ours, or a federated trust domain's that Lanyard passes on) fails the handshake.
	src.RefuseRevoked(follower)
	callees := identity.AuthorizeMemberOfAny(append([]spiffeid.TrustDomain{src.TrustDomain()}, o.federateWith...)...)

	v, err := verify.New(verify.Config{Issuer: o.issuer, Audience: "payments", Keys: keys, Revocations: follower})
	if err != nil {
		return err
	}
	enforcer, err := authz.New(v, string(paymentsv1.File_examples_payments_v1_payments_proto.Services().Get(0).FullName()))
	if err != nil {
		return err
	}
	grpcServer := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(src.ServerTLSConfig(identity.AuthorizeMemberOf(src.TrustDomain())))),
		grpc.UnaryInterceptor(enforcer.UnaryServerInterceptor()),
		grpc.StreamInterceptor(enforcer.StreamServerInterceptor()))
	paymentsv1.RegisterPaymentsServiceServer(grpcServer, newPayments())
	ln := o.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", o.listen); err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
	}
	served := make(chan error, 1)
	go func() { served <- grpcServer.Serve(ln) }()

	ctl.src = src
	ctl.peers = callees
	ctl.follower = follower
	ctl.tokens = token.NewFetcher(src)
	ctl.serving.Store(true)
	log.Info("serving", "service", "examples.payments.v1.PaymentsService", "listen", ln.Addr().String(), "control", controlLn.Addr().String())

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("gRPC server: %w", err)
	}
	ctl.serving.Store(false)
	stopped := make(chan struct{})
	go func() { grpcServer.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		grpcServer.Stop()
	}
	return nil
}

// bootstrap retries while Lanyard is unreachable (it may start after us); a refusal is final.
func bootstrap(ctx context.Context, o options, log *slog.Logger) (*identity.Source, error) {
	backoff := retry.Backoff{Base: 250 * time.Millisecond, Max: 5 * time.Second}
	for attempt := 0; ; attempt++ {
		src, err := identity.Start(ctx, identity.Config{Server: o.lanyard, BundleFile: o.bundle, RootFingerprint: o.rootPin,
			JoinToken: o.joinToken, TTL: o.ttl, Logger: log})
		if err == nil || !retry.IsTransient(err) || attempt >= 40 {
			return src, err
		}
		log.Warn("Lanyard unreachable; retrying the bootstrap", "error", err, "attempt", attempt+1)
		if err := retry.Sleep(ctx, backoff.Delay(attempt)); err != nil {
			return nil, err
		}
	}
}
