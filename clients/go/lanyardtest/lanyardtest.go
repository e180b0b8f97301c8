// Package lanyardtest starts a real Lanyard dev server (the Java one) for integration tests of Go
// services (this module's and the examples'),
// and drives its admin API with the admin credential the dev server writes.
//
// It needs LANYARD_CLASSPATH, the class path of the tools module (the Maven build of clients/go
// sets it); without it Start reports why and the caller skips.
package lanyardtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lanyard-dev/lanyard/clients/go/identity"
	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// ErrNoClasspath means LANYARD_CLASSPATH is not set: the caller should skip.
var ErrNoClasspath = errors.New("LANYARD_CLASSPATH is not set (the class path of the Lanyard tools module; " +
	"`mvn -pl clients/go test` sets it), so no Lanyard server can be started")

// Server is a running dev server.
type Server struct {
	Dir             string // the data directory
	GRPCAddr        string // 127.0.0.1:PORT
	HTTPURL         string // http://localhost:PORT, or https:// with `lanyard dev --http-tls spiffe`
	RootFingerprint string // sha256:HEX
	BundleFile      string // PEM roots
	TrustDomain     spiffeid.TrustDomain

	cmd    *exec.Cmd
	admin  *grpc.ClientConn
	mu     sync.Mutex
	policy int64
	log    *os.File
	ports  []int    // gRPC, HTTP: kept across Restart
	extra  []string // for `lanyard dev`
}

var (
	grpcLine = regexp.MustCompile(`gRPC \(TLS\)\s+localhost:(\d+)`)
	httpLine = regexp.MustCompile(`HTTPS?\s+(https?)://localhost:(\d+)/`)
	pinLine  = regexp.MustCompile(`root fingerprint\s+(sha256:[0-9a-f]{64})`)
)

// Main runs a test binary against one Lanyard server in a temporary directory named after
// dirPrefix: started gets the server (nil, with ErrNoClasspath, when none can be started, so tests
// can skip), the tests run, the server's log tail is printed if they failed, and everything is
// removed. Use it as os.Exit(lanyardtest.Main(m, prefix, func(s *Server, err error) { ... })).
func Main(m *testing.M, dirPrefix string, started func(*Server, error)) int {
	return MainWith(m, dirPrefix, nil, started)
}

// MainWith is Main with extra arguments for `lanyard dev` (say --x509pop-roots FILE), which may
// name files under the directory: before is called with it first and returns the arguments.
func MainWith(m *testing.M, dirPrefix string, before func(dir string) ([]string, error), started func(*Server, error)) int {
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	var extra []string
	if before != nil {
		if extra, err = before(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	server, err := Start(dir, extra...)
	if err != nil && !errors.Is(err, ErrNoClasspath) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	started(server, err)
	code := m.Run()
	if server != nil {
		if code != 0 {
			fmt.Fprintln(os.Stderr, "--- lanyard server log (tail) ---\n"+server.LogTail())
		}
		server.Stop()
	}
	return code
}

// Start runs `Lanyard dev` on free ports in a new data directory under dir and waits until it
// serves; extra arguments go to `lanyard dev`.
func Start(dir string, extra ...string) (*Server, error) {
	if os.Getenv("LANYARD_CLASSPATH") == "" {
		return nil, ErrNoClasspath
	}
	// Ports are chosen here, not with 0: the dev server derives its issuer URL from --http-port.
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: filepath.Join(dir, "lanyard-data"), BundleFile: filepath.Join(dir, "lanyard-data", "admin", "bundle.pem"),
		TrustDomain: spiffeid.RequireTrustDomainFromString("lanyard.local"), ports: ports, extra: extra}
	logFile, err := os.Create(filepath.Join(dir, "lanyard.log"))
	if err != nil {
		return nil, err
	}
	if err := s.launch(logFile); err != nil {
		return nil, err
	}
	return s, nil
}

// Restart stops the server, lets whileStopped change its data directory (put an older copy of the
// store back, say), and starts it again there on the same ports; its log goes on in the same file.
func (s *Server) Restart(whileStopped func(dataDir string) error) error {
	s.Stop()
	if err := whileStopped(s.Dir); err != nil {
		return err
	}
	logFile, err := os.OpenFile(s.log.Name(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	return s.launch(logFile)
}

// RestartWith is Restart with extra in place of the `lanyard dev` arguments the server ran with (say
// --http-tls spiffe: the same keys published, and tokens issued, under another URL).
func (s *Server) RestartWith(extra []string, whileStopped func(dataDir string) error) error {
	s.extra = extra
	return s.Restart(whileStopped)
}

// launch runs `lanyard dev` on s.Dir and s.ports, logging to logFile, and waits until it serves.
func (s *Server) launch(logFile *os.File) error {
	java := "java"
	if home := os.Getenv("JAVA_HOME"); home != "" {
		java = filepath.Join(home, "bin", "java")
	}
	args := append([]string{"-cp", os.Getenv("LANYARD_CLASSPATH"), "dev.lanyard.tools.Lanyard", "dev", "--data", s.Dir,
		"--port", strconv.Itoa(s.ports[0]), "--http-port", strconv.Itoa(s.ports[1])}, s.extra...)
	cmd := exec.Command(java, args...)
	// Its own process group (Stop ends the JVM and anything it forks), and a signal if the test
	// binary dies without Stop (a panic), so no server outlives its tests.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", java, err)
	}
	s.cmd, s.log, s.admin = cmd, logFile, nil
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		done := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if m := grpcLine.FindStringSubmatch(line); m != nil {
				s.GRPCAddr = "127.0.0.1:" + m[1]
			}
			if m := httpLine.FindStringSubmatch(line); m != nil {
				s.HTTPURL = m[1] + "://localhost:" + m[2]
			}
			if m := pinLine.FindStringSubmatch(line); m != nil && !done {
				s.RootFingerprint = m[1]
				done = true
				ready <- nil
			}
		}
		if !done {
			ready <- errors.New("the server stopped before it was ready")
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case err = <-ready:
	case <-time.After(90 * time.Second):
		err = errors.New("the server was not ready within 90 s")
	}
	if err == nil && (s.GRPCAddr == "" || s.HTTPURL == "") {
		err = errors.New("the server did not print its ports")
	}
	if err == nil {
		s.admin, err = s.adminConn()
	}
	if err != nil {
		s.Stop()
		return fmt.Errorf("lanyard dev server: %w; its log ends:\n%s", err, s.LogTail())
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Stop ends the server process (its whole process group) and waits for it.
func (s *Server) Stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	s.log.Close()
}

// Issuer is the iss of the server's tokens.
func (s *Server) Issuer() string { return s.HTTPURL }

// JWKSURL is where the server publishes its signing keys.
func (s *Server) JWKSURL() string { return s.HTTPURL + "/.well-known/jwks.json" }

// ID is a SPIFFE ID in the server's trust domain.
func (s *Server) ID(path string) spiffeid.ID {
	id, err := spiffeid.FromPath(s.TrustDomain, path)
	if err != nil {
		panic(err)
	}
	return id
}

func (s *Server) adminConn() (*grpc.ClientConn, error) {
	dir := filepath.Join(s.Dir, "admin")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("the admin credential: %w", err)
	}
	bundle, err := x509bundle.Load(s.TrustDomain, s.BundleFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, //nolint:gosec // verified as an SVID below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			_, _, err := x509svid.ParseAndVerify(raw, bundle)
			return err
		},
	}
	return grpc.NewClient(s.GRPCAddr, identity.DialOptions(credentials.NewTLS(cfg))...)
}

// Admin is a connection authenticated with the admin credential.
func (s *Server) Admin() *grpc.ClientConn { return s.admin }

// Register creates a registration with a maximum TTL.
func (s *Server) Register(ctx context.Context, id spiffeid.ID, maxTTL time.Duration) error {
	_, err := lanyardv1.NewAdminServiceClient(s.admin).CreateRegistration(ctx, &lanyardv1.CreateRegistrationRequest{
		SpiffeId: id.String(), MaxTtl: durationpb.New(maxTTL)})
	return err
}

// AgentJoinToken creates a one-time join token for a node agent.
func (s *Server) AgentJoinToken(ctx context.Context) (string, error) {
	resp, err := lanyardv1.NewAdminServiceClient(s.admin).CreateJoinToken(ctx, &lanyardv1.CreateJoinTokenRequest{Agent: true})
	if err != nil {
		return "", err
	}
	return resp.GetToken(), nil
}

// RegisterForAgent registers id as served by a node agent: parent is the agent's ID or a node
// selector, selectors the workload selectors.
func (s *Server) RegisterForAgent(ctx context.Context, id spiffeid.ID, parent string, selectors ...string) error {
	_, err := lanyardv1.NewAdminServiceClient(s.admin).CreateRegistration(ctx, &lanyardv1.CreateRegistrationRequest{
		SpiffeId: id.String(), MaxTtl: durationpb.New(time.Hour), ParentId: parent, Selectors: selectors})
	return err
}

// JoinToken creates a one-time join token for a registered ID.
func (s *Server) JoinToken(ctx context.Context, id spiffeid.ID) (string, error) {
	resp, err := lanyardv1.NewAdminServiceClient(s.admin).CreateJoinToken(ctx, &lanyardv1.CreateJoinTokenRequest{SpiffeId: id.String()})
	if err != nil {
		return "", err
	}
	return resp.GetToken(), nil
}

// Enroll registers id and returns a join token for it.
func (s *Server) Enroll(ctx context.Context, id spiffeid.ID) (string, error) {
	if err := s.Register(ctx, id, time.Hour); err != nil {
		return "", fmt.Errorf("registering %s: %w", id, err)
	}
	return s.JoinToken(ctx, id)
}

// PublishContracts publishes the files (and everything they import) as one descriptor set.
func (s *Server) PublishContracts(ctx context.Context, source string, files ...protoreflect.FileDescriptor) error {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := 0; i < f.Imports().Len(); i++ {
			add(f.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	for _, f := range files {
		add(f)
	}
	raw, err := proto.Marshal(set)
	if err != nil {
		return err
	}
	_, err = lanyardv1.NewContractServiceClient(s.admin).PublishContracts(ctx, &lanyardv1.PublishContractsRequest{
		DescriptorSet: raw, Source: source})
	return err
}

// Grant is one grant of a policy.
type Grant struct {
	SpiffeIDs []string
	Audience  string
	Scopes    []string
}

// ApplyPolicy replaces the grants policy (the version increases by itself).
func (s *Server) ApplyPolicy(ctx context.Context, grants ...Grant) error {
	s.mu.Lock()
	s.policy++
	version := s.policy
	s.mu.Unlock()
	p := &lanyardv1.Policy{Version: version}
	for _, g := range grants {
		p.Grants = append(p.Grants, &lanyardv1.Grant{SpiffeIds: g.SpiffeIDs, Audience: g.Audience, Scopes: g.Scopes})
	}
	_, err := lanyardv1.NewPolicyServiceClient(s.admin).ApplyPolicy(ctx, &lanyardv1.ApplyPolicyRequest{Policy: p})
	return err
}

// ApplyPolicyProto replaces the grants policy with p (its version is set here, increasing by itself):
// for what Grant does not cover, such as external audiences.
func (s *Server) ApplyPolicyProto(ctx context.Context, p *lanyardv1.Policy) error {
	s.mu.Lock()
	s.policy++
	p.Version = s.policy
	s.mu.Unlock()
	_, err := lanyardv1.NewPolicyServiceClient(s.admin).ApplyPolicy(ctx, &lanyardv1.ApplyPolicyRequest{Policy: p})
	return err
}

// Revoke revokes a target.
func (s *Server) Revoke(ctx context.Context, target *lanyardv1.RevocationTarget) (*lanyardv1.RevokeResponse, error) {
	return lanyardv1.NewRevocationServiceClient(s.admin).Revoke(ctx, &lanyardv1.RevokeRequest{
		Target: target, Reason: lanyardv1.RevocationReason_REVOCATION_REASON_KEY_COMPROMISE, Note: "go integration test"})
}

// LogTail is the end of the server's log, for failure messages.
func (s *Server) LogTail() string {
	data, _ := os.ReadFile(s.log.Name())
	text := string(data)
	if len(text) > 4000 {
		text = text[len(text)-4000:]
	}
	return strings.TrimSpace(text)
}
