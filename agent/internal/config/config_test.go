package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAndAFileOverThem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	os.WriteFile(path, []byte(`{"server": "lanyard:8443", "root_fingerprint": "sha256:ab", "sync_interval": "2s",
		"attest_retry_timeout": "5m", "issuer": "https://lanyard.a.test", "federated_issuers": {"b.test": "https://lanyard.b.test"}}`), 0o600)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Socket != "/tmp/lanyard/agent.sock" || cfg.SyncInterval.Duration != 2*time.Second || cfg.Attestor != "join_token" ||
		cfg.AttestRetryTimeout.Duration != 5*time.Minute || Default().AttestRetryTimeout.Duration != 0 ||
		cfg.Issuer != "https://lanyard.a.test" || cfg.FederatedIssuers["b.test"] != "https://lanyard.b.test" {
		t.Fatalf("%+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestMistakesAreRefusedNotDefaulted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	os.WriteFile(path, []byte(`{"sever": "lanyard:8443"}`), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "sever") {
		t.Fatalf("an unknown key: %v", err)
	}
	cfg := Default()
	cfg.Attestor = "x509pop"
	cfg.AttestRetryTimeout.Duration = -time.Second
	cfg.FederatedIssuers = map[string]string{"spiffe://b.test": "https://lanyard.b.test"}
	err := cfg.Validate()
	for _, want := range []string{"server address is required", "exactly one of --bundle and --root-fingerprint",
		"x509pop needs", "attest_retry_timeout must not be negative", "federated_issuers maps a trust domain name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation %v does not say %q", err, want)
		}
	}
}
