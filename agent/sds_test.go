package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

const secretType = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

// An SDS client from go-control-plane (what Envoy speaks) gets the TLS certificate and the
// validation context on the agent's socket, and the renewed certificate pushed at half-life.
func TestEnvoySDSGetsTheSecretAndItsRenewal(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	ctx := ctxFor(t, 2*time.Minute)
	cfg := filepath.Join(openDir(t), "agent.json")
	// 20 s SVIDs renew within about 10 s; the agent looks every second.
	os.WriteFile(cfg, []byte(`{"workload_svid_ttl": "20s", "sync_interval": "1s"}`), 0o644)
	token, err := s.AgentJoinToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	agent := startAgent(t, s.GRPCAddr, []string{"LANYARD_JOIN_TOKEN=" + token}, "--config", cfg)
	id := newID(s, "sds")
	if err := s.RegisterForAgent(ctx, id, agent.ID, self(t)...); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(agent.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sds := secretv3.NewSecretDiscoveryServiceClient(conn)
	waitFor(t, func() bool {
		_, err := sds.FetchSecrets(ctx, &discoveryv3.DiscoveryRequest{ResourceNames: []string{"default"}, TypeUrl: secretType})
		return err == nil
	})

	stream, err := sds.StreamSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "envoy-test", Cluster: "test"}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: secretType,
		ResourceNames: []string{id.String(), "ROOTCA"}}); err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	leaf, roots := secrets(t, first)
	if got, _ := x509svid.IDFromCert(leaf); got != id || len(roots) == 0 {
		t.Fatalf("the TLS certificate is for %v (roots %d)", got, len(roots))
	}
	// ACK, then wait for the renewal to be pushed.
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: secretType, VersionInfo: first.GetVersionInfo(),
		ResponseNonce: first.GetNonce(), ResourceNames: []string{id.String(), "ROOTCA"}}); err != nil {
		t.Fatal(err)
	}
	next, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	renewed, _ := secrets(t, next)
	if renewed.SerialNumber.Cmp(leaf.SerialNumber) == 0 || next.GetVersionInfo() == first.GetVersionInfo() {
		t.Fatalf("the push did not carry a renewed certificate (serial %s, version %s)", renewed.SerialNumber.Text(16), next.GetVersionInfo())
	}
	if renewed.NotAfter.Sub(renewed.NotBefore) > 30*time.Second {
		t.Fatalf("the workload SVID lives %v, not the 20 s configured", renewed.NotAfter.Sub(renewed.NotBefore))
	}
}

// secrets returns the TLS certificate's leaf and the validation context's roots of a response.
func secrets(t *testing.T, resp *discoveryv3.DiscoveryResponse) (*x509.Certificate, []*x509.Certificate) {
	t.Helper()
	var leaf *x509.Certificate
	var roots []*x509.Certificate
	for _, res := range resp.GetResources() {
		var secret tlsv3.Secret
		if err := res.UnmarshalTo(&secret); err != nil {
			t.Fatal(err)
		}
		if c := secret.GetTlsCertificate(); c != nil {
			if len(c.GetPrivateKey().GetInlineBytes()) == 0 {
				t.Fatal("the TLS certificate secret has no private key")
			}
			leaf = parsePEM(t, c.GetCertificateChain().GetInlineBytes())[0]
		}
		if v := secret.GetValidationContext(); v != nil {
			roots = parsePEM(t, v.GetTrustedCa().GetInlineBytes())
		}
	}
	if leaf == nil {
		t.Fatalf("no TLS certificate in %v", resp)
	}
	return leaf, roots
}

func parsePEM(t *testing.T, data []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
}
