package integration

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/revocation"
)

type deadConns struct{ cc *grpc.ClientConn }

func (d deadConns) Conn() *grpc.ClientConn { return d.cc }

// TestFollowerReadsTheServersCRLWhileTheStreamIsDown: a follower that cannot reach the stream
// still refuses a certificate the server revoked, from the CRL at the distribution point its own
// certificate names, checked against its issuing CA.
func TestFollowerReadsTheServersCRLWhileTheStreamIsDown(t *testing.T) {
	s := needServer(t)
	ctx := ctxFor(t)
	victim := workload(t, "crl", time.Hour)
	watcher := workload(t, "crl", time.Hour)
	if len(watcher.SVID().Leaf.CRLDistributionPoints) == 0 {
		t.Fatal("the workload certificate names no CRL distribution point")
	}
	if _, err := s.Revoke(ctx, &lanyardv1.RevocationTarget{Target: &lanyardv1.RevocationTarget_Serial{Serial: victim.Serial()}}); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	cc, err := grpc.NewClient(dead, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	f := revocation.NewFollower(deadConns{cc}, revocation.CRLsOf(watcher),
		revocation.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	go f.Run(ctx)

	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, ok := f.Revoked("", "", victim.Serial()); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("certificate %s is not refused from the CRL at %v", victim.Serial(), watcher.SVID().Leaf.CRLDistributionPoints)
		}
	}
	if f.Connected() {
		t.Fatal("the stream is up; this test is about the fallback")
	}
	if _, ok := f.Revoked("", "", watcher.Serial()); ok {
		t.Fatal("a certificate never revoked is refused")
	}
}
