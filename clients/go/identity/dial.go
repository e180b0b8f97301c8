package identity

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// flowControlWindow is the HTTP/2 window of a connection to Lanyard, and of each call on it:
// gRPC's default, and more than any of Lanyard's answers needs.
const flowControlWindow = 1 << 20

// DialOptions are how Lanyard's Go programs connect to Lanyard: over creds, with a fixed flow-control
// window. With grpc-go's default dynamic window a client pings the server after nearly every answer
// it reads, to estimate the link's bandwidth-delay product: Lanyard's answers are small, so the
// estimate never reaches the limit where grpc-go stops. Each ping costs the server a frame read and
// an acknowledgement written, which a fixed window saves.
func DialOptions(creds credentials.TransportCredentials) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithStaticStreamWindowSize(flowControlWindow),
		grpc.WithStaticConnWindowSize(flowControlWindow),
	}
}
