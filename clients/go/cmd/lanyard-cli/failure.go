package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf16"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The exit status of every command, the same as the Java command line's (tools/.../ExitCodes.java).
const (
	exitOK         = 0
	exitFailed     = 1 // failed here: a file missing or unreadable, a bad input the server never saw
	exitUsage      = 2 // an unknown or missing option, a malformed value
	exitConnection = 3 // the server could not be reached or not trusted
	exitRefused    = 4 // the server answered and refused
	// exitDefer asks ./lanyard to run the Java command line instead (help, usage errors, verbs not
	// served here). Never seen by a user: the script runs Java then.
	exitDefer = 125
)

const grpcPortHint = "pass --server HOST:PORT with the server's gRPC port (8443 by default; `lanyard dev` prints it)"

// failure is what a person reads: what was tried, what went wrong in words, what to do, and the exit
// status (tools/.../CliFailure.java).
type failure struct {
	tried, problem, advice string
	code                   int
}

func (f *failure) Error() string { return f.tried + ": " + f.problem }

// render is "error: TRIED: PROBLEM" and, when there is one, "hint: ADVICE".
func (f *failure) render() string {
	s := "error: " + f.tried + ": " + f.problem
	if f.advice != "" {
		s += "\nhint: " + f.advice
	}
	return s
}

// unnamed names text a command line refused by the option and its length only, never the text: a token
// pasted into the wrong option must not be repeated (tools/.../AuditText.unnamed).
func unnamed(option, text string) string {
	return fmt.Sprintf("%s (%d characters)", option, characters(text))
}

// characters is the length of text as Java counts it (UTF-16 units), so both command lines say the same.
func characters(text string) int { return len(utf16.Encode([]rune(text))) }

func fail(tried, problem, advice string, code int) *failure {
	return &failure{tried: tried, problem: problem, advice: advice, code: code}
}

// usageError is a malformed command line: ./lanyard lets the Java command line say it (with picocli's
// suggestions); run on its own, this command says it itself.
type usageError struct{ message string }

func (u *usageError) Error() string { return u.message }

// explain turns what a command returned into a failure (tools/.../Errors.java). server is the
// --server the command used; conn, when the command dialed, says what the connection saw.
func explain(err error, server string, conn *connection) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return statusFailure(s, server, conn)
	}
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fail(pathErr.Path, "no such file or directory", "check the path", exitFailed)
		case errors.Is(err, os.ErrPermission):
			return fail(pathErr.Path, "permission denied", "run as the user that owns it, or fix its permissions", exitFailed)
		case errors.Is(err, syscall.ENOTDIR):
			return fail(pathErr.Path, "not a directory", "pass a directory", exitFailed)
		}
		return fail(pathErr.Path, pathErr.Err.Error(), "check the path and its permissions", exitFailed)
	}
	return fail("lanyard", err.Error(), "", exitFailed)
}

func statusFailure(s *status.Status, server string, conn *connection) *failure {
	where := server
	if where == "" {
		where = "the server"
	}
	said := codeName(s.Code())
	if s.Message() != "" {
		said += ": " + s.Message()
	}
	switch s.Code() {
	case codes.Unavailable:
		return unavailable(s, where, conn)
	case codes.DeadlineExceeded:
		return fail(where, "no answer before the deadline", "is the server overloaded, or is this a port that accepts"+
			" connections but does not speak gRPC? "+grpcPortHint, exitConnection)
	case codes.Unauthenticated:
		return fail(where, "refused: "+said, "a join token works once and expires; create a new one with"+
			" `lanyard join-token create`", exitRefused)
	case codes.PermissionDenied:
		return fail(where, "refused: "+said, "the answer names what is not allowed; admin verbs need an admin"+
			" credential (--admin DIR or --data DIR)", exitRefused)
	case codes.NotFound:
		return fail(where, "refused: "+said, "check the name; `lanyard registration list`, `lanyard certs list` and"+
			" `lanyard revocations list` show what exists", exitRefused)
	case codes.ResourceExhausted:
		return fail(where, "refused: "+said, "wait a moment and try again", exitRefused)
	case codes.Unimplemented:
		return fail(where, "refused: "+said, "the server is older than this command line, or this is not a Lanyard"+
			" server; "+grpcPortHint, exitRefused)
	}
	return fail(where, "refused: "+said, "", exitRefused)
}

// unavailable covers every way a connection fails; what the dialer and the TLS check saw says which.
func unavailable(s *status.Status, where string, conn *connection) *failure {
	if conn != nil {
		if refused := conn.refusal(); refused != nil {
			advice := "is --server the Lanyard server you trust? A dev server started in a new --data directory" +
				" has a new root: use its bundle.pem or the fingerprint it printed"
			if refused.wrongServer {
				advice = "this address reaches another TLS service; " + grpcPortHint
			}
			return fail(where, "TLS: "+refused.message, advice, exitConnection)
		}
		if f := dialFailure(conn.dialError(), where); f != nil {
			return f
		}
	}
	said := s.Message()
	lower := strings.ToLower(said)
	switch {
	case strings.Contains(lower, "first record does not look like a tls handshake"):
		return fail(where, "TLS: the server did not answer in TLS (is this the HTTP port?)", grpcPortHint, exitConnection)
	case strings.Contains(lower, "alpn") || strings.Contains(lower, "no application protocol"):
		return fail(where, "TLS: the server does not speak HTTP/2, so not gRPC (is this the HTTPS publication port?)",
			grpcPortHint, exitConnection)
	case strings.Contains(lower, "authentication handshake failed") && strings.Contains(lower, "deadline exceeded"):
		if answersPlainHTTP(where) {
			return fail(where, "TLS: the server did not answer in TLS; it answers plain HTTP (this is the HTTP port)",
				grpcPortHint, exitConnection)
		}
		return fail(where, "no answer before the deadline (the TLS handshake did not complete)", "is the server"+
			" overloaded, or is this a port that accepts connections but does not speak TLS? "+grpcPortHint, exitConnection)
	case strings.Contains(lower, "authentication handshake failed"):
		if strings.Contains(lower, "eof") || strings.Contains(lower, "connection reset") {
			return fail(where, "the server closed the connection during the TLS handshake ("+said+")",
				"is this the Lanyard server's gRPC port? "+grpcPortHint, exitConnection)
		}
		return fail(where, "TLS handshake failed: "+handshakeCause(said), "is this the Lanyard server's gRPC port? "+
			grpcPortHint, exitConnection)
	}
	if said == "" {
		said = "unavailable"
	}
	return fail(where, "cannot talk to the server: "+said, "check that the server is running; "+grpcPortHint, exitConnection)
}

// dialFailure names a TCP connection that failed: refused, unknown host, unreachable; nil otherwise.
func dialFailure(err error, where string) *failure {
	if err == nil {
		return nil
	}
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail(where, "connection refused: nothing is listening on that port",
			"start the server (`./lanyard dev`), or "+grpcPortHint, exitConnection)
	case errors.As(err, &dns) && (dns.IsNotFound || !dns.IsTemporary):
		return fail(where, "unknown host: the name does not resolve", "check the host in --server", exitConnection)
	}
	return fail(where, "cannot reach the host ("+err.Error()+")",
		"check the address and any firewall between here and there", exitConnection)
}

// handshakeCause is the TLS error inside gRPC's "connection error: desc = ..." wrapping.
func handshakeCause(said string) string {
	if i := strings.LastIndex(said, "authentication handshake failed: "); i >= 0 {
		return strings.TrimSuffix(said[i+len("authentication handshake failed: "):], "\"")
	}
	return said
}

// codeName is the status code as the gRPC specification (and grpc-java) spells it: PERMISSION_DENIED.
func codeName(c codes.Code) string {
	if c == codes.Canceled {
		return "CANCELLED"
	}
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// answersPlainHTTP says whether hostPort, which did not finish a TLS handshake, speaks plain HTTP
// (the publication port given as --server).
func answersPlainHTTP(hostPort string) bool {
	target, err := parseHostPort(hostPort)
	if err != nil {
		return false
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(target.host, target.port), 2*time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("HEAD /healthz HTTP/1.1\r\nHost: " + target.host + "\r\nConnection: close\r\n\r\n")); err != nil {
		return false
	}
	start := make([]byte, 5)
	_, err = io.ReadFull(conn, start)
	return err == nil && string(start) == "HTTP/"
}
