package identity

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// recordingListener keeps every byte its connections read: what clients sent.
type recordingListener struct {
	net.Listener
	mu     sync.Mutex
	read   bytes.Buffer
	closed chan struct{}
}

type recordingConn struct {
	net.Conn
	l *recordingListener
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, l: l}, nil
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.mu.Lock()
	c.l.read.Write(p[:n])
	c.l.mu.Unlock()
	if err != nil {
		select {
		case c.l.closed <- struct{}{}:
		default:
		}
	}
	return n, err
}

// pingsFrom counts the PING frames (not acknowledgements) a client sent over one connection
// making 20 calls, read from the server's side of the connection.
func pingsFrom(t *testing.T, opts []grpc.DialOption) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recording := &recordingListener{Listener: lis, closed: make(chan struct{}, 1)}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(recording) }()
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 20 {
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	select {
	case <-recording.closed:
	case <-ctx.Done():
		t.Fatal("the server did not see the connection close")
	}

	recording.mu.Lock()
	defer recording.mu.Unlock()
	stream := recording.read.Bytes()
	if !bytes.HasPrefix(stream, []byte(http2.ClientPreface)) {
		t.Fatalf("not an HTTP/2 client stream: %q", stream[:min(len(stream), 24)])
	}
	framer := http2.NewFramer(nil, bytes.NewReader(stream[len(http2.ClientPreface):]))
	pings, frames := 0, 0
	for {
		f, err := framer.ReadFrame()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d frames: %v", frames, err)
		}
		frames++
		if p, ok := f.(*http2.PingFrame); ok && !p.IsAck() {
			pings++
		}
	}
	if frames < 40 {
		t.Fatalf("read %d frames of 20 calls", frames)
	}
	return pings
}

func TestDialOptionsSendNoFlowControlPings(t *testing.T) {
	defaults := pingsFrom(t, []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())})
	if defaults < 10 {
		t.Fatalf("with grpc-go's defaults the client sent %d pings in 20 calls; expected about one a call", defaults)
	}
	if ours := pingsFrom(t, DialOptions(insecure.NewCredentials())); ours != 0 {
		t.Fatalf("with DialOptions the client sent %d pings in 20 calls (grpc-go's defaults: %d)", ours, defaults)
	}
	t.Logf("pings in 20 calls: %d with grpc-go's defaults, none with DialOptions", defaults)
}
