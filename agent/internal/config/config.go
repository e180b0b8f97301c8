// Package config is lanyard-agent's configuration: a JSON file with a default for every setting,
// then command-line flags on top.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Config is everything the agent needs. Durations are Go duration strings in the file ("30s").
type Config struct {
	// Socket is the unix socket of the Workload API (what SPIFFE_ENDPOINT_SOCKET names). Its directory
	// must be the agent's own and writable by nobody else (it is made 0755 if absent).
	Socket string `json:"socket"`
	// Server is Lanyard's gRPC address, HOST:PORT.
	Server string `json:"server"`
	// Bundle (PEM roots) or RootFingerprint ("sha256:HEX") says how to trust the server at first contact.
	Bundle          string `json:"bundle"`
	RootFingerprint string `json:"root_fingerprint"`
	// DataDir keeps the agent's own SVID and key (0600) so a restart needs no new attestation. It
	// must be the agent's own, mode 0700 (made so if absent), inside directories nobody else may
	// write to (sticky ones like /tmp excepted).
	DataDir string `json:"data_dir"`
	// Attestor is how the node proves itself: join_token, x509pop or k8s_psat.
	Attestor string `json:"attestor"`
	// JoinTokenFile holds a one-time agent join token (or LANYARD_JOIN_TOKEN is set).
	JoinTokenFile string `json:"join_token_file"`
	// X509PopCert and X509PopKey are the node's certificate (chain, PEM) and key (PEM).
	X509PopCert string `json:"x509pop_cert"`
	X509PopKey  string `json:"x509pop_key"`
	// PSATCluster and PSATTokenFile: the cluster name the server knows and the projected token's path.
	PSATCluster   string `json:"psat_cluster"`
	PSATTokenFile string `json:"psat_token_file"`
	// AttestRetryTimeout caps how long the agent retries at start while the server cannot be reached
	// or answers UNAVAILABLE (also DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED); zero (the default) retries
	// until it answers. A refusal of the evidence ends the agent at once either way.
	AttestRetryTimeout Duration `json:"attest_retry_timeout"`
	// SyncInterval is how often registrations are fetched.
	SyncInterval Duration `json:"sync_interval"`
	// WorkloadSVIDTTL is the lifetime asked for workload SVIDs; zero means the server default.
	WorkloadSVIDTTL Duration `json:"workload_svid_ttl"`
	// AttestationCache is how long a caller's selectors are reused for the same process.
	AttestationCache Duration `json:"attestation_cache"`
	// Issuer is the iss ValidateJWTSVID expects of the agent's trust domain's tokens, which it refuses
	// with another iss. Empty (the default) follows the server: the iss of the tokens it mints (its
	// public-url), named with the entries the agent fetches; until the first such answer every token
	// of the trust domain is refused. Set, it wins over the server's (a warning is logged once if
	// they differ).
	Issuer string `json:"issuer"`
	// FederatedIssuers are the issuers of the federated trust domains, by trust domain name
	// ("b.test": "https://lanyard.b.test"): ValidateJWTSVID checks a federated token only against
	// its trust domain's issuer here, and refuses one whose trust domain has none.
	FederatedIssuers map[string]string `json:"federated_issuers"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
}

// Duration is a time.Duration written as a Go duration string.
type Duration struct{ time.Duration }

// UnmarshalJSON reads "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Default is the configuration without a file.
func Default() Config {
	return Config{
		Socket:           "/tmp/lanyard/agent.sock",
		DataDir:          "/tmp/lanyard/agent-data",
		Attestor:         "join_token",
		PSATTokenFile:    "/var/run/secrets/tokens/lanyard-agent",
		SyncInterval:     Duration{5 * time.Second},
		AttestationCache: Duration{2 * time.Second},
		LogLevel:         "info",
	}
}

// Load reads a JSON file over the defaults; an unknown key is an error, not ignored.
func Load(path string) (Config, error) {
	cfg := Default()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Validate says what is missing or contradictory.
func (c Config) Validate() error {
	var problems []string
	if c.Server == "" {
		problems = append(problems, "the Lanyard server address is required (--server or \"server\")")
	}
	if (c.Bundle == "") == (c.RootFingerprint == "") {
		problems = append(problems, "exactly one of --bundle and --root-fingerprint is required to trust the server")
	}
	if c.Socket == "" {
		problems = append(problems, "the socket path is empty")
	}
	switch c.Attestor {
	case "join_token":
	case "x509pop":
		if c.X509PopCert == "" || c.X509PopKey == "" {
			problems = append(problems, "x509pop needs x509pop_cert and x509pop_key")
		}
	case "k8s_psat":
		if c.PSATCluster == "" {
			problems = append(problems, "k8s_psat needs psat_cluster")
		}
	default:
		problems = append(problems, fmt.Sprintf("attestor %q is not one of join_token, x509pop, k8s_psat", c.Attestor))
	}
	if c.AttestRetryTimeout.Duration < 0 {
		problems = append(problems, "attest_retry_timeout must not be negative (0 retries until the server answers)")
	}
	for td, issuer := range c.FederatedIssuers {
		if td == "" || strings.ContainsAny(td, ":/") || issuer == "" {
			problems = append(problems, fmt.Sprintf("federated_issuers maps a trust domain name (b.test) to its issuer: %q: %q is not one", td, issuer))
		}
	}
	if c.SyncInterval.Duration <= 0 {
		problems = append(problems, "sync_interval must be positive")
	}
	if len(problems) > 0 {
		return errors.New("config: " + strings.Join(problems, "; "))
	}
	return nil
}
