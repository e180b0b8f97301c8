package dev.lanyard.client.credentials;

import dev.lanyard.client.revocation.RevocationSet;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The revocations a workload's peer trust managers refuse at the handshake once it opts in
 * ({@link WorkloadCredentials#refuseRevoked}), none before. One holder is shared by every peer trust
 * manager the credentials hand out, so those made before the opt-in follow it too.
 */
final class PeerRevocations {

    private final AtomicReference<RevocationSet> followed = new AtomicReference<>();

    void follow(RevocationSet revocations) {
        followed.set(Objects.requireNonNull(revocations, "revocations"));
    }

    /**
     * Refuses the peer whose verified chain starts with {@code leaf} when its SPIFFE ID or its certificate
     * is revoked, and every peer until the revocations are loaded: a revoked one could not be told apart.
     * A certificate revoked by a federated trust domain's Lanyard refuses only that trust domain's peers.
     */
    void refuseIfRevoked(X509Certificate leaf) throws CertificateException {
        RevocationSet revocations = followed.get();
        if (revocations == null) {
            return;
        }
        String id;
        try {
            id = IssuedSvidCheck.spiffeId(leaf);
        } catch (CredentialException e) {
            throw new CertificateException("the peer is refused: revocations name SPIFFE IDs and " + e.getMessage());
        }
        if (!loaded(revocations)) {
            throw new CertificateException("the peer " + id + " is refused: revocations are not loaded yet (the"
                    + " revocation stream has not caught up since start); retry shortly");
        }
        if (revocations.isRevokedIdentity(id)) {
            throw new CertificateException("the peer " + id + " is refused: identity " + id + " is revoked");
        }
        String serial = leaf.getSerialNumber().toString(16);
        if (revocations.isRevokedSerial(serial, id)) {
            throw new CertificateException("the peer " + id + " is refused: certificate " + serial + " is revoked");
        }
    }

    /** Never waits: a handshake thread is not the place, and the peer may retry. */
    private static boolean loaded(RevocationSet revocations) {
        try {
            return revocations.awaitLoaded(Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
