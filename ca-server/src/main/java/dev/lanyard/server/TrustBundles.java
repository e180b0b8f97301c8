package dev.lanyard.server;

import com.google.protobuf.ByteString;
import dev.lanyard.jwks.JwksDocument;
import dev.lanyard.jwks.SpiffeBundleDocument;
import dev.lanyard.token.JwtSigningKeys;
import dev.lanyard.token.SigningKey;
import dev.lanyard.v1.JwtAuthority;
import dev.lanyard.v1.TrustBundle;
import io.grpc.stub.ServerCallStreamObserver;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Everything Lanyard publishes for verifiers — X.509 roots and JWT keys — as one versioned
 * snapshot in the forms it is served in (gRPC message, SPIFFE bundle JSON, JWKS), rebuilt only
 * when the keys change, and pushed to every watcher on change. The sequence increases across
 * restarts (it is at least the time of the change in milliseconds).
 */
public final class TrustBundles {

    /** One published state, preformatted so serving it costs nothing. */
    public record Snapshot(long sequence, TrustBundle proto, byte[] spiffeJson, byte[] jwksJson, String contentKey) {
    }

    private final String trustDomain;
    private final TrustAuthorities authorities;
    private final JwtSigningKeys jwtKeys;
    private final Duration refreshHint;
    private final Clock clock;
    private final AtomicReference<Snapshot> current = new AtomicReference<>();
    private final List<ServerCallStreamObserver<TrustBundle>> watchers = new CopyOnWriteArrayList<>();

    public TrustBundles(String trustDomain, TrustAuthorities authorities, JwtSigningKeys jwtKeys, Duration refreshHint,
            Clock clock) {
        this.trustDomain = trustDomain;
        this.authorities = authorities;
        this.jwtKeys = jwtKeys;
        this.refreshHint = refreshHint;
        this.clock = clock;
        refresh();
    }

    public Snapshot current() {
        return current.get();
    }

    public Duration refreshHint() {
        return refreshHint;
    }

    /** Rebuilds the snapshot if the keys changed and pushes it to watchers. */
    public synchronized void refresh() {
        List<X509Certificate> roots = authorities.roots();
        List<SigningKey> keys = jwtKeys.published();
        String contentKey = contentKey(roots, keys);
        Snapshot old = current.get();
        if (old != null && old.contentKey().equals(contentKey)) {
            return;
        }
        long sequence = Math.max(old == null ? 0 : old.sequence() + 1, clock.millis());
        TrustBundle.Builder proto = TrustBundle.newBuilder()
                .setTrustDomain(trustDomain)
                .setSequence(sequence)
                .setRefreshHint(Protos.duration(refreshHint));
        roots.forEach(root -> proto.addX509Authorities(Protos.der(root)));
        for (SigningKey key : keys) {
            proto.addJwtAuthorities(JwtAuthority.newBuilder()
                    .setKeyId(key.kid())
                    .setPublicKey(ByteString.copyFrom(publicKeyDer(key)))
                    .setAlgorithm(key.algorithm().jws().getName())
                    .setStatus(key.status().name())
                    .setCreatedAt(Protos.timestamp(key.createdAt())));
        }
        Snapshot next = new Snapshot(sequence, proto.build(),
                SpiffeBundleDocument.build(roots, keys, sequence, refreshHint).getBytes(StandardCharsets.UTF_8),
                JwksDocument.publicJwks(keys).getBytes(StandardCharsets.UTF_8), contentKey);
        current.set(next);
        for (ServerCallStreamObserver<TrustBundle> watcher : watchers) {
            send(watcher, next.proto());
        }
    }

    /** Sends the current bundle now and every change later, until the watcher goes away. */
    public void watch(ServerCallStreamObserver<TrustBundle> watcher) {
        watcher.setOnCancelHandler(() -> watchers.remove(watcher));
        watchers.add(watcher);
        send(watcher, current.get().proto());
    }

    public int watcherCount() {
        return watchers.size();
    }

    public void closeWatchers() {
        for (ServerCallStreamObserver<TrustBundle> watcher : watchers) {
            try {
                watcher.onCompleted();
            } catch (RuntimeException e) {
                // already gone
            }
        }
        watchers.clear();
    }

    private void send(ServerCallStreamObserver<TrustBundle> watcher, TrustBundle bundle) {
        synchronized (watcher) {
            if (watcher.isCancelled()) {
                watchers.remove(watcher);
                return;
            }
            try {
                watcher.onNext(bundle);
            } catch (RuntimeException e) {
                watchers.remove(watcher);
            }
        }
    }

    private static byte[] publicKeyDer(SigningKey key) {
        try {
            return switch (key.algorithm()) {
                case ES256, ES384 -> key.publicJwk().toECKey().toPublicKey().getEncoded();
                case RS256, PS256 -> key.publicJwk().toRSAKey().toPublicKey().getEncoded();
                case EdDSA -> ed25519Spki(key.publicJwk().toOctetKeyPair().getX().decode());
            };
        } catch (com.nimbusds.jose.JOSEException e) {
            throw new IllegalStateException("a published JWK has no usable public key", e);
        }
    }

    /** SubjectPublicKeyInfo for a raw Ed25519 key: a fixed 12-byte prefix and the 32 key bytes. */
    private static byte[] ed25519Spki(byte[] raw) {
        byte[] prefix = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
        byte[] spki = new byte[prefix.length + raw.length];
        System.arraycopy(prefix, 0, spki, 0, prefix.length);
        System.arraycopy(raw, 0, spki, prefix.length, raw.length);
        return spki;
    }

    private static String contentKey(List<X509Certificate> roots, List<SigningKey> keys) {
        StringBuilder key = new StringBuilder();
        roots.forEach(r -> key.append(r.getSerialNumber().toString(16)).append(','));
        keys.forEach(k -> key.append(k.kid()).append(':').append(k.status()).append(','));
        return key.toString();
    }
}
