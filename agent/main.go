// Command lanyard-agent is Lanyard's node agent: it attests its node to the Lanyard server (x509pop and
// k8s_psat again by themselves if an outage outlasted the agent's SVID), fetches the registrations
// parented to it and their SVIDs, and serves them to local processes over the SPIFFE Workload API on
// a unix socket, attesting each caller by what the kernel says.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lanyard-dev/lanyard/agent/internal/cache"
	"github.com/lanyard-dev/lanyard/agent/internal/config"
	"github.com/lanyard-dev/lanyard/agent/internal/nodeattest"
	"github.com/lanyard-dev/lanyard/agent/internal/peer"
	"github.com/lanyard-dev/lanyard/agent/internal/securedir"
	"github.com/lanyard-dev/lanyard/agent/internal/workload"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "lanyard-agent:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if cmd, ok := subcommand(args); ok {
		return cmd(args[1:])
	}
	started := time.Now()
	cfg, err := parse(args)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level(cfg.LogLevel)}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// Checked before attesting (a join token is single use): the socket's directory must be ours.
	if err := securedir.Ensure(filepath.Dir(cfg.Socket), 0o755); err != nil {
		return fmt.Errorf("the socket's directory: %w", err)
	}
	manager, err := cache.Start(ctx, cache.Config{Server: cfg.Server, BundleFile: cfg.Bundle,
		RootFingerprint: cfg.RootFingerprint, DataDir: cfg.DataDir, Evidence: evidence(cfg),
		Reattests:    cfg.Attestor == "x509pop" || cfg.Attestor == "k8s_psat",
		SyncInterval: cfg.SyncInterval.Duration, SVIDTTL: cfg.WorkloadSVIDTTL.Duration,
		AttestRetryTimeout: cfg.AttestRetryTimeout.Duration, Logger: log})
	if err != nil {
		return err
	}
	defer manager.Close()

	listener, err := listen(cfg.Socket)
	if err != nil {
		return err
	}
	issuers := workload.NewIssuers(cfg.Issuer, cfg.FederatedIssuers)
	go issuers.WarnIfOverridden(ctx, manager, log)
	server := workload.NewGRPCServer(workload.New(manager, peer.NewAttestor(cfg.AttestationCache.Duration),
		issuers, log))
	go func() {
		<-ctx.Done()
		server.GracefulStop()
	}()
	log.Info("serving the Workload API", "socket", cfg.Socket, "agent", manager.AgentID(),
		"startup", time.Since(started).Round(time.Millisecond))
	// The line tests and scripts wait for.
	fmt.Fprintf(os.Stdout, "lanyard-agent serving unix://%s as %s\n", cfg.Socket, manager.AgentID())
	err = server.Serve(listener)
	os.Remove(cfg.Socket)
	return err
}

func parse(args []string) (config.Config, error) {
	fs := flag.NewFlagSet("lanyard-agent", flag.ContinueOnError)
	file := fs.String("config", "", "a JSON configuration file (every setting has a default)")
	socket := fs.String("socket", "", "the Workload API socket (default /tmp/lanyard/agent.sock)")
	server := fs.String("server", "", "Lanyard's gRPC address, HOST:PORT")
	bundle := fs.String("bundle", "", "PEM roots to trust the server with")
	pin := fs.String("root-fingerprint", "", "sha256:HEX of the server's root, to trust it without a bundle file")
	dataDir := fs.String("data-dir", "", "where the agent keeps its own SVID (default /tmp/lanyard/agent-data)")
	attestor := fs.String("attestor", "", "join_token (LANYARD_JOIN_TOKEN or --join-token-file), x509pop or k8s_psat")
	tokenFile := fs.String("join-token-file", "", "a file holding a one-time agent join token")
	popCert := fs.String("x509pop-cert", "", "the node certificate chain (PEM) for x509pop")
	popKey := fs.String("x509pop-key", "", "the node key (PEM) for x509pop")
	issuer := fs.String("issuer", "", "the iss ValidateJWTSVID expects of the trust domain's tokens"+
		" (default: the one the server names, its public-url; a value given here wins over it)")
	retryFor := fs.Duration("attest-retry-timeout", 0, "how long to retry at start while the server is"+
		" unreachable or UNAVAILABLE (0: until it answers, the default)")
	if err := fs.Parse(args); err != nil {
		return config.Config{}, err
	}
	cfg := config.Default()
	if *file != "" {
		var err error
		if cfg, err = config.Load(*file); err != nil {
			return cfg, err
		}
	}
	for _, o := range []struct {
		flag string
		dst  *string
	}{{*socket, &cfg.Socket}, {*server, &cfg.Server}, {*bundle, &cfg.Bundle}, {*pin, &cfg.RootFingerprint},
		{*dataDir, &cfg.DataDir}, {*attestor, &cfg.Attestor}, {*tokenFile, &cfg.JoinTokenFile},
		{*popCert, &cfg.X509PopCert}, {*popKey, &cfg.X509PopKey}, {*issuer, &cfg.Issuer}} {
		if o.flag != "" {
			*o.dst = o.flag
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "attest-retry-timeout" {
			cfg.AttestRetryTimeout.Duration = *retryFor
		}
	})
	if *bundle != "" {
		cfg.RootFingerprint = ""
	}
	if *pin != "" {
		cfg.Bundle = ""
	}
	return cfg, cfg.Validate()
}

// evidence reads the node's proof only when it is needed (no agent SVID on disk, or an expired one).
func evidence(cfg config.Config) func() (nodeattest.Evidence, error) {
	return func() (nodeattest.Evidence, error) {
		switch cfg.Attestor {
		case "x509pop":
			return nodeattest.X509Pop(cfg.X509PopCert, cfg.X509PopKey)
		case "k8s_psat":
			return nodeattest.PSAT(cfg.PSATCluster, cfg.PSATTokenFile)
		default:
			token := os.Getenv("LANYARD_JOIN_TOKEN")
			if cfg.JoinTokenFile != "" {
				data, err := os.ReadFile(cfg.JoinTokenFile)
				if err != nil {
					return nodeattest.Evidence{}, err
				}
				token = string(data)
			}
			if token == "" {
				return nodeattest.Evidence{}, errors.New("no agent SVID on disk and no join token:" +
					" set LANYARD_JOIN_TOKEN or --join-token-file (`lanyard join-token create --agent`)")
			}
			return nodeattest.JoinToken(token)
		}
	}
}

// listen replaces a stale socket in the socket's directory (checked by securedir: the agent's own,
// writable by nobody else); the socket is open to every local user (each caller is attested, and
// gets only what its selectors match). The socket is bound and given its mode inside a private
// directory, where nobody can put a symlink in its place, then renamed to path (rename replaces
// whatever is at path, and follows no symlink there).
func listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := securedir.Ensure(dir, 0o755); err != nil {
		return nil, fmt.Errorf("the socket's directory: %w", err)
	}
	private, err := os.MkdirTemp(dir, ".agent-sock-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(private)
	tmp := filepath.Join(private, filepath.Base(path))
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, err
	}
	// The listener is not to unlink tmp (gone after the rename) when closed; main removes path.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o777); err != nil {
		l.Close()
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func level(name string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(name)); err != nil {
		return slog.LevelInfo
	}
	return l
}
