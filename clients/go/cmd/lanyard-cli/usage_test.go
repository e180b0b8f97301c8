package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paymentsv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/payments/v1"
	"github.com/lanyard-dev/lanyard/clients/go/lanyardtest"
)

var (
	secretsOnce sync.Once
	secrets     []string
)

// pastedSecrets are what a caller may paste in the wrong place, real ones made by the test server: a JWT
// and an unused join token (tools/.../PastedSecrets.java in the Java tests).
func pastedSecrets(t *testing.T) []string {
	t.Helper()
	s := needServer(t)
	secretsOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.PublishContracts(ctx, "cli-test", paymentsv1.File_examples_payments_v1_payments_proto); err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyPolicy(ctx, lanyardtest.Grant{SpiffeIDs: []string{"spiffe://lanyard.local/ns/pasted/*"},
			Audience: "payments", Scopes: []string{"payments.charge"}}); err != nil {
			t.Fatal(err)
		}
		_, dir := enroll(t, "pasted")
		jwt := strings.TrimSpace(ok(t, cli(t, nil, "token", "issue", "--in", dir, "--audience", "payments", "--scope",
			"payments.charge")).out)
		id := newID(s, "pasted")
		ok(t, cli(t, nil, "registration", "create", "--data", data(s), "--spiffe-id", id))
		token := strings.TrimSpace(ok(t, cli(t, nil, "join-token", "create", "--data", data(s), "--spiffe-id", id)).out)
		secrets = []string{jwt, token}
	})
	if len(secrets) != 2 {
		t.Fatal("the pasted secrets could not be made (see the first test that asked for them)")
	}
	return secrets
}

// notRepeated fails if text holds 16 characters in a row of secret (a quote cut short still holds most of it).
func notRepeated(t *testing.T, text, secret string) {
	t.Helper()
	for i := 0; i+16 <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+16]) {
			t.Fatalf("repeats characters %d to %d of the secret: %s", i, i+16, text)
		}
	}
}

// A token pasted where the parser expects something else, or as --key-type, is named by its position or
// option and its length, never repeated (run alone; through ./lanyard the Java command line says it).
func TestASecretPickedUpByTheParserIsNotRepeated(t *testing.T) {
	s := needServer(t)
	_, dir := enroll(t, "keytype")
	for _, secret := range pastedSecrets(t) {
		n := len(secret)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"registration", "list", "--data", data(s), secret}, fmt.Sprintf("Unmatched argument at index 4 (%d characters)", n)},
			{[]string{"registration", "list", "--data", data(s), secret, "x"}, fmt.Sprintf("Unmatched arguments from index 4 (%d, 1 characters)", n)},
			{[]string{"registration", "list", "--" + secret}, fmt.Sprintf("Unknown option at index 2 (%d characters)", n+2)},
			{[]string{"registration", "list", "---" + secret}, fmt.Sprintf("Unknown option at index 2 (%d characters)", n+3)},
			{[]string{"certs", "list", "--data", data(s), "--limit", secret}, fmt.Sprintf("Invalid value for option '--limit': the value (%d characters) is not an int", n)},
			{[]string{"certs", "list", "--data", data(s), "--limit=" + secret}, fmt.Sprintf("Invalid value for option '--limit': the value (%d characters) is not an int", n)},
			{[]string{"revoke", "--data", data(s), "--jti", "x", "--force=" + secret}, fmt.Sprintf("Invalid value for option '--force': the value (%d characters) is not a boolean", n)},
			{[]string{"cert", "renew", "--in", dir, "--key-type", secret}, fmt.Sprintf("--key-type (%d characters): not a key type this command line makes", n)},
		} {
			r := cli(t, nil, tc.args...)
			if r.code != exitUsage || !strings.HasPrefix(r.err, "error: "+tc.want+"\n") {
				t.Errorf("want exit 2 and %q: %s", tc.want, r)
			}
			notRepeated(t, r.out+r.err, secret)
		}
	}
	if r := cli(t, nil, "registration", "list", "--server"); r.code != exitUsage ||
		!strings.HasPrefix(r.err, "error: Missing required parameter for option '--server'\n") {
		t.Errorf("an option without its value: %s", r)
	}
}
