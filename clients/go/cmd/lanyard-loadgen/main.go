// Command lanyard-loadgen is the load generator `lanyard bench issue|token` runs: a closed loop of
// RenewCertificate or IssueToken calls over persistent mTLS gRPC connections, a warm-up, then a timed
// window, and one JSON object on stdout with the window's operations, errors by gRPC code, latency
// percentiles and this process's own CPU time. It is written in Go so that it costs the machine far
// less than the server it measures (the Java loop cost 0.6–0.8 ms of CPU per renewal).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// config is what one run needs; parseConfig fills and checks it.
type config struct {
	server      string
	bundleFile  string
	certFile    string
	keyFile     string
	kind        string // "issue" or "token"
	audience    string
	scopes      []string
	concurrency int
	csrs        int
	warmup      time.Duration
	duration    time.Duration
	handshake   bool
}

// report is the JSON object printed at the end; `lanyard bench` reads it.
type report struct {
	Kind        string           `json:"kind"`
	Concurrency int              `json:"concurrency"`
	Seconds     float64          `json:"seconds"`
	Operations  int64            `json:"operations"`
	Errors      map[string]int64 `json:"errors"`
	P50Millis   float64          `json:"p50_ms"`
	P99Millis   float64          `json:"p99_ms"`
	CPUSeconds  float64          `json:"cpu_seconds"`
}

type scopeList []string

func (s *scopeList) String() string     { return strings.Join(*s, ",") }
func (s *scopeList) Set(v string) error { *s = append(*s, v); return nil }

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	var scopes scopeList
	fs := flag.NewFlagSet("lanyard-loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.server, "server", "", "Lanyard's gRPC address, HOST:PORT (required)")
	fs.StringVar(&c.bundleFile, "bundle", "", "PEM trust bundle (required)")
	fs.StringVar(&c.certFile, "cert", "", "PEM certificate chain of the calling workload (required)")
	fs.StringVar(&c.keyFile, "key", "", "PEM private key of the calling workload (required)")
	fs.StringVar(&c.kind, "kind", "", "issue (mTLS renewals), token (IssueToken) or ping (gRPC health checks) (required)")
	fs.StringVar(&c.audience, "audience", "", "token: the audience asked for (required for token)")
	fs.Var(&scopes, "scope", "token: a scope asked for (repeatable)")
	fs.IntVar(&c.concurrency, "concurrency", 4, "persistent connections, one caller each")
	fs.IntVar(&c.csrs, "csrs", 1000, "issue: distinct keys and CSRs made before the window, used in turn")
	fs.DurationVar(&c.warmup, "warmup", 30*time.Second, "load before the timed window, not measured")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "the timed window")
	fs.BoolVar(&c.handshake, "handshake", false, "after the warm-up write \"warm\" on stdout and wait for a line"+
		" on stdin before the timed window (lanyard bench reads the server's /metrics then)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c.scopes = scopes
	var missing []string
	for _, f := range []struct{ name, value string }{{"-server", c.server}, {"-bundle", c.bundleFile},
		{"-cert", c.certFile}, {"-key", c.keyFile}, {"-kind", c.kind}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return config{}, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	switch c.kind {
	case "issue", "ping":
	case "token":
		if c.audience == "" {
			return config{}, errors.New("-kind token needs -audience")
		}
	default:
		return config{}, fmt.Errorf("-kind must be issue, token or ping, not %q", c.kind)
	}
	if c.concurrency < 1 || c.csrs < 1 || c.duration <= 0 || c.warmup < 0 {
		return config{}, errors.New("-concurrency, -csrs and -duration must be positive, -warmup not negative")
	}
	return c, nil
}

func main() {
	c, err := parseConfig(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lanyard-loadgen:", err)
		os.Exit(2)
	}
	r, err := run(context.Background(), c, os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lanyard-loadgen:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "lanyard-loadgen:", err)
		os.Exit(1)
	}
}
