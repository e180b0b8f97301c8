package identity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePin(t *testing.T) {
	hex := strings.Repeat("aB", 32)
	if got, err := parsePin(" SHA256:" + hex); err != nil || got != "sha256:"+strings.ToLower(hex) {
		t.Fatalf("%q %v", got, err)
	}
	colons := strings.TrimSuffix(strings.Repeat("ab:", 32), ":")
	if got, err := parsePin("sha256:" + colons); err != nil || got != "sha256:"+strings.Repeat("ab", 32) {
		t.Fatalf("%q %v", got, err)
	}
	for _, bad := range []string{"", hex, "sha1:" + hex, "sha256:" + hex[:62], "sha256:" + strings.Repeat("zz", 32)} {
		if _, err := parsePin(bad); err == nil || !strings.Contains(err.Error(), "sha256:<64 hex digits>") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestReadBundleFileRefusesWhatIsNotCertificates(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.pem"), "reading the trust bundle"},
		{write("empty.pem", "nothing here"), "holds no PEM certificate"},
		{write("key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), `holds a "PRIVATE KEY" PEM block`},
		{write("junk.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "an unreadable certificate"},
	}
	for _, tc := range cases {
		if _, err := ReadBundleFile(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want %q, got %v", tc.path, tc.want, err)
		}
	}
}
