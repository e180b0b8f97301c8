package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paymentsv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/payments/v1"
	"github.com/lanyard-dev/lanyard/clients/go/lanyardtest"
)

// These tests run the command in-process against a real Lanyard dev server (the Java one, from
// LANYARD_CLASSPATH, which the Maven build of clients/go sets), over real mTLS.

var (
	server  *lanyardtest.Server
	noServe error
	counter atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(lanyardtest.Main(m, "lanyard-cli-test-", func(s *lanyardtest.Server, err error) { server, noServe = s, err }))
}

// needServer fails (not skips) without a server, naming what is missing; -short skips on purpose.
func needServer(t *testing.T) *lanyardtest.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the tests against a running Lanyard server are skipped on purpose")
	}
	if server == nil {
		t.Fatalf("no Lanyard server to test against: %v (go test -short skips these tests on purpose)", noServe)
	}
	return server
}

type result struct {
	code     int
	out, err string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.err)
}

// cli runs one command line in-process; env holds the environment (LANYARD_SERVER defaults to the
// test server's gRPC address).
func cli(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e := &env{stdout: &out, stderr: &errOut, now: time.Now, ctx: ctx, getenv: func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		if k == "LANYARD_SERVER" && server != nil {
			return server.GRPCAddr
		}
		return ""
	}}
	code := run(e, args)
	return result{code: code, out: out.String(), err: errOut.String()}
}

func ok(t *testing.T, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("the command failed: %s", r)
	}
	return r
}

// data is the dev server's data directory (its admin credential is data/admin).
func data(s *lanyardtest.Server) string { return s.Dir }

func newID(s *lanyardtest.Server, ns string) string {
	return s.ID(fmt.Sprintf("/ns/%s/sa/w%d", ns, counter.Add(1))).String()
}

func TestAdminVerbsAgainstAServer(t *testing.T) {
	s := needServer(t)
	id := newID(s, "admin")
	r := ok(t, cli(t, nil, "registration", "create", "--data", data(s), "--spiffe-id", id, "--dns", "a.internal",
		"--dns", "b.internal", "--max-ttl", "2h", "--parent", "x509pop:subject:cn:node1", "--selector", "unix:uid:1000"))
	if r.out != "registered "+id+"\n" {
		t.Fatalf("create said %q", r.out)
	}
	list := ok(t, cli(t, nil, "registration", "list", "--data", data(s)))
	if !regexp.MustCompile(`(?m)^SPIFFE ID +MAX TTL +DNS NAMES +PARENT +SELECTORS +FEDERATES WITH$`).MatchString(list.out) ||
		!regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(id)+` +2h +a\.internal,b\.internal +x509pop:subject:cn:node1 +unix:uid:1000$`).MatchString(list.out) {
		t.Fatalf("registration list:\n%s", list.out)
	}
	token := ok(t, cli(t, nil, "join-token", "create", "--data", data(s), "--spiffe-id", id, "--ttl", "5m"))
	if !regexp.MustCompile(`^[A-Za-z0-9_.-]{20,}\n$`).MatchString(token.out) ||
		!strings.HasPrefix(token.err, "join token for "+id+", single use, expires 20") {
		t.Fatalf("join-token create: %s", token)
	}
	keys := ok(t, cli(t, nil, "keys", "list", "--data", data(s)))
	if !regexp.MustCompile(`(?m)^x509 .* ACTIVE .*Z +\S.* at 20\S+Z$`).MatchString(keys.out) ||
		!regexp.MustCompile(`(?m)^jwt .* ACTIVE `).MatchString(keys.out) {
		t.Fatalf("keys list:\n%s", keys.out)
	}
	certs := ok(t, cli(t, nil, "certs", "list", "--data", data(s), "--limit", "1"))
	if lines := strings.Split(strings.TrimSpace(certs.out), "\n"); len(lines) != 2 || !strings.HasSuffix(lines[1], "…") {
		t.Fatalf("certs list --limit 1:\n%s", certs.out)
	}
	console := ok(t, cli(t, nil, "console", "--data", data(s)))
	if !regexp.MustCompile(`^https?://\S+/console/login\?t=\S+\n$`).MatchString(console.out) ||
		!strings.HasPrefix(console.err, "console login link for this admin, single use, expires ") {
		t.Fatalf("console: %s", console)
	}
	if r := ok(t, cli(t, nil, "registration", "delete", "--data", data(s), "--spiffe-id", id)); r.out != "deleted "+id+"\n" {
		t.Fatalf("delete said %q", r.out)
	}
	if list := ok(t, cli(t, nil, "registration", "list", "--data", data(s))); strings.Contains(list.out, id) {
		t.Fatalf("deleted, still listed:\n%s", list.out)
	}
	// The default admin credential is ./lanyard-data/admin, and --admin names one directly.
	if r := cli(t, nil, "registration", "list", "--admin", filepath.Join(data(s), "admin")); r.code != 0 {
		t.Fatalf("--admin: %s", r)
	}
}

// enroll registers a new identity with a DNS name and bootstraps a credential for it into a new directory.
func enroll(t *testing.T, ns string, extra ...string) (id, dir string) {
	t.Helper()
	s := needServer(t)
	id = newID(s, ns)
	ok(t, cli(t, nil, "registration", "create", "--data", data(s), "--spiffe-id", id, "--dns", ns+".internal"))
	token := strings.TrimSpace(ok(t, cli(t, nil, "join-token", "create", "--data", data(s), "--spiffe-id", id)).out)
	dir = filepath.Join(t.TempDir(), "creds")
	ok(t, cli(t, map[string]string{"LANYARD_JOIN_TOKEN": token},
		append([]string{"cert", "issue", "--out", dir, "--root-fingerprint", s.RootFingerprint}, extra...)...))
	return id, dir
}

func leafOf(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertIssueAndRenewKeepTheDnsNamesAndWriteACredential(t *testing.T) {
	s := needServer(t)
	id, dir := enroll(t, "certs")
	leaf := leafOf(t, dir)
	if leaf.URIs[0].String() != id || strings.Join(leaf.DNSNames, ",") != "certs.internal" {
		t.Fatalf("issued %v %v", leaf.URIs, leaf.DNSNames)
	}
	if info, err := os.Stat(filepath.Join(dir, "key.pem")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem: %v %v", info.Mode(), err)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")); err != nil {
		t.Fatalf("cert.pem and key.pem do not match: %v", err)
	}
	renew := ok(t, cli(t, nil, "cert", "renew", "--in", dir))
	renewed := leafOf(t, dir)
	want := fmt.Sprintf("%s serial %s, DNS certs.internal, expires ", id, displaySerial(renewed.SerialNumber.Text(16)))
	if !strings.HasPrefix(renew.out, want) || !strings.HasSuffix(renew.out, "\n  "+dir+"/cert.pem, "+dir+
		"/key.pem (0600), "+dir+"/bundle.pem\n") || renewed.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Fatalf("renew said %q, want it to start %q", renew.out, want)
	}
	if strings.Join(renewed.DNSNames, ",") != "certs.internal" {
		t.Fatalf("renewal dropped the DNS name: %v", renewed.DNSNames)
	}
	// Other key types, and a trust bundle file instead of the pin.
	for _, kt := range []string{"ec-p384", "rsa-2048"} {
		ok(t, cli(t, nil, "cert", "renew", "--in", dir, "--key-type", kt, "--bundle", filepath.Join(dir, "bundle.pem")))
		if got := fmt.Sprintf("%T", leafOf(t, dir).PublicKey); got != map[string]string{"ec-p384": "*ecdsa.PublicKey",
			"rsa-2048": "*rsa.PublicKey"}[kt] {
			t.Fatalf("--key-type %s gave a %s", kt, got)
		}
	}
	// A join token works once.
	id2 := newID(s, "certs")
	ok(t, cli(t, nil, "registration", "create", "--data", data(s), "--spiffe-id", id2))
	token := strings.TrimSpace(ok(t, cli(t, nil, "join-token", "create", "--data", data(s), "--spiffe-id", id2)).out)
	env := map[string]string{"LANYARD_JOIN_TOKEN": token}
	ok(t, cli(t, env, "cert", "issue", "--out", t.TempDir(), "--bundle", s.BundleFile))
	again := cli(t, env, "cert", "issue", "--out", t.TempDir(), "--bundle", s.BundleFile)
	if again.code != exitRefused || !strings.Contains(again.err, "refused: UNAUTHENTICATED: join token was already used") ||
		strings.Contains(again.err, token) {
		t.Fatalf("a reused join token: %s", again)
	}
}

func TestTokenIssueWithAWorkloadCredential(t *testing.T) {
	s := needServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.PublishContracts(ctx, "cli-test", paymentsv1.File_examples_payments_v1_payments_proto); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyPolicy(ctx, lanyardtest.Grant{SpiffeIDs: []string{"spiffe://lanyard.local/ns/shop/*"},
		Audience: "payments", Scopes: []string{"payments.charge"}}); err != nil {
		t.Fatal(err)
	}
	_, dir := enroll(t, "shop")
	r := ok(t, cli(t, nil, "token", "issue", "--in", dir, "--audience", "payments", "--scope", "payments.charge", "--ttl", "2m"))
	if !regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$`).MatchString(r.out) ||
		!regexp.MustCompile(`^token \S+ for payments, expires 20\S+Z, key \S+\n$`).MatchString(r.err) {
		t.Fatalf("token issue: %s", r)
	}
	denied := cli(t, nil, "token", "issue", "--in", dir, "--audience", "payments", "--scope", "payments.refund")
	if denied.code != exitRefused || !strings.Contains(denied.err, "refused: PERMISSION_DENIED: ") ||
		!strings.Contains(denied.err, "is not granted [payments.refund] on audience payments") || denied.out != "" {
		t.Fatalf("an ungranted scope: %s", denied)
	}
}

func TestRevokeListAndReinstate(t *testing.T) {
	s := needServer(t)
	id, dir := enroll(t, "revoked")
	serial := displaySerial(leafOf(t, dir).SerialNumber.Text(16))
	r := ok(t, cli(t, nil, "revoke", "--data", data(s), "--spiffe-id", id, "--reason", "keyCompromise", "--note", "lost"))
	if !regexp.MustCompile(`^revoked ` + regexp.QuoteMeta(id) + ` \(keyCompromise\), sequence \d+\nwith its certificates: ` +
		serial + `\n$`).MatchString(r.out) {
		t.Fatalf("revoke said %q", r.out)
	}
	if again := ok(t, cli(t, nil, "revoke", "--data", data(s), "--spiffe-id", id)); !strings.HasPrefix(again.out,
		"already revoked: "+id+" (keyCompromise)") {
		t.Fatalf("revoking again said %q", again.out)
	}
	refused := cli(t, nil, "cert", "renew", "--in", dir)
	if refused.code != exitRefused || !strings.Contains(refused.err, "refused: PERMISSION_DENIED: ") ||
		!strings.Contains(refused.err, "is revoked (keyCompromise") {
		t.Fatalf("renewing a revoked identity: %s", refused)
	}
	list := ok(t, cli(t, nil, "revocations", "list", "--data", data(s), "--spiffe-id", id))
	if !regexp.MustCompile(`(?m)^\d+ +spiffe_id +`+regexp.QuoteMeta(id)+` +keyCompromise +20\S+Z +spiffe://lanyard.local/lanyard/admin +never +lost$`).MatchString(list.out) ||
		!regexp.MustCompile(`(?m)^\d+ +serial +`+serial+` +keyCompromise `).MatchString(list.out) {
		t.Fatalf("revocations list:\n%s", list.out)
	}
	re := ok(t, cli(t, nil, "reinstate", "--data", data(s), "--spiffe-id", id, "--note", "found"))
	if !regexp.MustCompile(`^reinstated ` + regexp.QuoteMeta(id) + `, sequence \d+\n$`).MatchString(re.out) {
		t.Fatalf("reinstate said %q", re.out)
	}
	// The stream, from before the revocation: the revocation, its certificate, the reinstatement.
	seq := regexp.MustCompile(`sequence (\d+)`).FindStringSubmatch(r.out)[1]
	var after int
	fmt.Sscan(seq, &after)
	watch := ok(t, cli(t, nil, "revocations", "watch", "--data", data(s), "--after", fmt.Sprint(after-1), "--count", "3"))
	if !regexp.MustCompile(`^` + seq + ` revoked ` + regexp.QuoteMeta(id) + ` \(keyCompromise\) by spiffe://lanyard.local/lanyard/admin\n` +
		`\d+ revoked serial ` + serial + ` \(keyCompromise\) by spiffe://lanyard.local/lanyard/admin \[` + regexp.QuoteMeta(id) + `\]\n` +
		`\d+ reinstated ` + regexp.QuoteMeta(id) + ` by spiffe://lanyard.local/lanyard/admin\n$`).MatchString(watch.out) {
		t.Fatalf("revocations watch:\n%s", watch.out)
	}
	// Any workload credential (not revoked) may watch.
	_, watcher := enroll(t, "watcher")
	if w := cli(t, nil, "revocations", "watch", "--in", watcher, "--after", fmt.Sprint(after-1), "--count", "1"); w.code != 0 ||
		!strings.HasPrefix(w.out, seq+" revoked "+id) {
		t.Fatalf("revocations watch --in: %s", w)
	}
	// By serial, in openssl's spelling.
	_, dir2 := enroll(t, "revoked")
	openssl := "serial=" + displaySerial(leafOf(t, dir2).SerialNumber.Text(16))
	bySerial := ok(t, cli(t, nil, "revoke", "--data", data(s), "--serial", openssl, "--reason", "superseded"))
	if !strings.HasPrefix(bySerial.out, "revoked serial "+strings.TrimPrefix(openssl, "serial=")+" (superseded), sequence ") {
		t.Fatalf("revoke --serial said %q", bySerial.out)
	}
	// An identity never registered is refused as a likely typo.
	unknown := cli(t, nil, "revoke", "--data", data(s), "--spiffe-id", "spiffe://lanyard.local/ns/typo/sa/none")
	if unknown.code != exitRefused || !strings.Contains(unknown.err, "refused: NOT_FOUND: ") ||
		!strings.Contains(unknown.err, "hint: check the SPIFFE ID (`lanyard registration list`); to refuse an identity"+
			" before it exists, run the same command with --force") {
		t.Fatalf("revoking an unknown identity: %s", unknown)
	}
	forced := ok(t, cli(t, nil, "revoke", "--data", data(s), "--spiffe-id", "spiffe://lanyard.local/ns/typo/sa/none",
		"--force"))
	if !strings.HasPrefix(forced.out, "revoked spiffe://lanyard.local/ns/typo/sa/none (unspecified), sequence ") {
		t.Fatalf("revoke --force said %q", forced.out)
	}
}

func TestAuditTailPrintsTheNewestOldestFirstAndFollows(t *testing.T) {
	s := needServer(t)
	tail := ok(t, cli(t, nil, "audit", "tail", "--data", data(s), "-n", "3"))
	lines := strings.Split(strings.TrimSpace(tail.out), "\n")
	if len(lines) != 3 {
		t.Fatalf("-n 3 printed:\n%s", tail.out)
	}
	var ids []int
	for _, l := range lines {
		var id int
		if _, err := fmt.Sscanf(l, "%d ", &id); err != nil || !regexp.MustCompile(`^\d+ 20\S+Z (SUCCESS|REFUSED|FAILED) `).MatchString(l) {
			t.Fatalf("not an audit line: %q", l)
		}
		ids = append(ids, id)
	}
	if ids[0] >= ids[1] || ids[1] >= ids[2] {
		t.Fatalf("not oldest first: %v", ids)
	}
	// --follow: one stream; a registration made meanwhile arrives on it.
	id := newID(s, "followed")
	done := make(chan result, 1)
	go func() {
		done <- cli(t, nil, "audit", "tail", "--data", data(s), "-n", "1", "--follow", "--count", "1",
			"--action", "registration.create")
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok(t, cli(t, nil, "registration", "create", "--data", data(s), "--spiffe-id", id+fmt.Sprint(time.Now().UnixNano())))
		select {
		case r := <-done:
			followed := strings.Split(strings.TrimSpace(r.out), "\n")
			if r.code != 0 || len(followed) != 2 || !strings.Contains(followed[1], " registration.create "+id) {
				t.Fatalf("audit tail --follow: %s", r)
			}
			return
		case <-time.After(2 * time.Second):
			if time.Now().After(deadline) {
				t.Fatal("audit tail --follow printed nothing new within 60 s")
			}
		}
	}
}

// closedPort is a local port nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// otherTLSServer is a TLS server whose certificate names no SPIFFE ID, and a bundle file trusting it.
func otherTLSServer(t *testing.T) (addr, bundle string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not lanyard"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der},
		PrivateKey: key}}, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); time.Sleep(time.Second); c.Close() }()
		}
	}()
	bundle = filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), bundle
}

func TestBadInputsSayWhatWasTriedAndExitWithTheDocumentedStatus(t *testing.T) {
	s := needServer(t)
	_, workload := enroll(t, "bad")
	closed := closedPort(t)
	httpAddr := strings.TrimPrefix(strings.TrimPrefix(s.HTTPURL, "http://"), "https://")
	otherAddr, otherBundle := otherTLSServer(t)
	missing := filepath.Join(t.TempDir(), "missing")
	tokenFile := filepath.Join(t.TempDir(), "token") // not --join-token: that adds a warning before the error
	if err := os.WriteFile(tokenFile, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"a closed port", []string{"registration", "list", "--data", data(s), "--server", closed}, exitConnection,
			[]string{"error: " + closed + ": connection refused: nothing is listening on that port\n",
				"hint: start the server (`./lanyard dev`), or pass --server HOST:PORT with the server's gRPC port"}},
		{"an unknown host", []string{"keys", "list", "--data", data(s), "--server", "no-such-host.invalid:8443"},
			exitConnection, []string{"error: no-such-host.invalid:8443: unknown host: the name does not resolve\n",
				"hint: check the host in --server"}},
		{"the HTTP port", []string{"registration", "list", "--data", data(s), "--server", httpAddr}, exitConnection,
			[]string{"error: " + httpAddr + ": TLS: the server did not answer in TLS (is this the HTTP port?)\n"}},
		{"another TLS server", []string{"cert", "renew", "--in", workload, "--bundle", otherBundle, "--server", otherAddr},
			exitConnection, []string{"error: " + otherAddr + ": TLS: the server's certificate names no SPIFFE ID, not" +
				" spiffe://lanyard.local/lanyard/server: this is not the Lanyard server\n",
				"hint: this address reaches another TLS service"}},
		{"a server its roots do not vouch for", []string{"registration", "list", "--data", data(s), "--server", otherAddr},
			exitConnection, []string{"error: " + otherAddr + ": TLS: the server's certificate is not signed by the roots in " +
				data(s) + "/admin/bundle.pem (it was issued by CN=not lanyard)\n"}},
		{"a wrong pinned root", []string{"cert", "issue", "--out", missing, "--join-token-file", tokenFile, "--root-fingerprint",
			"sha256:" + strings.Repeat("ab", 32)}, exitConnection, []string{"TLS: no root in the server's trust bundle" +
			" matches the pinned fingerprint sha256:" + strings.Repeat("ab", 32) + "; nothing was sent"}},
		{"a malformed pin", []string{"cert", "issue", "--out", missing, "--join-token-file", tokenFile, "--root-fingerprint", "md5:00"},
			exitUsage, []string{"error: --root-fingerprint (6 characters): this is not a sha256 fingerprint\n"}},
		{"no admin credential", []string{"registration", "list", "--data", missing}, exitFailed,
			[]string{"error: " + missing + "/admin: no admin credential here (cert.pem and key.pem)\n",
				"hint: pass --data DIR (the data directory of `lanyard dev`"}},
		{"no workload credential", []string{"token", "issue", "--in", missing, "--audience", "a", "--scope", "b"}, exitFailed,
			[]string{"error: --in " + missing + ": no such directory\n", "hint: it must be a credential directory"}},
		{"a directory without key.pem", []string{"cert", "renew", "--in", filepath.Dir(missing)}, exitFailed,
			[]string{"holds no cert.pem, so it is not a credential directory"}},
		{"a missing bundle file", []string{"cert", "issue", "--out", missing, "--join-token-file", tokenFile, "--bundle", missing},
			exitFailed, []string{"error: " + missing + ": no such file\n"}},
		{"no join token", []string{"cert", "issue", "--out", missing, "--bundle", s.BundleFile}, exitUsage,
			[]string{"error: cert issue: no join token\n"}},
		{"a workload calling an admin verb", []string{"registration", "list", "--admin", workload}, exitRefused,
			[]string{"refused: PERMISSION_DENIED: ", "hint: the answer names what is not allowed"}},
		{"a bad serial", []string{"revoke", "--data", data(s), "--serial", "xyz"}, exitUsage,
			[]string{"error: --serial (3 characters): not a certificate serial\n"}},
		{"a malformed --server", []string{"registration", "list", "--data", data(s), "--server", "localhost"}, exitUsage,
			[]string{"error: --server (9 characters): this is not HOST:PORT\n"}},
		{"an unknown key type", []string{"cert", "renew", "--in", workload, "--key-type", "dsa"}, exitUsage,
			[]string{"error: --key-type (3 characters): not a key type this command line makes\n"}},
		{"an unknown option, run alone", []string{"registration", "list", "--bogus"}, exitUsage,
			[]string{"error: Unknown option at index 2 (7 characters)\n",
				"hint: `lanyard registration list --help` shows its options and an example\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, nil, tc.args...)
			if r.code != tc.code || r.out != "" || !strings.HasPrefix(r.err, "error: ") {
				t.Fatalf("want exit %d and an error: %s", tc.code, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err, w) {
					t.Fatalf("stderr lacks %q: %s", w, r)
				}
			}
		})
	}
}

func TestRunAloneItSendsHelpToTheJavaCommandLineWithoutRepeatingTheArguments(t *testing.T) {
	r := cli(t, nil, "cert", "issue", "--join-token", "secret-token-value", "--help")
	if r.code != exitUsage || r.out != "" || !strings.Contains(r.err, "run it through ./lanyard") ||
		strings.Contains(r.err, "secret-token-value") {
		t.Fatalf("cert issue --help run alone: %s", r)
	}
}

func TestHelpUsageErrorsAndOtherVerbsAreHandedToTheJavaCommandLine(t *testing.T) {
	deferring := map[string]string{"LANYARD_CLI_DEFER": "1"}
	for _, args := range [][]string{{"registration", "list", "--help"}, {"cert", "issue", "-h"}, {"keys", "rotate", "--jwt"},
		{"audit", "verify"}, {"registration", "list", "--bogus"}, {"revoke", "--reason", "stolen", "--jti", "x"},
		{"revoke", "--jti", "x", "--serial", "01"}, {"token", "issue", "--in", "x"}, {"join-token", "create"},
		{"cert", "issue", "--out", "x", "--ttl", "PT1H", "--bundle", "b"}, {"registration"}, {"dev"},
		{"registration", "list", "--server", "a:1", "--server=b:2"}} {
		r := cli(t, deferring, args...)
		if r.code != exitDefer || r.out != "" || r.err != "" {
			t.Errorf("%q: want exit 125 and nothing printed, got %s", args, r)
		}
	}
}

// The same command lines through the Java command line and this one print the same and exit the same.
func TestSameOutputAsTheJavaCommandLine(t *testing.T) {
	s := needServer(t)
	closed := closedPort(t)
	missingFile := filepath.Join(t.TempDir(), "none.pem")
	openDir := filepath.Join(t.TempDir(), "open") // a credential directory others may write in
	root, rootKey := testRoot(t)
	if _, err := writeTestCredential(t, openDir, root, rootKey); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openDir, 0o777); err != nil {
		t.Fatal(err)
	}
	cases := [][]string{
		{"registration", "list", "--data", data(s)},
		{"keys", "list", "--data", data(s)},
		{"certs", "list", "--data", data(s), "--limit", "3"},
		{"revocations", "list", "--data", data(s)},
		{"contracts", "list", "--data", data(s)},
		{"registration", "list", "--data", data(s), "--server", closed},
		{"registration", "list", "--data", filepath.Join(t.TempDir(), "none")},
		{"registration", "delete", "--data", data(s), "--spiffe-id", "spiffe://lanyard.local/ns/none/sa/x"},
		{"cert", "issue", "--out", filepath.Join(t.TempDir(), "out"), "--join-token", "x", "--bundle", missingFile},
		{"cert", "renew", "--in", openDir},
		{"cert", "issue", "--out", openDir, "--join-token-file", missingFile, "--bundle", missingFile},
		{"revoke", "--data", data(s), "--serial", "serial=zz"},
		{"token", "issue", "--in", filepath.Join(t.TempDir(), "none"), "--audience", "a", "--scope", "b"},
	}
	for _, secret := range pastedSecrets(t) {
		cases = append(cases, []string{"cert", "renew", "--in", openDir, "--key-type", secret})
	}
	for _, args := range cases {
		java := javaCLI(t, s, args...)
		golang := cli(t, nil, args...)
		if java.code != golang.code || java.out != golang.out || java.err != golang.err {
			t.Errorf("%q differ:\njava %s\ngo   %s", args, java, golang)
		}
	}
}

func javaCLI(t *testing.T, s *lanyardtest.Server, args ...string) result {
	t.Helper()
	java := "java"
	if home := os.Getenv("JAVA_HOME"); home != "" {
		java = filepath.Join(home, "bin", "java")
	}
	cmd := exec.Command(java, append([]string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xlog:disable",
		"-cp", os.Getenv("LANYARD_CLASSPATH"), "dev.lanyard.tools.Lanyard"}, args...)...)
	cmd.Env = append(os.Environ(), "LANYARD_SERVER="+s.GRPCAddr)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running the Java command line: %v", err)
	}
	return result{code: code, out: out.String(), err: errOut.String()}
}

// A port that accepts connections and never answers: gRPC gives up on the handshake after its
// minimum connect timeout (20 s), and the message says so instead of a bare deadline.
func TestAPortThatNeverAnswersIsNamed(t *testing.T) {
	s := needServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, h := range held {
					h.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	addr := ln.Addr().String()
	r := cli(t, nil, "registration", "list", "--data", data(s), "--server", addr)
	if r.code != exitConnection || !strings.HasPrefix(r.err, "error: "+addr+": no answer before the deadline (the TLS"+
		" handshake did not complete)\nhint: is the server overloaded, or is this a port that accepts connections but"+
		" does not speak TLS?") {
		t.Fatalf("a silent port: %s", r)
	}
}

// A token given as an argument is in /proc/PID/cmdline for every user to read: the command says so,
// first, and does what it was asked.
func TestAJoinTokenArgumentIsWarnedAbout(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	r := cli(t, nil, "cert", "issue", "--out", filepath.Join(t.TempDir(), "out"), "--join-token", "x", "--bundle", missing)
	if r.code != exitFailed || !strings.HasPrefix(r.err, "warning: --join-token puts the token in the process list"+
		" (/proc/PID/cmdline), where other users of this machine can read it; set LANYARD_JOIN_TOKEN or use"+
		" --join-token-file FILE instead\nerror: "+missing+": no such file\n") {
		t.Fatalf("cert issue --join-token: %s", r)
	}
	r = cli(t, map[string]string{"LANYARD_JOIN_TOKEN": "x"}, "cert", "issue", "--out", filepath.Join(t.TempDir(), "out"),
		"--bundle", missing)
	if strings.Contains(r.err, "warning") {
		t.Fatalf("cert issue with LANYARD_JOIN_TOKEN: %s", r)
	}
}
