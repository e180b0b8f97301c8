package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

const adminDeadline = 60 * time.Second

// adminOptions are where the server is and which admin credential to present (tools/.../AdminOptions.java).
type adminOptions struct {
	server, admin, data *string
}

func adminFlags(f *flags, e *env) adminOptions {
	return adminOptions{server: serverFlag(f, e),
		admin: f.String("admin", "", "admin credential directory (cert.pem, key.pem, bundle.pem)"),
		data:  f.String("data", "", "a dev server's data directory; its admin credential is DIR/admin")}
}

func (a adminOptions) dir() string {
	if *a.admin != "" {
		return *a.admin
	}
	data := *a.data
	if data == "" {
		data = "lanyard-data"
	}
	return inDir(data, "admin")
}

func (a adminOptions) credential() (*credential, error) {
	dir := a.dir()
	for _, name := range []string{certFile, keyFile} {
		if info, err := os.Stat(inDir(dir, name)); err != nil || !info.Mode().IsRegular() {
			return nil, fail(dir, "no admin credential here (cert.pem and key.pem)", "pass --data DIR (the data"+
				" directory of `lanyard dev`, default ./lanyard-data) or --admin DIR (a directory with an admin's"+
				" cert.pem, key.pem, bundle.pem)", exitFailed)
		}
	}
	option := "admin credential"
	if *a.admin != "" {
		option = "--admin"
	}
	return readCredential(dir, option, "`lanyard dev` (it writes DATA/admin)")
}

// connect opens an mTLS connection to --server with the admin credential, trusting its bundle.
func (a adminOptions) connect(e *env) (*connection, error) {
	cred, err := a.credential()
	if err != nil {
		return nil, err
	}
	return connectWith(e, *a.server, cred)
}

// call connects with the admin credential and runs rpc under the admin deadline.
func (a adminOptions) call(e *env, rpc func(ctx context.Context, conn *connection) error) error {
	conn, err := a.connect(e)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := e.deadline(adminDeadline)
	defer cancel()
	return rpc(ctx, conn)
}

// connectWith opens an mTLS connection presenting cred and trusting the roots in its bundle.pem.
func connectWith(e *env, server string, cred *credential) (*connection, error) {
	roots, err := cred.roots()
	if err != nil {
		return nil, err
	}
	trust := serverTrust{roots: roots, trustDomain: trustDomainOf(cred.leaf),
		rootsSource: "the roots in " + inDir(cred.dir, bundleFile), now: e.now}
	return open(e, server, trust, cred)
}

func open(e *env, server string, trust serverTrust, cred *credential) (*connection, error) {
	e.server = server
	var client *tls.Certificate
	if cred != nil {
		client = &cred.cert
	}
	conn, err := dial(server, trust.check, client)
	if err != nil {
		return nil, err
	}
	e.conn = conn
	return conn, nil
}

func (e *env) deadline(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, d)
}

func registrationCreate(e *env, args []string) error {
	f := newFlags("registration create")
	a := adminFlags(f, e)
	id := f.String("spiffe-id", "", "")
	dns, selectors, federates := f.list("dns"), f.list("selector"), f.list("federates-with")
	maxTTL := f.String("max-ttl", "", "")
	parent := f.String("parent", "", "")
	f.require("spiffe-id")
	if err := f.parse(args); err != nil {
		return err
	}
	req := &lanyardv1.CreateRegistrationRequest{SpiffeId: *id, DnsNames: *dns, Selectors: *selectors,
		FederatesWith: *federates, ParentId: *parent}
	if f.given("max-ttl") {
		d, err := parseDuration("--max-ttl", *maxTTL)
		if err != nil {
			return err
		}
		req.MaxTtl = &durationpb.Duration{Seconds: int64(d / time.Second)}
	}
	return a.call(e, func(ctx context.Context, conn *connection) error {
		created, err := lanyardv1.NewAdminServiceClient(conn).CreateRegistration(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "registered "+created.GetSpiffeId())
		return nil
	})
}

func registrationList(e *env, args []string) error {
	f := newFlags("registration list")
	a := adminFlags(f, e)
	if err := f.parse(args); err != nil {
		return err
	}
	return a.call(e, func(ctx context.Context, conn *connection) error {
		rows := [][]string{{"SPIFFE ID", "MAX TTL", "DNS NAMES", "PARENT", "SELECTORS", "FEDERATES WITH"}}
		token := ""
		for {
			page, err := lanyardv1.NewAdminServiceClient(conn).ListRegistrations(ctx,
				&lanyardv1.ListRegistrationsRequest{PageToken: token})
			if err != nil {
				return err
			}
			for _, r := range page.GetRegistrations() {
				rows = append(rows, []string{r.GetSpiffeId(), formatDuration(r.GetMaxTtl().GetSeconds()),
					strings.Join(r.GetDnsNames(), ","), r.GetParentId(), strings.Join(r.GetSelectors(), ","),
					strings.Join(r.GetFederatesWith(), ",")})
			}
			if token = page.GetNextPageToken(); token == "" {
				break
			}
		}
		printTable(e.stdout, rows)
		return nil
	})
}

func registrationDelete(e *env, args []string) error {
	f := newFlags("registration delete")
	a := adminFlags(f, e)
	id := f.String("spiffe-id", "", "")
	f.require("spiffe-id")
	if err := f.parse(args); err != nil {
		return err
	}
	return a.call(e, func(ctx context.Context, conn *connection) error {
		if _, err := lanyardv1.NewAdminServiceClient(conn).DeleteRegistration(ctx,
			&lanyardv1.DeleteRegistrationRequest{SpiffeId: *id}); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "deleted "+*id)
		return nil
	})
}

func joinTokenCreate(e *env, args []string) error {
	f := newFlags("join-token create")
	a := adminFlags(f, e)
	id := f.String("spiffe-id", "", "")
	agent := f.Bool("agent", false, "")
	ttl := f.String("ttl", "", "")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.given("spiffe-id") == *agent {
		return &usageError{"give exactly one of --spiffe-id (a workload) and --agent (a node agent)"}
	}
	req := &lanyardv1.CreateJoinTokenRequest{SpiffeId: *id, Agent: *agent}
	if f.given("ttl") {
		d, err := parseDuration("--ttl", *ttl)
		if err != nil {
			return err
		}
		req.Ttl = &durationpb.Duration{Seconds: int64(d / time.Second)}
	}
	return a.call(e, func(ctx context.Context, conn *connection) error {
		token, err := lanyardv1.NewAdminServiceClient(conn).CreateJoinToken(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "join token for %s, single use, expires %s\n", token.GetSpiffeId(), seconds(token.GetExpiresAt()))
		fmt.Fprintln(e.stdout, token.GetToken())
		return nil
	})
}

func certsList(e *env, args []string) error {
	f := newFlags("certs list")
	a := adminFlags(f, e)
	id := f.String("spiffe-id", "", "")
	limit := f.Int("limit", 1000, "")
	if err := f.parse(args); err != nil {
		return err
	}
	return a.call(e, func(ctx context.Context, conn *connection) error {
		var all []*lanyardv1.IssuedCertificate
		token := ""
		for {
			page, err := lanyardv1.NewAdminServiceClient(conn).ListCertificates(ctx,
				&lanyardv1.ListCertificatesRequest{SpiffeId: *id, PageToken: token})
			if err != nil {
				return err
			}
			all = append(all, page.GetCertificates()...)
			if token = page.GetNextPageToken(); token == "" || len(all) >= *limit {
				break
			}
		}
		rows := [][]string{{"SERIAL", "SPIFFE ID", "NOT AFTER", "SHA-256"}}
		for i, c := range all {
			if i >= *limit {
				break
			}
			fp := c.GetSha256Fingerprint()
			rows = append(rows, []string{displaySerial(c.GetSerialNumber()), c.GetSpiffeId(), seconds(c.GetNotAfter()),
				fp[:min(16, len(fp))] + "…"})
		}
		printTable(e.stdout, rows)
		return nil
	})
}

func keysList(e *env, args []string) error {
	f := newFlags("keys list")
	a := adminFlags(f, e)
	if err := f.parse(args); err != nil {
		return err
	}
	return a.call(e, func(ctx context.Context, conn *connection) error {
		keys, err := lanyardv1.NewKeyServiceClient(conn).ListKeys(ctx, &lanyardv1.ListKeysRequest{})
		if err != nil {
			return err
		}
		rows := [][]string{{"KIND", "KEY ID", "STATUS", "ALG", "CREATED", "NEXT"}}
		for _, k := range keys.GetKeys() {
			kind, next := "x509", ""
			if k.GetKind() == lanyardv1.KeyKind_KEY_KIND_JWT {
				kind = "jwt"
			}
			if k.GetNextStep() != "" {
				next = k.GetNextStep() + " at " + seconds(k.GetNextStepAt())
			}
			rows = append(rows, []string{kind, k.GetKeyId(), k.GetStatus(), k.GetAlgorithm(), seconds(k.GetCreatedAt()), next})
		}
		printTable(e.stdout, rows)
		// What the operator must act on, e.g. an issuing CA near its hand-over with no successor prepared.
		for _, w := range keys.GetWarnings() {
			fmt.Fprintln(e.stdout, "warning: "+w)
		}
		return nil
	})
}

func consoleLogin(e *env, args []string) error {
	f := newFlags("console")
	a := adminFlags(f, e)
	if err := f.parse(args); err != nil {
		return err
	}
	return a.call(e, func(ctx context.Context, conn *connection) error {
		login, err := lanyardv1.NewConsoleServiceClient(conn).CreateConsoleLogin(ctx, &lanyardv1.CreateConsoleLoginRequest{})
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stderr, "console login link for this admin, single use, expires "+seconds(login.GetExpiresAt()))
		fmt.Fprintln(e.stdout, login.GetUrl())
		return nil
	})
}

func contractsList(e *env, args []string) error {
	f := newFlags("contracts list")
	a := adminFlags(f, e)
	if err := f.parse(args); err != nil {
		return err
	}
	return a.call(e, func(ctx context.Context, conn *connection) error {
		resp, err := lanyardv1.NewContractServiceClient(conn).ListContracts(ctx, &lanyardv1.ListContractsRequest{})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "contracts version %d\n", resp.GetVersion())
		rows := [][]string{{"AUDIENCE", "METHOD", "REQUIRED SCOPES"}}
		for _, c := range resp.GetContracts() {
			for _, m := range c.GetMethods() {
				rows = append(rows, []string{c.GetAudience(), m.GetMethod(), strings.Join(m.GetRequiredScopes(), " ")})
			}
		}
		printTable(e.stdout, rows)
		return nil
	})
}
