package integration

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	paymentsv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/payments/v1"
	"github.com/lanyard-dev/lanyard/clients/go/identity"
	"github.com/lanyard-dev/lanyard/clients/go/token"
)

// TestTokensFollowRenewalsWithNoCnfMismatch: a caller whose 10 s certificates are renewed every
// 250 ms (besides its own renewals at half-life) keeps calling a service with tokens from one
// Fetcher, from four goroutines, for 15 s. Two dial a
// connection per call, two keep one and dial again after each renewal. Every call must pass: a
// token always travels on a connection presenting the certificate it is bound to.
func TestTokensFollowRenewalsWithNoCnfMismatch(t *testing.T) {
	f := startPayments(t)
	caller := workload(t, "shop", 10*time.Second)
	fetcher := token.NewFetcher(caller)
	first := caller.Serial()
	var calls, renewalsSeen atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	end := time.Now().Add(15 * time.Second)
	wg.Add(1)
	go func() { // renewals racing the calls
		defer wg.Done()
		for time.Now().Before(end) {
			if err := caller.RenewNow(ctxFor(t)); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	for worker := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var kept *grpc.ClientConn
			var keptFor *identity.SVID
			defer func() {
				if kept != nil {
					kept.Close()
				}
			}()
			for i := 0; time.Now().Before(end); i++ {
				svid := caller.SVID()
				conn := kept
				if worker < 2 || keptFor != svid {
					var err error
					conn, err = grpc.NewClient(f.addr, grpc.WithTransportCredentials(credentials.NewTLS(
						caller.ClientTLSConfigFor(svid, identity.AuthorizeID(f.service.SVID().ID)))))
					if err != nil {
						t.Error(err)
						return
					}
					if worker >= 2 {
						if kept != nil {
							kept.Close()
							renewalsSeen.Add(1)
						}
						kept, keptFor = conn, svid
					}
				}
				err := charge(t, fetcher, svid, conn, fmt.Sprintf("w%d-%d", worker, i))
				if worker < 2 {
					conn.Close()
				}
				calls.Add(1)
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	renewals := caller.Status().Renewals
	t.Logf("%d calls, %d failed, %d renewals (serial %s to %s), kept connections redialled %d times",
		calls.Load(), len(failures), renewals, first, caller.Serial(), renewalsSeen.Load())
	if len(failures) > 0 {
		t.Fatalf("%d of %d calls failed across renewals, first: %s", len(failures), calls.Load(), failures[0])
	}
	if renewals < 5 || calls.Load() < 50 {
		t.Fatalf("only %d renewals and %d calls: the test did not exercise renewal", renewals, calls.Load())
	}
}

func charge(t *testing.T, fetcher *token.Fetcher, svid *identity.SVID, conn *grpc.ClientConn, key string) error {
	ctx := ctxFor(t)
	tok, err := fetcher.Token(ctx, svid.Leaf, "payments", []string{"payments.charge"})
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	_, err = paymentsv1.NewPaymentsServiceClient(conn).Charge(withToken(ctx, tok),
		&paymentsv1.ChargeRequest{AccountId: "acc-1", AmountMinor: 1, Currency: "EUR", IdempotencyKey: key})
	return err
}
