package dev.lanyard.attest;

import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.v1.Attestation;

/**
 * One way of proving identity at bootstrap (step-ca's provisioners, SPIRE's node attestors).
 * Verification and redemption are separate so a request refused for another reason (a bad CSR)
 * leaves single-use evidence unused.
 */
public interface Attestor {

    /** The SPIFFE ID the evidence proves, without consuming it. */
    SpiffeId verify(Attestation attestation) throws AttestationException;

    /** Consumes single-use evidence, atomically; a second redemption fails. */
    void redeem(Attestation attestation) throws AttestationException;
}
