// Package lanyard is the root of the Go client of Lanyard, an internal certificate authority
// and service-identity issuer. The capabilities live in small packages:
//
//   - identity: bootstrap with a join token, renewal at half-life, tls.Configs that always
//     present the current certificate and trust the current roots;
//   - token: fetching and caching scoped, certificate-bound tokens (TokenService.IssueToken);
//   - jwks: the JWT signing keys over HTTP, cached per Cache-Control;
//   - verify: checking an incoming token (signature, iss, aud, time, cnf, scopes, revocation);
//   - revocation: following RevocationService.WatchRevocations;
//   - authz: gRPC server interceptors enforcing the scopes declared in .proto method options;
//   - retry: telling transient failures from refusals, and backing off;
//   - lanyardtest: a real Lanyard dev server for integration tests.
//
// lanyardpb/v1 and examplespb hold the code generated from proto/ (see gen.sh).
package lanyard
