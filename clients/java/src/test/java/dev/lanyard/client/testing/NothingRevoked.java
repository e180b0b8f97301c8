package dev.lanyard.client.testing;

import dev.lanyard.client.revocation.RevocationSet;
import java.time.Duration;

/** A revocation set that revokes nothing and is loaded when the test says: for the not-yet-loaded paths. */
public final class NothingRevoked implements RevocationSet {

    /** Answers {@link RevocationSet#awaitLoaded}. */
    @FunctionalInterface
    public interface Loading {
        boolean awaitLoaded(Duration wait) throws InterruptedException;
    }

    private final Loading loading;

    public NothingRevoked(Loading loading) {
        this.loading = loading;
    }

    @Override
    public boolean isRevokedJti(String jti) {
        return false;
    }

    @Override
    public boolean isRevokedIdentity(String spiffeId) {
        return false;
    }

    @Override
    public boolean isRevokedSerial(String serialHex) {
        return false;
    }

    @Override
    public boolean awaitLoaded(Duration wait) throws InterruptedException {
        return loading.awaitLoaded(wait);
    }
}
