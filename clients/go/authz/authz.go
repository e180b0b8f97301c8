// Package authz enforces the contracts declared in .proto files on a gRPC server: each method's
// required scopes come from its (lanyard.v1.required_scopes) option, read through protoreflect
// from the registered service descriptors, and every call must carry a token
// (`authorization: Bearer <jwt>`) that verifies, is bound to the caller's mTLS certificate, and
// holds those scopes. A bad or missing token is UNAUTHENTICATED; a missing scope or a revocation
// is PERMISSION_DENIED; both with the reason. While the verifier's revocations are not loaded yet
// (just after start) every call is UNAVAILABLE, which the caller may retry.
package authz

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
	"github.com/lanyard-dev/lanyard/clients/go/verify"
)

// Verifier is what the interceptors need of a token verifier; *verify.Verifier is one.
type Verifier interface {
	Audience() string
	Verify(ctx context.Context, token string, peer *x509.Certificate, required []string) (*verify.Token, error)
}

// Enforcer holds the required scopes of every method of the services it guards.
type Enforcer struct {
	verifier Verifier
	scopes   map[string][]string // full method name "/pkg.Service/Method" → required scopes
}

// New guards the named services (full names, e.g. "examples.payments.v1.PaymentsService"), whose
// descriptors must be registered (importing their generated package does that). It refuses, at
// construction, a service that is not registered or whose audience option is not the verifier's.
func New(v Verifier, services ...string) (*Enforcer, error) {
	if len(services) == 0 {
		return nil, errors.New("authz: name at least one service to guard")
	}
	e := &Enforcer{verifier: v, scopes: map[string][]string{}}
	for _, name := range services {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return nil, fmt.Errorf("authz: service %s is not registered (import its generated package): %w", name, err)
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return nil, fmt.Errorf("authz: %s is not a service", name)
		}
		audience, _ := proto.GetExtension(sd.Options(), lanyardv1.E_Audience).(string)
		if audience != v.Audience() {
			return nil, fmt.Errorf("authz: service %s declares audience %q, but the verifier expects %q", name, audience, v.Audience())
		}
		for i := 0; i < sd.Methods().Len(); i++ {
			m := sd.Methods().Get(i)
			required, _ := proto.GetExtension(m.Options(), lanyardv1.E_RequiredScopes).([]string)
			e.scopes[fmt.Sprintf("/%s/%s", sd.FullName(), m.Name())] = required
		}
	}
	return e, nil
}

// RequiredScopes are the scopes a method requires, and whether the method is guarded at all.
func (e *Enforcer) RequiredScopes(fullMethod string) ([]string, bool) {
	s, ok := e.scopes[fullMethod]
	return s, ok
}

type tokenKey struct{}

// TokenFrom returns the verified token of the call, put there by the interceptors.
func TokenFrom(ctx context.Context) (*verify.Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(*verify.Token)
	return t, ok
}

// Authorize checks the call's token for fullMethod and returns a context holding it, or a
// status error. Methods of services this Enforcer does not guard are refused: nothing passes by
// being forgotten.
func (e *Enforcer) Authorize(ctx context.Context, fullMethod string) (context.Context, error) {
	required, ok := e.scopes[fullMethod]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "%s is not covered by any guarded contract", fullMethod)
	}
	if len(required) == 0 {
		return nil, status.Errorf(codes.PermissionDenied, "%s declares no required scopes, so no token may call it", fullMethod)
	}
	token, err := bearer(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	cert, err := peerCertificate(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	t, err := e.verifier.Verify(ctx, token, cert, required)
	if err != nil {
		var ve *verify.Error
		if errors.As(err, &ve) && ve.Class == verify.RevocationsNotLoaded {
			return nil, status.Error(codes.Unavailable, ve.Error())
		}
		if errors.As(err, &ve) && !ve.Class.Unauthenticated() {
			return nil, status.Error(codes.PermissionDenied, ve.Error())
		}
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	return context.WithValue(ctx, tokenKey{}, t), nil
}

// UnaryServerInterceptor enforces the contracts on unary calls.
func (e *Enforcer) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := e.Authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor enforces the contracts on streaming calls, before the handler runs.
func (e *Enforcer) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := e.Authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

func bearer(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	switch len(values) {
	case 0:
		return "", errors.New("no token: send `authorization: Bearer <token>`")
	case 1:
	default:
		return "", errors.New("more than one authorization header")
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", errors.New("the authorization header is not `Bearer <token>`")
	}
	return strings.TrimSpace(token), nil
}

func peerCertificate(ctx context.Context) (*x509.Certificate, error) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return nil, errors.New("the call did not come over mTLS")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return nil, errors.New("the caller presented no client certificate")
	}
	return info.State.PeerCertificates[0], nil
}
