// Package nodeattest proves the agent's node to Lanyard once (AgentService.AttestAgent): a
// one-time join token, an x509pop node certificate whose key signs the server's challenge, or a
// Kubernetes projected service-account token.
package nodeattest

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// Evidence is what the agent presents, and for x509pop the key that answers the challenge.
type Evidence struct {
	attestation *lanyardv1.Attestation
	signer      crypto.Signer
}

// JoinToken is an agent join token (`lanyard join-token create --agent`). It is a secret.
func JoinToken(token string) (Evidence, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Evidence{}, errors.New("nodeattest: the join token is empty")
	}
	return Evidence{attestation: &lanyardv1.Attestation{Kind: &lanyardv1.Attestation_JoinToken{
		JoinToken: &lanyardv1.JoinTokenAttestation{Token: token}}}}, nil
}

// X509Pop reads the node's certificate chain and key (PEM files).
func X509Pop(certFile, keyFile string) (Evidence, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return Evidence{}, fmt.Errorf("nodeattest: the x509pop certificate and key: %w", err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return Evidence{}, errors.New("nodeattest: the x509pop key cannot sign")
	}
	return Evidence{signer: signer, attestation: &lanyardv1.Attestation{Kind: &lanyardv1.Attestation_X509Pop{
		X509Pop: &lanyardv1.X509PopAttestation{Chain: pair.Certificate}}}}, nil
}

// PSAT reads the projected service-account token for a cluster.
func PSAT(cluster, tokenFile string) (Evidence, error) {
	data, err := os.ReadFile(tokenFile)
	if err != nil {
		return Evidence{}, fmt.Errorf("nodeattest: the service-account token: %w", err)
	}
	return Evidence{attestation: &lanyardv1.Attestation{Kind: &lanyardv1.Attestation_K8SPsat{
		K8SPsat: &lanyardv1.PsatAttestation{Cluster: cluster, Token: strings.TrimSpace(string(data))}}}}, nil
}

// SingleUse says whether the evidence is spent once the server accepts it (a join token): a retry
// after an attempt whose outcome is unknown may then be refused as used.
func (e Evidence) SingleUse() bool { return e.attestation.GetJoinToken() != nil }

// SentError is a failure after the evidence was handed to the connection: the server may have
// received it, and a broken connection does not say whether it acted on it.
type SentError struct{ Err error }

func (e *SentError) Error() string { return e.Err.Error() }
func (e *SentError) Unwrap() error { return e.Err }

// Attest runs node attestation over conn with a CSR for the agent's key and returns the agent SVID.
// A failure once the evidence was sent is a *SentError.
func Attest(ctx context.Context, conn *grpc.ClientConn, ev Evidence, csr []byte) (*lanyardv1.CertificateResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := lanyardv1.NewAgentServiceClient(conn).AttestAgent(ctx)
	if err != nil {
		return nil, fmt.Errorf("nodeattest: %w", err)
	}
	if err := stream.Send(&lanyardv1.AttestAgentRequest{Step: &lanyardv1.AttestAgentRequest_Params{
		Params: &lanyardv1.AttestAgentParams{Attestation: ev.attestation, Csr: csr}}}); err != nil {
		return nil, &SentError{fmt.Errorf("nodeattest: sending the attestation: %w", err)}
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return nil, &SentError{fmt.Errorf("nodeattest: node attestation was refused or failed: %w", err)}
		}
		if svid := resp.GetSvid(); svid != nil {
			_ = stream.CloseSend()
			return svid, nil
		}
		if ev.signer == nil {
			return nil, errors.New("nodeattest: the server sent a challenge this kind of evidence cannot answer")
		}
		signature, err := sign(ev.signer, resp.GetChallenge())
		if err != nil {
			return nil, err
		}
		if err := stream.Send(&lanyardv1.AttestAgentRequest{Step: &lanyardv1.AttestAgentRequest_ChallengeResponse{
			ChallengeResponse: signature}}); err != nil {
			return nil, &SentError{fmt.Errorf("nodeattest: answering the challenge: %w", err)}
		}
	}
}

// sign answers an x509pop challenge: ECDSA or RSA PKCS#1 v1.5 over SHA-256, or Ed25519 over the bytes.
func sign(signer crypto.Signer, challenge []byte) ([]byte, error) {
	if _, ok := signer.Public().(ed25519.PublicKey); ok {
		return signer.Sign(rand.Reader, challenge, crypto.Hash(0))
	}
	digest := sha256.Sum256(challenge)
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("nodeattest: signing the challenge: %w", err)
	}
	return sig, nil
}
