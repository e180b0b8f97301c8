package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	ledgerv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/ledger/v1"
	paymentsv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/payments/v1"
	"github.com/lanyard-dev/lanyard/clients/go/lanyardtest"
)

var (
	server  *lanyardtest.Server
	noServe error
)

func TestMain(m *testing.M) {
	os.Exit(lanyardtest.Main(m, "lanyard-payments-", func(s *lanyardtest.Server, err error) { server, noServe = s, err }))
}

func TestFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	full := []string{"--lanyard", "127.0.0.1:8443", "--bundle", "b.pem", "--jwks-url", "http://x/jwks", "--issuer", "http://x"}
	o, err := parseFlags(full, env(map[string]string{"LANYARD_JOIN_TOKEN": "secret"}), io.Discard)
	if err != nil || o.joinToken != "secret" || o.listen != "127.0.0.1:9443" {
		t.Fatalf("%+v %v", o, err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{full, "missing --join-token or LANYARD_JOIN_TOKEN"},
		{[]string{"--join-token", "t"}, "missing --bundle or --root-fingerprint, --issuer, --jwks-url, --lanyard"},
		{append(full, "--join-token", "t", "--control", "0.0.0.0:9090"), `--control must be a loopback HOST:PORT (it has no authentication), not "0.0.0.0:9090"`},
		{append(slices.Clone(full), "--join-token", "t", "--root-fingerprint", "sha256:ab"), "--bundle and --root-fingerprint exclude each other: trust Lanyard one way"},
	}
	for _, tc := range cases {
		if _, err := parseFlags(tc.args, env(nil), io.Discard); err == nil || err.Error() != tc.want {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
}

// instance runs one payments service in-process and returns its control and gRPC addresses.
func instance(t *testing.T, name string, ttl time.Duration) (control, listen string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id := server.ID("/ns/" + name + "/sa/payments")
	token, err := server.Enroll(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen = ln.Addr().String()
	o := options{lanyard: server.GRPCAddr, bundle: server.BundleFile, joinToken: token, jwksURL: server.JWKSURL(), allowPlainHTTP: true,
		issuer: server.Issuer(), listen: listen, listener: ln, control: "127.0.0.1:0", ttl: ttl}
	runCtx, stop := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(runCtx, o, slog.New(slog.NewTextHandler(t.Output(), nil)), ready) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	control = <-ready
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, _ := get(t, control, "/healthz")
		if code == http.StatusOK {
			break
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("healthz answered %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return control, listen
}

func get(t *testing.T, control, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get("http://" + control + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func call(t *testing.T, control string, req map[string]any) (int, callResult, string) {
	t.Helper()
	raw, _ := json.Marshal(req)
	resp, err := http.Post("http://"+control+"/call", "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r callResult
	json.Unmarshal(body, &r)
	return resp.StatusCode, r, string(body)
}

func TestPaymentsCallsPaymentsThroughTheControlAPI(t *testing.T) {
	if server == nil {
		t.Skip(noServe.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := server.PublishContracts(ctx, "payments-example", paymentsv1.File_examples_payments_v1_payments_proto,
		ledgerv1.File_examples_ledger_v1_ledger_proto); err != nil {
		t.Fatal(err)
	}
	if err := server.ApplyPolicy(ctx, lanyardtest.Grant{SpiffeIDs: []string{"spiffe://lanyard.local/ns/shop/*"},
		Audience: "payments", Scopes: []string{"payments.charge", "payments.read"}}); err != nil {
		t.Fatal(err)
	}
	shopControl, _ := instance(t, "shop", 0)
	_, target := instance(t, "billing", 0)

	code, health := get(t, shopControl, "/healthz")
	if code != http.StatusOK || health["spiffe_id"] != "spiffe://lanyard.local/ns/shop/sa/payments" || health["serial"] == "" {
		t.Fatalf("healthz: %d %v", code, health)
	}
	charge := map[string]any{"target": target, "method": "/examples.payments.v1.PaymentsService/Charge",
		"audience": "payments", "scopes": []string{"payments.charge"},
		"request": map[string]any{"account_id": "acc-1", "amount_minor": 1250, "currency": "EUR"}}
	if status, r, body := call(t, shopControl, charge); status != http.StatusOK || r.Code != "OK" {
		t.Fatalf("Charge: %d %s", status, body)
	}
	watch := map[string]any{"target": target, "method": "/examples.payments.v1.PaymentsService/WatchPayments",
		"audience": "payments", "scopes": []string{"payments.read"}, "request": map[string]any{"account_id": "acc-1"}}
	if _, r, body := call(t, shopControl, watch); r.Code != "OK" {
		t.Fatalf("WatchPayments: %s", body)
	}
	// A watch of an account without payments is accepted at once, not at the deadline.
	quiet := map[string]any{"target": target, "method": "/examples.payments.v1.PaymentsService/WatchPayments",
		"audience": "payments", "scopes": []string{"payments.read"}, "request": map[string]any{"account_id": "acc-none"}}
	if _, r, body := call(t, shopControl, quiet); r.Code != "OK" {
		t.Fatalf("WatchPayments of a quiet account: %s", body)
	}
	// Refused streams report the refusal.
	noAccount := map[string]any{"target": target, "method": "/examples.payments.v1.PaymentsService/WatchPayments",
		"audience": "payments", "scopes": []string{"payments.read"}}
	if _, r, body := call(t, shopControl, noAccount); r.Code != "INVALID_ARGUMENT" {
		t.Fatalf("WatchPayments without an account: %s", body)
	}
	// Charge's validation runs after the interceptors: an empty request is INVALID_ARGUMENT.
	empty := map[string]any{"target": target, "method": "/examples.payments.v1.PaymentsService/Charge",
		"audience": "payments", "scopes": []string{"payments.charge"}}
	if _, r, body := call(t, shopControl, empty); r.Code != "INVALID_ARGUMENT" {
		t.Fatalf("empty Charge: %s", body)
	}
	// Refund needs scopes the policy does not grant: Lanyard refuses to mint the token.
	refund := map[string]any{"target": target, "method": "/examples.payments.v1.PaymentsService/Refund",
		"audience": "payments", "scopes": []string{"payments.refund", "payments.charge.read"}}
	if _, r, body := call(t, shopControl, refund); r.Code != "PERMISSION_DENIED" || !strings.Contains(r.Message, "fetching a token") {
		t.Fatalf("Refund: %s", body)
	}
	// A token with the wrong scopes for the method is refused by the callee's interceptor.
	readOnly := map[string]any{"target": target, "method": "/examples.payments.v1.PaymentsService/Charge",
		"audience": "payments", "scopes": []string{"payments.read"}}
	if _, r, body := call(t, shopControl, readOnly); r.Code != "PERMISSION_DENIED" || !strings.Contains(r.Message, "lacks scope payments.charge") {
		t.Fatalf("Charge with payments.read: %s", body)
	}
	// A token passed in that is not a JWT: UNAUTHENTICATED, and the token is not echoed.
	bad := map[string]any{"target": target, "method": "/examples.payments.v1.PaymentsService/Charge", "token": "garbage-token-value"}
	if _, r, body := call(t, shopControl, bad); r.Code != "UNAUTHENTICATED" || strings.Contains(body, "garbage-token-value") {
		t.Fatalf("bad token: %s", body)
	}
	code, st := get(t, shopControl, "/status")
	if code != http.StatusOK || st["spiffe_id"] != health["spiffe_id"] || st["not_after"] == "" || st["renewals"] != 0.0 {
		t.Fatalf("status: %d %v", code, st)
	}
	for _, k := range []string{"last_renewal_error", "revocation_sequence", "serial"} {
		if _, ok := st[k]; !ok {
			t.Fatalf("status lacks %s: %v", k, st)
		}
	}
	if status, _, body := call(t, shopControl, map[string]any{"target": target, "method": "nope"}); status != http.StatusBadRequest {
		t.Fatalf("a bad method: %d %s", status, body)
	}
}

// TestRenewalWithoutRestart: with a short certificate the service renews at half-life, /status
// counts it, and calls to and from the renewed service keep working.
func TestRenewalWithoutRestart(t *testing.T) {
	if server == nil {
		t.Skip(noServe.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := server.PublishContracts(ctx, "payments-example", paymentsv1.File_examples_payments_v1_payments_proto,
		ledgerv1.File_examples_ledger_v1_ledger_proto); err != nil {
		t.Fatal(err)
	}
	if err := server.ApplyPolicy(ctx, lanyardtest.Grant{SpiffeIDs: []string{"spiffe://lanyard.local/ns/renewing/*", "spiffe://lanyard.local/ns/caller/*"},
		Audience: "payments", Scopes: []string{"payments.charge"}}); err != nil {
		t.Fatal(err)
	}
	renewing, renewingTarget := instance(t, "renewing", 20*time.Second) // 22 s of life with the 2 s backdate
	caller, callerTarget := instance(t, "caller", 0)
	_, before := get(t, renewing, "/healthz")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, st := get(t, renewing, "/status")
		if st["renewals"].(float64) >= 1 {
			if st["serial"] == before["serial"] || st["last_renewal_error"] != "" {
				t.Fatalf("after a renewal: %v (before: %v)", st, before)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no renewal: %v", st)
		}
	}
	charge := func(from, to string) {
		t.Helper()
		req := map[string]any{"target": to, "method": "/examples.payments.v1.PaymentsService/Charge",
			"audience": "payments", "scopes": []string{"payments.charge"},
			"request": map[string]any{"account_id": "acc-r", "amount_minor": 1, "currency": "EUR"}}
		if _, r, body := call(t, from, req); r.Code != "OK" {
			t.Fatalf("Charge after renewal: %s", body)
		}
	}
	charge(caller, renewingTarget) // the renewed service serves its new certificate
	charge(renewing, callerTarget) // and calls with it, with a token bound to it
}
