package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// fetch asks the Workload API what the calling process gets (SPIRE's `api fetch`): a client of the
// agent, through go-spiffe, for operators and scripts.
func fetch(args []string) error {
	fs := flag.NewFlagSet("lanyard-agent fetch", flag.ContinueOnError)
	socket := fs.String("socket", "/tmp/lanyard/agent.sock", "the Workload API socket")
	audience := fs.String("audience", "", "also fetch a JWT-SVID for this audience")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := workloadapi.New(ctx, workloadapi.WithAddr("unix://"+*socket))
	if err != nil {
		return err
	}
	defer client.Close()
	svids, err := client.FetchX509SVIDs(ctx)
	if err != nil {
		return fmt.Errorf("FetchX509SVID: %w", err)
	}
	for _, s := range svids {
		fmt.Printf("x509-svid %s serial %s expires %s\n", s.ID, s.Certificates[0].SerialNumber.Text(16),
			s.Certificates[0].NotAfter.Format(time.RFC3339))
	}
	if *audience != "" {
		jwt, err := client.FetchJWTSVID(ctx, jwtsvid.Params{Audience: *audience})
		if err != nil {
			return fmt.Errorf("FetchJWTSVID: %w", err)
		}
		fmt.Printf("jwt-svid %s audience %s expires %s\n%s\n", jwt.ID, *audience, jwt.Expiry.Format(time.RFC3339), jwt.Marshal())
	}
	return nil
}

// bench measures FetchX509SVID or FetchJWTSVID calls per second from this process, through go-spiffe.
func bench(args []string) error {
	fs := flag.NewFlagSet("lanyard-agent bench", flag.ContinueOnError)
	socket := fs.String("socket", "/tmp/lanyard/agent.sock", "the Workload API socket")
	audience := fs.String("jwt-audience", "", "measure FetchJWTSVID for this audience instead of FetchX509SVID")
	duration := fs.Duration("duration", 10*time.Second, "how long to measure")
	workers := fs.Int("concurrency", 4, "concurrent callers, each with its own connection")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration+30*time.Second)
	defer cancel()
	var calls, failures atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for range *workers {
		client, err := workloadapi.New(ctx, workloadapi.WithAddr("unix://"+*socket))
		if err != nil {
			return err
		}
		defer client.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				var err error
				if *audience != "" {
					_, err = client.FetchJWTSVID(ctx, jwtsvid.Params{Audience: *audience})
				} else {
					_, err = client.FetchX509SVID(ctx)
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				calls.Add(1)
			}
		}()
	}
	wg.Wait()
	what := "FetchX509SVID"
	if *audience != "" {
		what = "FetchJWTSVID (audience " + *audience + ")"
	}
	fmt.Printf("%s: %d calls in %s with %d callers: %.0f/s, %d failed\n", what, calls.Load(), *duration,
		*workers, float64(calls.Load())/duration.Seconds(), failures.Load())
	if e, ok := firstErr.Load().(error); ok {
		return errors.New("first failure: " + e.Error())
	}
	return nil
}

func subcommand(args []string) (func([]string) error, bool) {
	if len(args) == 0 {
		return nil, false
	}
	switch args[0] {
	case "fetch":
		return fetch, true
	case "bench":
		return bench, true
	}
	return nil, false
}
