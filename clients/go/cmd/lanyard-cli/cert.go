package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// trustFlags are how a workload without a credential trusts the server: a bundle file or a pinned
// root fingerprint.
type trustFlags struct{ bundle, fingerprint *string }

func addTrustFlags(f *flags) trustFlags {
	return trustFlags{bundle: f.String("bundle", "", ""), fingerprint: f.String("root-fingerprint", "", "")}
}

func (t trustFlags) given(f *flags) int {
	n := 0
	if f.given("bundle") {
		n++
	}
	if f.given("root-fingerprint") {
		n++
	}
	return n
}

// trust reads the bundle, or fetches the server's and accepts it by the pinned root.
func (t trustFlags) trust(e *env, f *flags, server string) (serverTrust, error) {
	if f.given("bundle") {
		roots, err := readBundleFile(*t.bundle)
		if err != nil {
			return serverTrust{}, err
		}
		return serverTrust{roots: roots, rootsSource: "the roots in " + *t.bundle, now: e.now}, nil
	}
	roots, err := pinnedBundle(e, server, *t.fingerprint)
	if err != nil {
		return serverTrust{}, err
	}
	return serverTrust{roots: roots, rootsSource: "the pinned root " + *t.fingerprint, now: e.now}, nil
}

// keyTypes are the workload keys this command line makes, with the CSR signature each uses.
var keyTypes = map[string]func() (crypto.Signer, error){
	"ec-p256":  func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) },
	"ec-p384":  func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) },
	"rsa-2048": func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) },
}

func keyGenerator(option string) (func() (crypto.Signer, error), error) {
	g, ok := keyTypes[option]
	if !ok {
		return nil, fail(unnamed("--key-type", option), "not a key type this command line makes",
			"use one of ec-p256, ec-p384, rsa-2048", exitUsage)
	}
	return g, nil
}

// newKeyAndCSR generates the key here (it never leaves this machine) and a CSR with the DNS names
// asked for; the identity comes from the attestation, not from the CSR.
func newKeyAndCSR(generate func() (crypto.Signer, error), dns []string) (crypto.Signer, []byte, error) {
	key, err := generate()
	if err != nil {
		return nil, nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: dns}, key)
	return key, csr, err
}

func ttlOf(f *flags, text string) (*durationpb.Duration, error) {
	if !f.given("ttl") {
		return nil, nil
	}
	d, err := parseDuration("--ttl", text)
	if err != nil {
		return nil, err
	}
	return &durationpb.Duration{Seconds: int64(d / time.Second)}, nil
}

func certIssue(e *env, args []string) error {
	f := newFlags("cert issue")
	server := serverFlag(f, e)
	trust := addTrustFlags(f)
	joinToken, joinTokenFile := f.String("join-token", "", ""), f.String("join-token-file", "", "")
	out := f.String("out", "", "")
	dns := f.list("dns")
	ttlText := f.String("ttl", "", "")
	keyType := f.String("key-type", "ec-p256", "")
	f.require("out")
	if err := f.parse(args); err != nil {
		return err
	}
	if trust.given(f) != 1 {
		return &usageError{"give exactly one of --bundle and --root-fingerprint"}
	}
	ttl, err := ttlOf(f, *ttlText)
	if err != nil {
		return err
	}
	token, err := joinTokenOf(e, f, *joinToken, *joinTokenFile)
	if err != nil {
		return err
	}
	generate, err := keyGenerator(*keyType)
	if err != nil {
		return err
	}
	if _, statErr := os.Stat(*out); statErr == nil { // before the join token is spent; writeCredential checks again
		if err := requirePrivate(*out); err != nil {
			return err
		}
	}
	st, err := trust.trust(e, f, *server)
	if err != nil {
		return err
	}
	key, csr, err := newKeyAndCSR(generate, *dns)
	if err != nil {
		return err
	}
	conn, err := open(e, *server, st, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := e.deadline(adminDeadline)
	defer cancel()
	resp, err := lanyardv1.NewCertificateServiceClient(conn).IssueCertificate(ctx, &lanyardv1.IssueCertificateRequest{
		Attestation: &lanyardv1.Attestation{Kind: &lanyardv1.Attestation_JoinToken{
			JoinToken: &lanyardv1.JoinTokenAttestation{Token: token}}},
		Csr: csr, Ttl: ttl})
	if err != nil {
		return err
	}
	return save(e, *out, key, resp)
}

// joinTokenWarning is said when the token is an argument (as tools/.../CertCommand.JOIN_TOKEN_WARNING).
const joinTokenWarning = "warning: --join-token puts the token in the process list (/proc/PID/cmdline), where other" +
	" users of this machine can read it; set LANYARD_JOIN_TOKEN or use --join-token-file FILE instead"

// joinTokenOf is --join-token, --join-token-file or LANYARD_JOIN_TOKEN, trimmed. It is a secret: it is
// sent once, to the server, and never printed.
func joinTokenOf(e *env, f *flags, token, file string) (string, error) {
	if f.given("join-token") {
		fmt.Fprintln(e.stderr, joinTokenWarning)
		return strings.TrimSpace(token), nil
	}
	if f.given("join-token-file") {
		if info, err := os.Stat(file); err != nil || !info.Mode().IsRegular() {
			return "", fail("--join-token-file "+file, "no such file", "write the output of `lanyard join-token"+
				" create` there, or set LANYARD_JOIN_TOKEN", exitFailed)
		}
		data, err := os.ReadFile(file)
		return strings.TrimSpace(string(data)), err
	}
	if env := strings.TrimSpace(e.getenv("LANYARD_JOIN_TOKEN")); env != "" {
		return env, nil
	}
	return "", fail("cert issue", "no join token", "set LANYARD_JOIN_TOKEN (or --join-token-file FILE) to the output"+
		" of `lanyard join-token create --spiffe-id ID`", exitUsage)
}

func certRenew(e *env, args []string) error {
	f := newFlags("cert renew")
	server := serverFlag(f, e)
	trust := addTrustFlags(f)
	in := f.String("in", "", "")
	dns := f.list("dns")
	ttlText := f.String("ttl", "", "")
	keyType := f.String("key-type", "ec-p256", "")
	f.require("in")
	if err := f.parse(args); err != nil {
		return err
	}
	if trust.given(f) > 1 {
		return &usageError{"give at most one of --bundle and --root-fingerprint"}
	}
	ttl, err := ttlOf(f, *ttlText)
	if err != nil {
		return err
	}
	generate, err := keyGenerator(*keyType)
	if err != nil {
		return err
	}
	current, err := readCredential(*in, "--in", "`lanyard cert issue --out DIR`")
	if err != nil {
		return err
	}
	var st serverTrust
	if trust.given(f) == 0 {
		roots, err := current.roots()
		if err != nil {
			return err
		}
		st = serverTrust{roots: roots, rootsSource: "the roots in " + inDir(*in, bundleFile), now: e.now}
	} else if st, err = trust.trust(e, f, *server); err != nil {
		return err
	}
	st.trustDomain = trustDomainOf(current.leaf)
	names := []string(*dns)
	if len(names) == 0 {
		names = current.leaf.DNSNames // a renewal keeps the DNS names the certificate has
	}
	key, csr, err := newKeyAndCSR(generate, names)
	if err != nil {
		return err
	}
	conn, err := open(e, *server, st, current)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := e.deadline(adminDeadline)
	defer cancel()
	resp, err := lanyardv1.NewCertificateServiceClient(conn).RenewCertificate(ctx,
		&lanyardv1.RenewCertificateRequest{Csr: csr, Ttl: ttl})
	if err != nil {
		return err
	}
	return save(e, *in, key, resp)
}

// save writes what was issued for key to dir and says what it is and where.
func save(e *env, dir string, key crypto.Signer, resp *lanyardv1.CertificateResponse) error {
	chain, err := parseDER(append([][]byte{resp.GetCertificate()}, resp.GetChain()...))
	if err != nil {
		return fmt.Errorf("the server sent an unreadable certificate: %w", err)
	}
	bundle, err := parseDER(resp.GetTrustBundle())
	if err != nil {
		return fmt.Errorf("the server sent an unreadable trust bundle: %w", err)
	}
	if pub, ok := chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.Public()) {
		return fmt.Errorf("the server issued a certificate for another key than the one generated here; nothing was written")
	}
	if err := writeCredential(dir, key, chain, bundle); err != nil {
		return err
	}
	dnsText := ""
	if len(chain[0].DNSNames) > 0 {
		dnsText = ", DNS " + strings.Join(chain[0].DNSNames, ", ")
	}
	fmt.Fprintf(e.stdout, "%s serial %s%s, expires %s\n  %s, %s (0600), %s\n", resp.GetSpiffeId(),
		displaySerial(resp.GetSerialNumber()), dnsText, seconds(resp.GetExpiresAt()), inDir(dir, certFile),
		inDir(dir, keyFile), inDir(dir, bundleFile))
	return nil
}

func tokenIssue(e *env, args []string) error {
	f := newFlags("token issue")
	server := serverFlag(f, e)
	in := f.String("in", "", "")
	audience := f.String("audience", "", "")
	scopes := f.list("scope")
	ttlText := f.String("ttl", "", "")
	f.require("in", "audience", "scope")
	if err := f.parse(args); err != nil {
		return err
	}
	ttl, err := ttlOf(f, *ttlText)
	if err != nil {
		return err
	}
	cred, err := readCredential(*in, "--in", "`lanyard cert issue --out DIR` (register the identity and create a"+
		" join token first)")
	if err != nil {
		return err
	}
	conn, err := connectWith(e, *server, cred)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := e.deadline(30 * time.Second)
	defer cancel()
	token, err := lanyardv1.NewTokenServiceClient(conn).IssueToken(ctx, &lanyardv1.IssueTokenRequest{
		Audience: *audience, Scopes: *scopes, Ttl: ttl})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "token %s for %s, expires %s, key %s\n", token.GetTokenId(), *audience,
		seconds(token.GetExpiresAt()), token.GetKeyId())
	fmt.Fprintln(e.stdout, token.GetToken())
	return nil
}

// pinnedBundle fetches the trust bundle from a server not yet trusted and accepts it only if one of
// its roots has the pinned fingerprint and the chain the server presented leads to that root and
// names the Lanyard server. Nothing secret is sent on this connection.
func pinnedBundle(e *env, server, pin string) ([]*x509.Certificate, error) {
	want := strings.ReplaceAll(strings.ToLower(pin), ":", "")
	problem := ""
	if !strings.HasPrefix(want, "sha256") {
		problem = "this is not a sha256 fingerprint"
	} else if want = strings.TrimPrefix(want, "sha256"); !sha256Hex.MatchString(want) {
		problem = "this is not a sha256 fingerprint (64 hex digits)"
	}
	if problem != "" {
		return nil, fail(unnamed("--root-fingerprint", pin), problem, "pass it as `lanyard dev` prints it: sha256:<64 hex digits>",
			exitUsage)
	}
	var presented []*x509.Certificate
	e.server = server
	conn, err := dial(server, func(chain []*x509.Certificate) *trustRefusal { presented = chain; return nil }, nil)
	if err != nil {
		return nil, err
	}
	e.conn = conn
	defer conn.Close()
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	bundle, err := lanyardv1.NewTrustBundleServiceClient(conn).GetTrustBundle(ctx, &lanyardv1.GetTrustBundleRequest{})
	if err != nil {
		return nil, err
	}
	roots, err := parseDER(bundle.GetX509Authorities())
	if err != nil {
		return nil, fmt.Errorf("the server's trust bundle holds an unreadable certificate: %w", err)
	}
	var pinned *x509.Certificate
	for _, r := range roots {
		if fingerprint(r) == want {
			pinned = r
		}
	}
	if pinned == nil {
		return nil, fail(server, "TLS: no root in the server's trust bundle matches the pinned fingerprint sha256:"+
			want+"; nothing was sent", "check --root-fingerprint against the one `lanyard dev` printed, and --server",
			exitConnection)
	}
	check := serverTrust{roots: []*x509.Certificate{pinned}, rootsSource: "the pinned root", now: e.now}
	if r := check.check(presented); r != nil {
		return nil, fail(server, "TLS: "+r.message, "check --server and --root-fingerprint", exitConnection)
	}
	return roots, nil
}
