package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/lanyard-dev/lanyard/clients/go/lanyardtest"
)

// One Lanyard dev server per test binary (x509pop trusting nodeCA), and the agent binary built once.
var (
	server    *lanyardtest.Server
	noServer  error
	agentBin  string
	nodeCA    *testPKI
	idCounter atomic.Int64
)

func TestMain(m *testing.M) {
	if child := os.Getenv(childEnv); child != "" {
		os.Exit(childMain(child))
	}
	if spec := os.Getenv(execEnv); spec != "" {
		os.Exit(execChildMain(spec))
	}
	if spec := os.Getenv(inheritedEnv); spec != "" {
		os.Exit(inheritedMain(spec))
	}
	if spec := os.Getenv(callThenExecEnv); spec != "" {
		os.Exit(callThenExecMain(spec))
	}
	os.Exit(lanyardtest.MainWith(m, "lanyard-agent-it-", func(dir string) ([]string, error) {
		var err error
		if nodeCA, err = newTestPKI("node-ca"); err != nil {
			return nil, err
		}
		roots := filepath.Join(dir, "node-ca.pem")
		if err := os.WriteFile(roots, nodeCA.rootPEM(), 0o644); err != nil {
			return nil, err
		}
		agentBin = filepath.Join(dir, "lanyard-agent")
		if out, err := exec.Command("go", "build", "-o", agentBin, ".").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the agent: %v\n%s", err, out)
		}
		return []string{"--x509pop-roots", roots}, nil
	}, func(s *lanyardtest.Server, err error) { server, noServer = s, err }))
}

// needServer skips only when no class path was given (plain `go test`; build.sh always sets it); a
// server that fails to start fails the test.
func needServer(t testing.TB) *lanyardtest.Server {
	t.Helper()
	if server == nil {
		if errors.Is(noServer, lanyardtest.ErrNoClasspath) {
			t.Skip(noServer.Error())
		}
		t.Fatalf("the Lanyard server did not start: %v", noServer)
	}
	return server
}

// ownServer starts a server for this test alone (one it may restart or swap the store of), with extra
// arguments for `lanyard dev`, stopped when the test ends; skips like needServer when no server can be
// started here.
func ownServer(t testing.TB, extra ...string) *lanyardtest.Server {
	t.Helper()
	needServer(t)
	s, err := lanyardtest.Start(openDir(t), extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- its server's log (tail) ---\n%s", s.LogTail())
		}
		s.Stop()
	})
	return s
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustID(s string) spiffeid.ID { return spiffeid.RequireFromString(s) }

func newID(s *lanyardtest.Server, ns string) spiffeid.ID {
	return s.ID(fmt.Sprintf("/ns/%s/sa/w%d", ns, idCounter.Add(1)))
}

// runningAgent is a real lanyard-agent process.
type runningAgent struct {
	ID     string
	Socket string
	// From exec to the "serving" line on stdout.
	Startup time.Duration
	cmd     *exec.Cmd
	log     *lockedBuffer
}

func (a *runningAgent) Addr() string { return "unix://" + a.Socket }

func (a *runningAgent) clientOption() workloadapi.ClientOption { return workloadapi.WithAddr(a.Addr()) }

// startAgent runs the agent with args (after --socket, --server, --bundle, --data-dir, --issuer) and waits
// for it to serve; the test ends it.
func startAgent(t testing.TB, serverAddr string, env []string, args ...string) *runningAgent {
	t.Helper()
	return startAgentOf(t, needServer(t), serverAddr, env, args...)
}

// startAgentOf is startAgent trusting the bundle of s, a server other than the shared one.
func startAgentOf(t testing.TB, s *lanyardtest.Server, serverAddr string, env []string, args ...string) *runningAgent {
	t.Helper()
	return startAgentIssuing(t, s, serverAddr, env, s.Issuer(), args...)
}

// startAgentIssuing is startAgentOf with --issuer issuer, or without the flag when issuer is "".
func startAgentIssuing(t testing.TB, s *lanyardtest.Server, serverAddr string, env []string, issuer string, args ...string) *runningAgent {
	t.Helper()
	dir := openDir(t)
	a := &runningAgent{Socket: filepath.Join(dir, "agent.sock"), log: &lockedBuffer{}}
	flags := []string{"--socket", a.Socket, "--server", serverAddr, "--bundle", s.BundleFile,
		"--data-dir", filepath.Join(dir, "data")}
	if issuer != "" {
		flags = append(flags, "--issuer", issuer)
	}
	a.cmd = exec.Command(agentBin, append(flags, args...)...)
	a.cmd.Env = append(os.Environ(), env...)
	a.cmd.Stderr = a.log
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.cmd.Process.Signal(syscall.SIGTERM)
		a.cmd.Wait()
		if t.Failed() {
			t.Logf("--- agent log ---\n%s", a.log.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "lanyard-agent serving") {
				ready <- line[strings.LastIndex(line, " ")+1:]
			}
		}
		close(ready)
	}()
	select {
	case id, ok := <-ready:
		if !ok {
			t.Fatalf("the agent stopped before serving:\n%s", a.log.String())
		}
		a.ID = id
		a.Startup = time.Since(started)
	case <-time.After(60 * time.Second):
		t.Fatalf("the agent did not serve within 60 s:\n%s", a.log.String())
	}
	return a
}

// joinTokenAgent starts an agent attested by a fresh agent join token.
func joinTokenAgent(t testing.TB, serverAddr string) *runningAgent {
	t.Helper()
	token, err := needServer(t).AgentJoinToken(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return startAgent(t, serverAddr, []string{"LANYARD_JOIN_TOKEN=" + token})
}

// openDir is a temporary directory every uid can enter (t.TempDir's parent is 0700): children
// under other uids reach the socket and run binaries from here.
func openDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "lanyard-agent-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proxy forwards TCP to Lanyard and can cut every connection, to make a server outage.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p, err := newProxyOn(t, "127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newProxyOn is a proxy listening on addr (safe to call from any goroutine).
func newProxyOn(t *testing.T, addr, target string) (*proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go p.serve()
	return p, nil
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// setDown cuts every open connection and refuses new ones (true), or lets them through (false).
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// testPKI is a node PKI made here for x509pop.
type testPKI struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newTestPKI(name string) (*testPKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return &testPKI{key: key, cert: cert}, err
}

func (p *testPKI) rootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw})
}

// node writes a node certificate and key for cn into dir; it returns the two paths.
func (p *testPKI) node(t *testing.T, dir, cn string) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}
