package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/lanyard-dev/lanyard/clients/go/identity"
)

const serverPath = "/lanyard/server"

// hostPort is --server: HOST:PORT, an IPv6 address in brackets ([::1]:8443).
type hostPort struct{ host, port string }

func parseHostPort(text string) (hostPort, error) {
	bad := fail(unnamed("--server", text), "this is not HOST:PORT",
		"pass the server's gRPC address, e.g. --server localhost:8443 or --server [::1]:8443", exitUsage)
	colon := strings.LastIndex(text, ":")
	if colon <= 0 {
		return hostPort{}, bad
	}
	host := text[:colon]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	port, err := strconv.Atoi(text[colon+1:])
	if err != nil || port < 1 || port > 65535 || host == "" {
		return hostPort{}, bad
	}
	return hostPort{host: host, port: strconv.Itoa(port)}, nil
}

// trustRefusal says, in a sentence a person can act on, which check of the server failed.
type trustRefusal struct {
	message     string
	wrongServer bool // a TLS server that is not Lanyard's
}

func (r *trustRefusal) Error() string { return r.message }

// serverTrust trusts a Lanyard server the way its workloads do: by its SPIFFE ID
// (spiffe://TD/lanyard/server) on a chain to the roots, not by the host name it was reached at
// (tools/.../ServerTrust.java).
type serverTrust struct {
	roots       []*x509.Certificate
	trustDomain string // the client credential's; empty accepts a Lanyard server of any trust domain
	rootsSource string // where the roots came from, for messages
	now         func() time.Time
}

func (t serverTrust) check(chain []*x509.Certificate) *trustRefusal {
	if len(chain) == 0 {
		return &trustRefusal{message: "the server presented no certificate"}
	}
	pool := x509.NewCertPool()
	for _, r := range t.roots {
		pool.AddCert(r)
	}
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: intermediates, CurrentTime: t.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		return &trustRefusal{message: "the server's certificate is not valid now (" + invalid.Detail + ")"}
	}
	if err != nil {
		return &trustRefusal{message: "the server's certificate is not signed by " + t.rootsSource +
			" (it was issued by " + chain[len(chain)-1].Issuer.String() + ")"}
	}
	// An X.509-SVID carries exactly one URI SAN (as the Java client's LanyardServerTrust and the Rust
	// client require): a certificate naming the server's ID among others is not the server's SVID.
	if n := len(chain[0].URIs); n > 1 {
		return &trustRefusal{message: "the server's certificate names " + strconv.Itoa(n) +
			" URIs, where an X.509-SVID names exactly one: this is not the Lanyard server", wrongServer: true}
	}
	ids := spiffeIDs(chain[0])
	for _, id := range ids {
		if isServerID(id, t.trustDomain) {
			return nil
		}
	}
	expected := "spiffe://" + t.trustDomain + serverPath
	if t.trustDomain == "" {
		expected = "spiffe://<trust domain>" + serverPath
	}
	names := "no SPIFFE ID"
	if len(ids) > 0 {
		names = strings.Join(ids, ", ")
	}
	return &trustRefusal{message: "the server's certificate names " + names + ", not " + expected +
		": this is not the Lanyard server", wrongServer: true}
}

// isServerID says whether id is exactly spiffe://TD/lanyard/server, of trustDomain when known. The
// path must be exactly serverPath: a workload may be registered as spiffe://TD/ns/x/lanyard/server
// (only paths starting /lanyard/ are reserved), and must not pass for the server.
func isServerID(id, trustDomain string) bool {
	parsed, err := spiffeid.FromString(id)
	return err == nil && parsed.Path() == serverPath && (trustDomain == "" || parsed.TrustDomain().Name() == trustDomain)
}

func spiffeIDs(c *x509.Certificate) []string {
	var ids []string
	for _, u := range c.URIs {
		if u.Scheme == "spiffe" {
			ids = append(ids, u.String())
		}
	}
	return ids
}

// trustDomainOf is the trust domain of a credential's own SPIFFE ID, "" if it has none.
func trustDomainOf(leaf *x509.Certificate) string {
	for _, u := range leaf.URIs {
		if u.Scheme == "spiffe" {
			return u.Host
		}
	}
	return ""
}

// connection is one gRPC client connection to --server that remembers why it failed: the TCP dial
// error and the TLS refusal, which gRPC folds into a bare UNAVAILABLE.
type connection struct {
	*grpc.ClientConn
	mu      sync.Mutex
	dialErr error
	refused *trustRefusal
}

func (c *connection) refusal() *trustRefusal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused
}

func (c *connection) dialError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dialErr
}

// dial opens a connection to server. verify judges the chain the server presents (nil for none: the
// caller records it to judge later); client, when not nil, is presented.
func dial(server string, verify func([]*x509.Certificate) *trustRefusal, client *tls.Certificate) (*connection, error) {
	target, err := parseHostPort(server)
	if err != nil {
		return nil, err
	}
	c := &connection{}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The server is judged by its SPIFFE ID on a chain to the roots, in VerifyPeerCertificate.
		InsecureSkipVerify: true, //nolint:gosec // verified below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			chain, err := parseDER(raw)
			if err != nil {
				return c.refuse(&trustRefusal{message: "the server sent an unreadable certificate: " + err.Error()})
			}
			if verify == nil {
				return nil
			}
			if r := verify(chain); r != nil {
				return c.refuse(r)
			}
			return nil
		},
	}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	addr := net.JoinHostPort(target.host, target.port)
	// passthrough: the dialer below resolves the name, so an unknown host is told from a closed port.
	c.ClientConn, err = grpc.NewClient("passthrough:///"+addr, append(identity.DialOptions(credentials.NewTLS(cfg)),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", a)
			if err != nil {
				c.mu.Lock()
				c.dialErr = err
				c.mu.Unlock()
			}
			return conn, err
		}))...)
	if err != nil {
		return nil, fail(server, "cannot set up the connection: "+err.Error(), "", exitFailed)
	}
	return c, nil
}

func (c *connection) refuse(r *trustRefusal) error {
	c.mu.Lock()
	c.refused = r
	c.mu.Unlock()
	return r
}

func parseDER(ders [][]byte) ([]*x509.Certificate, error) {
	certs := make([]*x509.Certificate, 0, len(ders))
	for _, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	return certs, nil
}
