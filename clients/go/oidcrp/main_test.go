// Package oidcrp_test checks Lanyard's tokens for external audiences with a third-party OpenID
// Connect relying party (github.com/coreos/go-oidc/v3), the way AWS STS or Vault would: discover
// the issuer from /.well-known/openid-configuration over HTTPS, fetch the JWKS it names, verify.
package oidcrp_test

import (
	"os"
	"testing"

	"github.com/lanyard-dev/lanyard/clients/go/lanyardtest"
)

var (
	server  *lanyardtest.Server
	noServe error
)

// One dev server whose publication port speaks TLS with its SPIFFE certificate.
func TestMain(m *testing.M) {
	os.Exit(lanyardtest.MainWith(m, "lanyard-go-oidc-", func(string) ([]string, error) {
		return []string{"--http-tls", "spiffe"}, nil
	}, func(s *lanyardtest.Server, err error) { server, noServe = s, err }))
}
