// Package workload serves the SPIFFE Workload API (go-spiffe's workload.proto) on the agent's unix
// socket: each caller is attested by the kernel (package peer) and gets the identities whose
// selectors it matches; streams send the whole state at once and again on every change.
package workload

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/lanyard-dev/lanyard/agent/internal/cache"
	"github.com/lanyard-dev/lanyard/agent/internal/peer"
	"github.com/lanyard-dev/lanyard/clients/go/jwks"
	"github.com/lanyard-dev/lanyard/clients/go/verify"
)

// Source is what the server serves from (cache.Manager).
type Source interface {
	State() *cache.State
	Changed() <-chan struct{}
	JWTSVID(ctx context.Context, svid *cache.SVID, audience string) (string, error)
	// Revoked says whether a token id, an identity or a certificate serial is revoked, as the
	// revocations the agent follows say.
	Revoked(jti, spiffeID, serial string) (what string, revoked bool)
	// RevocationsLoaded is closed once the revocations have been loaded (the follower's first
	// catch-up): until then Revoked knows nothing, and the answers that depend on it are held back.
	RevocationsLoaded() <-chan struct{}
}

// Server implements workload.SpiffeWorkloadAPIServer.
type Server struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	source   Source
	attestor *peer.Attestor
	issuers  Issuers
	log      *slog.Logger
}

// New makes a server; register it with Register. issuers are what ValidateJWTSVID expects in iss.
func New(source Source, attestor *peer.Attestor, issuers Issuers, log *slog.Logger) *Server {
	return &Server{source: source, attestor: attestor, issuers: issuers, log: log}
}

// NewGRPCServer is a gRPC server on unix-socket peer credentials with the Workload API and Envoy
// SDS registered.
func NewGRPCServer(s *Server) *grpc.Server {
	g := grpc.NewServer(grpc.Creds(peer.Credentials{}))
	workload.RegisterSpiffeWorkloadAPIServer(g, s)
	secretv3.RegisterSecretDiscoveryServiceServer(g, NewSDS(s))
	return g
}

// caller checks the security header and returns the caller's selectors.
func (s *Server) caller(ctx context.Context) ([]string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("workload.spiffe.io"); len(v) != 1 || v[0] != "true" {
		return nil, status.Error(codes.InvalidArgument, "security header missing from request (workload.spiffe.io: true)")
	}
	return s.attest(ctx)
}

// attest is the caller's selectors from the kernel (SDS callers send no security header).
func (s *Server) attest(ctx context.Context) ([]string, error) {
	p, ok := grpcpeer.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no peer information")
	}
	info, ok := p.AuthInfo.(peer.Info)
	if !ok {
		return nil, status.Error(codes.Internal, "the caller was not attested by SO_PEERCRED")
	}
	selectors, err := s.attestor.Selectors(info)
	if err != nil {
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	return selectors, nil
}

func (s *Server) identities(st *cache.State, selectors []string) []*cache.SVID {
	return st.Matching(selectors, peer.Matches, time.Now())
}

var errNoIdentity = status.Error(codes.PermissionDenied, "no identity issued")

// errNotLoaded answers a unary call that depends on revocations before they were loaded once: the
// agent fails closed, and the caller may retry (UNAVAILABLE).
var errNotLoaded = status.Error(codes.Unavailable,
	"revocations not loaded yet: the agent has not caught up with Lanyard's revocations since it started; retry")

// loaded says whether the revocations have been loaded once (unary calls refuse until then).
func (s *Server) loaded() bool {
	select {
	case <-s.source.RevocationsLoaded():
		return true
	default:
		return false
	}
}

// awaitLoaded holds a stream back until the revocations have been loaded once, so that it never
// sends an SVID revoked before the agent started; false if the stream ended first. Only workload
// answers wait: the agent's own SVID and connection, which load the revocations, never do.
func (s *Server) awaitLoaded(ctx context.Context) bool {
	select {
	case <-s.source.RevocationsLoaded():
		return true
	case <-ctx.Done():
		return false
	}
}

// FetchX509SVID streams the caller's X.509-SVIDs with the bundle, now and on every change.
func (s *Server) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	selectors, err := s.caller(stream.Context())
	if err != nil {
		return err
	}
	if !s.awaitLoaded(stream.Context()) {
		return nil
	}
	return follow(stream.Context(), s, selectors, func(st *cache.State, svids []*cache.SVID) (*workload.X509SVIDResponse, error) {
		resp := &workload.X509SVIDResponse{FederatedBundles: federatedX509(st, svids)}
		bundle := concat(st.Roots)
		for _, svid := range svids {
			resp.Svids = append(resp.Svids, &workload.X509SVID{SpiffeId: svid.ID.String(), X509Svid: concat(svid.Chain),
				X509SvidKey: svid.KeyPKCS8, Bundle: bundle})
		}
		return resp, nil
	}, sameX509, stream.Send)
}

// follow sends what build makes of the caller's identities now, and again after every change of
// the agent's state that alters it, until the stream ends. A caller with no identity (also one whose
// last identity went away) is answered PermissionDenied.
func follow[T any](ctx context.Context, s *Server, selectors []string, build func(*cache.State, []*cache.SVID) (T, error),
	same func(a, b T) bool, send func(T) error) error {
	var last T
	sent := false
	for {
		changed := s.source.Changed()
		st := s.source.State()
		svids := s.identities(st, selectors)
		if len(svids) == 0 {
			return errNoIdentity
		}
		current, err := build(st, svids)
		if err != nil {
			return err
		}
		if !sent || !same(last, current) {
			if err := send(current); err != nil {
				return err
			}
			last, sent = current, true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// sameBundles tells whether two sets of bundles, by trust domain, hold the same bytes.
func sameBundles(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, slices.Equal)
}

// FetchX509Bundles streams the trust domain's X.509 roots, and those of the federated trust domains
// the caller's identities federate with, now and on every change.
func (s *Server) FetchX509Bundles(_ *workload.X509BundlesRequest, stream grpc.ServerStreamingServer[workload.X509BundlesResponse]) error {
	selectors, err := s.caller(stream.Context())
	if err != nil {
		return err
	}
	return follow(stream.Context(), s, selectors, func(st *cache.State, svids []*cache.SVID) (map[string][]byte, error) {
		bundles := federatedX509(st, svids)
		bundles[st.TrustDomain.IDString()] = concat(st.Roots)
		return bundles, nil
	}, sameBundles, func(bundles map[string][]byte) error {
		return stream.Send(&workload.X509BundlesResponse{Bundles: bundles})
	})
}

// FetchJWTSVID mints JWT-SVIDs (Lanyard tokens bound to the workload's current X.509-SVID) for one audience.
func (s *Server) FetchJWTSVID(ctx context.Context, req *workload.JWTSVIDRequest) (*workload.JWTSVIDResponse, error) {
	selectors, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if len(req.GetAudience()) != 1 || req.GetAudience()[0] == "" {
		return nil, status.Error(codes.InvalidArgument, "exactly one audience is required: a Lanyard token has one audience")
	}
	if !s.loaded() {
		return nil, errNotLoaded
	}
	svids := s.identities(s.source.State(), selectors)
	if req.GetSpiffeId() != "" {
		svids = slices.DeleteFunc(svids, func(v *cache.SVID) bool { return v.ID.String() != req.GetSpiffeId() })
	}
	if len(svids) == 0 {
		return nil, errNoIdentity
	}
	resp := &workload.JWTSVIDResponse{}
	for _, svid := range svids {
		token, err := s.source.JWTSVID(ctx, svid, req.GetAudience()[0])
		if err != nil {
			st, _ := status.FromError(err)
			return nil, status.Errorf(st.Code(), "JWT-SVID for %s: %s", svid.ID, st.Message())
		}
		resp.Svids = append(resp.Svids, &workload.JWTSVID{SpiffeId: svid.ID.String(), Svid: token})
	}
	return resp, nil
}

// FetchJWTBundles streams the JWT keys as a JWKS per trust domain (ours and the federated ones the
// caller's identities federate with), now and on every change.
func (s *Server) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream grpc.ServerStreamingServer[workload.JWTBundlesResponse]) error {
	selectors, err := s.caller(stream.Context())
	if err != nil {
		return err
	}
	return follow(stream.Context(), s, selectors, func(st *cache.State, svids []*cache.SVID) (map[string][]byte, error) {
		bundles := map[string][]byte{}
		for _, b := range jwtBundles(st, svids).Bundles() {
			jwks, err := b.Marshal()
			if err != nil {
				return nil, status.Error(codes.Internal, "the JWT bundle of "+b.TrustDomain().Name()+" cannot be encoded")
			}
			bundles[b.TrustDomain().IDString()] = jwks
		}
		return bundles, nil
	}, sameBundles, func(bundles map[string][]byte) error {
		return stream.Send(&workload.JWTBundlesResponse{Bundles: bundles})
	})
}

// ValidateJWTSVID checks a token as a Lanyard Go verifier (clients/go/verify) would: algorithm,
// kid and signature against the JWT bundle of the trust domain its sub names (ours, or a federated
// one the caller's identities federate with), iss against that trust domain's issuer (ours: the
// configured one, else the one the server names with the entries; see Issuers.For), aud, time
// claims with the verifier's bounded skew, a well-formed cnf, and that neither its jti nor its
// subject identity is revoked (the revocations the agent follows: a jti revoked by a federated
// trust domain refuses only that trust domain's tokens). A revoked certificate serial, and the cnf
// binding itself, cannot be checked here: the token is bound to the presenter's certificate, which
// ValidateJWTSVID is not given; the relying party that terminates the TLS connection checks them.
// Until the revocations are loaded once, a token that would otherwise validate is answered
// UNAVAILABLE (errNotLoaded).
func (s *Server) ValidateJWTSVID(ctx context.Context, req *workload.ValidateJWTSVIDRequest) (*workload.ValidateJWTSVIDResponse, error) {
	selectors, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetAudience() == "" {
		return nil, status.Error(codes.InvalidArgument, "audience must be specified")
	}
	if req.GetSvid() == "" {
		return nil, status.Error(codes.InvalidArgument, "svid must be specified")
	}
	st := s.source.State()
	// The trust domain only picks the keys and issuer to check against; the verified sub must be in it.
	td := claimedTrustDomain(req.GetSvid(), st.TrustDomain)
	keys, ok := jwtKeys(st, s.identities(st, selectors), td)
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "token refused: the agent serves no JWT bundle of trust domain %q to this caller", td.Name())
	}
	issuer := s.issuers.For(st, td)
	switch {
	case issuer == "" && td == st.TrustDomain:
		return nil, status.Errorf(codes.FailedPrecondition, "the agent knows no issuer for trust domain %q yet:"+
			" none is configured (issuer) and the server has not named its own (it does with the entries the"+
			" agent fetches): it cannot check a token's iss", td.Name())
	case issuer == "":
		return nil, status.Errorf(codes.FailedPrecondition,
			"the agent has no issuer configured for trust domain %q (federated_issuers): it cannot check a token's iss", td.Name())
	}
	v, err := verify.New(verify.Config{Issuer: issuer, Audience: req.GetAudience(), Keys: keys,
		Revocations: revocations{s.source}})
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	token, err := v.VerifyUnbound(ctx, req.GetSvid())
	var refused *verify.Error
	switch {
	case errors.As(err, &refused) && refused.Class == verify.RevocationsNotLoaded:
		return nil, errNotLoaded
	case err != nil:
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	id, err := spiffeid.FromString(token.Subject())
	if err != nil || id.TrustDomain() != td {
		return nil, status.Errorf(codes.InvalidArgument, "token refused: its sub is not in trust domain %q, whose keys signed it", td.Name())
	}
	claims, err := verifiedClaims(req.GetSvid())
	if err != nil {
		return nil, status.Error(codes.Internal, "the token's claims cannot be encoded")
	}
	return &workload.ValidateJWTSVIDResponse{SpiffeId: id.String(), Claims: claims}, nil
}

// revocations is the Source as verify.RevocationChecker.
type revocations struct{ source Source }

func (r revocations) Revoked(jti, spiffeID, serial string) (string, bool) {
	return r.source.Revoked(jti, spiffeID, serial)
}
func (r revocations) Loaded() <-chan struct{} { return r.source.RevocationsLoaded() }

// claimedTrustDomain is the trust domain of the token's sub, read before it is verified (ours when
// it cannot be read: the verifier then says what is wrong with the token).
func claimedTrustDomain(token string, ours spiffeid.TrustDomain) spiffeid.TrustDomain {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ours
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ours
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ours
	}
	id, err := spiffeid.FromString(claims.Sub)
	if err != nil {
		return ours
	}
	return id.TrustDomain()
}

// jwtKeys is the JWT bundle of trust domain td as the caller sees it (jwtBundles), as a key source.
func jwtKeys(st *cache.State, svids []*cache.SVID, td spiffeid.TrustDomain) (jwks.Static, bool) {
	b, ok := jwtBundles(st, svids).Get(td)
	if !ok {
		return nil, false
	}
	keys := jwks.Static{}
	for kid, k := range b.JWTAuthorities() {
		keys[kid] = jose.JSONWebKey{Key: k, KeyID: kid}
	}
	return keys, true
}

// verifiedClaims are the payload of a token the verifier accepted (so one JSON object, no member twice).
func verifiedClaims(token string) (*structpb.Struct, error) {
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	return structpb.NewStruct(claims)
}

func jwtBundle(st *cache.State) *jwtbundle.Bundle {
	keys := map[string]crypto.PublicKey{}
	for kid, k := range st.JWTKeys {
		keys[kid] = k
	}
	return jwtbundle.FromJWTAuthorities(st.TrustDomain, keys)
}

// jwtBundles are our JWT keys and those of the federated trust domains svids federate with.
func jwtBundles(st *cache.State, svids []*cache.SVID) *jwtbundle.Set {
	set := jwtbundle.NewSet(jwtBundle(st))
	for td, b := range st.FederatedFor(svids) {
		set.Add(jwtbundle.FromJWTAuthorities(td, b.JWTKeys))
	}
	return set
}

// federatedX509 are the X.509 roots of the federated trust domains svids federate with, by trust
// domain SPIFFE ID ("spiffe://b.test"), as the Workload API's federated_bundles carries them.
func federatedX509(st *cache.State, svids []*cache.SVID) map[string][]byte {
	out := map[string][]byte{}
	for td, b := range st.FederatedFor(svids) {
		out[td.IDString()] = concat(b.Roots)
	}
	return out
}

func concat(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, c.Raw...)
	}
	return out
}

func sameX509(a, b *workload.X509SVIDResponse) bool {
	return slices.EqualFunc(a.GetSvids(), b.GetSvids(), func(x, y *workload.X509SVID) bool {
		return x.GetSpiffeId() == y.GetSpiffeId() && slices.Equal(x.GetX509Svid(), y.GetX509Svid()) &&
			slices.Equal(x.GetBundle(), y.GetBundle())
	}) && maps.EqualFunc(a.GetFederatedBundles(), b.GetFederatedBundles(), slices.Equal)
}
