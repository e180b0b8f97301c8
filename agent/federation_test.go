package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/protobuf/types/known/durationpb"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// foreignRoot is a root of another trust domain, as its bundle would carry it.
func foreignRoot(t *testing.T, td spiffeid.TrustDomain) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse(td.IDString())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: td.Name() + " root"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, URIs: []*url.URL{u}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// A workload whose registration federates with a trust domain gets that domain's bundle (as Lanyard
// serves it) in federated_bundles and in FetchX509Bundles; one whose registration does not, does not;
// when Lanyard stops federating, the bundle leaves the stream.
func TestFederatedBundlesReachOnlyTheWorkloadsThatFederate(t *testing.T) {
	t.Parallel()
	s := needServer(t)
	ctx := ctxFor(t, 2*time.Minute)
	td := spiffeid.RequireTrustDomainFromString("agentfed.test")
	root := foreignRoot(t, td)
	doc, err := spiffebundle.FromX509Authorities(td, []*x509.Certificate{root}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	federation := lanyardv1.NewFederationServiceClient(s.Admin())
	// https_spiffe with an initial bundle: served at once, and kept while its endpoint (nothing
	// listens there) cannot be reached.
	if _, err := federation.AddFederation(ctx, &lanyardv1.AddFederationRequest{TrustDomain: td.Name(),
		BundleEndpointUrl: "https://127.0.0.1:9/bundle", Profile: lanyardv1.BundleEndpointProfile_HTTPS_SPIFFE,
		EndpointSpiffeId: td.IDString() + "/lanyard/server", InitialBundle: string(doc)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		federation.RemoveFederation(ctxFor(t, time.Minute), &lanyardv1.RemoveFederationRequest{TrustDomain: td.Name()})
	})

	federating, plain := joinTokenAgent(t, s.GRPCAddr), joinTokenAgent(t, s.GRPCAddr)
	id, other := newID(s, "fed"), newID(s, "fed")
	admin := lanyardv1.NewAdminServiceClient(s.Admin())
	if _, err := admin.CreateRegistration(ctx, &lanyardv1.CreateRegistrationRequest{SpiffeId: id.String(),
		MaxTtl: durationpb.New(time.Hour), ParentId: federating.ID, Selectors: self(t),
		FederatesWith: []string{td.Name()}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterForAgent(ctx, other, plain.ID, self(t)...); err != nil {
		t.Fatal(err)
	}

	var got *workloadapi.X509Context
	waitFor(t, func() bool {
		got, err = workloadapi.FetchX509Context(ctx, federating.clientOption())
		if err != nil || len(got.SVIDs) != 1 {
			return false
		}
		b, ok := got.Bundles.Get(td)
		return ok && len(b.X509Authorities()) == 1 && b.X509Authorities()[0].Equal(root)
	})
	if got.SVIDs[0].ID != id {
		t.Fatalf("SVID %s", got.SVIDs[0].ID)
	}
	if _, ok := got.Bundles.Get(s.TrustDomain); !ok {
		t.Fatal("the own trust domain's bundle is missing")
	}
	bundles, err := workloadapi.FetchX509Bundles(ctx, federating.clientOption())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := bundles.Get(td); !ok {
		t.Fatal("FetchX509Bundles lacks the federated bundle")
	}

	var plainCtx *workloadapi.X509Context
	waitFor(t, func() bool {
		plainCtx, err = workloadapi.FetchX509Context(ctx, plain.clientOption())
		return err == nil && len(plainCtx.SVIDs) == 1
	})
	if _, ok := plainCtx.Bundles.Get(td); ok {
		t.Fatal("a workload whose registration does not federate got the federated bundle")
	}

	// Lanyard stops federating: the bundle leaves the federating workload's stream.
	if _, err := federation.RemoveFederation(ctx, &lanyardv1.RemoveFederationRequest{TrustDomain: td.Name()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		got, err = workloadapi.FetchX509Context(ctx, federating.clientOption())
		if err != nil {
			return false
		}
		_, ok := got.Bundles.Get(td)
		return !ok
	})
}
