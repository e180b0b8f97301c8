package workload

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/lanyard-dev/lanyard/agent/internal/cache"
)

// SecretType is the type URL of every SDS resource.
const SecretType = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

// SDS serves Envoy's SecretDiscoveryService on the same socket: a SPIFFE ID (or "default", the
// caller's first identity) names a TLS certificate; "ROOTCA", "ALL" or the trust domain names the
// validation context. No names means every identity of the caller and ROOTCA.
type SDS struct {
	secretv3.UnimplementedSecretDiscoveryServiceServer
	api *Server
}

// NewSDS serves secrets from the same state and attestation as the Workload API.
func NewSDS(api *Server) *SDS { return &SDS{api: api} }

// FetchSecrets answers once.
func (s *SDS) FetchSecrets(ctx context.Context, req *discoveryv3.DiscoveryRequest) (*discoveryv3.DiscoveryResponse, error) {
	selectors, err := s.api.attest(ctx)
	if err != nil {
		return nil, err
	}
	if !s.api.loaded() {
		return nil, errNotLoaded
	}
	st := s.api.source.State()
	return s.response(st, selectors, req.GetResourceNames(), "")
}

// StreamSecrets sends the requested secrets, and again whenever they change; an ACK of the current
// version gets no answer.
func (s *SDS) StreamSecrets(stream grpc.BidiStreamingServer[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]) error {
	selectors, err := s.api.attest(stream.Context())
	if err != nil {
		return err
	}
	if !s.api.awaitLoaded(stream.Context()) {
		return nil
	}
	requests := make(chan *discoveryv3.DiscoveryRequest)
	failed := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if err != nil {
				failed <- err
				return
			}
			select {
			case requests <- req:
			case <-stream.Context().Done():
				return
			}
		}
	}()
	var names []string
	var sent *discoveryv3.DiscoveryResponse
	// changed is taken just before the state an answer is built from is read, so a change made
	// while that answer is built and sent wakes the loop (nil until the first answer).
	var changed <-chan struct{}
	nonce := 0
	for {
		select {
		case req := <-requests:
			if req.GetErrorDetail() != nil {
				s.api.log.Warn("Envoy rejected a secret", "error", req.GetErrorDetail().GetMessage())
			}
			if sent != nil && req.GetResponseNonce() == sent.GetNonce() && slices.Equal(names, req.GetResourceNames()) {
				continue // an ACK (or NACK) of what we sent: nothing new to say
			}
			names = slices.Clone(req.GetResourceNames())
		case <-changed:
		case err := <-failed:
			if status.Code(err) == codes.Canceled {
				return nil
			}
			return err
		case <-stream.Context().Done():
			return nil
		}
		nonce++
		changed = s.api.source.Changed()
		resp, err := s.response(s.api.source.State(), selectors, names, strconv.Itoa(nonce))
		if err != nil {
			return err
		}
		if sent != nil && sameResources(sent, resp) && slices.Equal(names, lastNames(sent)) {
			continue
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		sent = resp
	}
}

// response builds the secrets for names from the state.
func (s *SDS) response(st *cache.State, selectors, names []string, nonce string) (*discoveryv3.DiscoveryResponse, error) {
	svids := s.api.identities(st, selectors)
	if len(svids) == 0 {
		return nil, errNoIdentity
	}
	if len(names) == 0 {
		for _, svid := range svids {
			names = append(names, svid.ID.String())
		}
		names = append(names, "ROOTCA")
	}
	resp := &discoveryv3.DiscoveryResponse{VersionInfo: strconv.FormatUint(st.Version, 10), TypeUrl: SecretType,
		Nonce: nonce}
	for _, name := range names {
		var secret *tlsv3.Secret
		switch {
		case name == "ROOTCA" || name == "ALL" || name == st.TrustDomain.Name() || name == st.TrustDomain.IDString():
			secret = &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
				TrustedCa: inline(pemCerts(st.Roots))}}}
		default:
			svid := svids[0]
			if name != "default" {
				i := slices.IndexFunc(svids, func(v *cache.SVID) bool { return v.ID.String() == name })
				if i < 0 {
					continue // not this caller's: Envoy keeps waiting, as for a name it will get later
				}
				svid = svids[i]
			}
			secret = &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
				CertificateChain: inline(pemCerts(svid.Chain)),
				PrivateKey:       inline(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: svid.KeyPKCS8})),
			}}}
		}
		packed, err := anypb.New(secret)
		if err != nil {
			return nil, status.Error(codes.Internal, "a secret cannot be encoded")
		}
		resp.Resources = append(resp.Resources, packed)
	}
	return resp, nil
}

func inline(b []byte) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: b}}
}

func pemCerts(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func sameResources(a, b *discoveryv3.DiscoveryResponse) bool {
	return slices.EqualFunc(a.GetResources(), b.GetResources(), func(x, y *anypb.Any) bool { return proto.Equal(x, y) })
}

// lastNames are the names of a response's secrets.
func lastNames(r *discoveryv3.DiscoveryResponse) []string {
	var names []string
	for _, res := range r.GetResources() {
		var secret tlsv3.Secret
		if res.UnmarshalTo(&secret) == nil {
			names = append(names, secret.GetName())
		}
	}
	return names
}
