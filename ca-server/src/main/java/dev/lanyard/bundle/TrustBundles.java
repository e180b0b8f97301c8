package dev.lanyard.bundle;

import dev.lanyard.server.TrustAuthorities;
import dev.lanyard.rpc.Protos;
import com.google.protobuf.ByteString;
import dev.lanyard.crypto.Sha256;
import dev.lanyard.federation.ForeignBundle;
import dev.lanyard.jwks.JwksDocument;
import dev.lanyard.jwks.SpiffeBundleDocument;
import dev.lanyard.token.SigningKey;
import dev.lanyard.v1.JwtAuthority;
import dev.lanyard.v1.TrustBundle;
import io.grpc.stub.ServerCallStreamObserver;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Supplier;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Everything Lanyard publishes for verifiers — X.509 roots and JWT keys — as one versioned
 * snapshot in the forms it is served in (gRPC message, SPIFFE bundle JSON, JWKS), rebuilt only
 * when the keys change, and pushed to every watcher on change. The sequence of our own bundle is
 * kept in the store ({@link BundleSequences}), so every replica serves the same one for the same keys;
 * it increases across restarts (it is at least the time of the change in milliseconds). The gRPC
 * message's sequence also moves when only a federated bundle changed.
 *
 * <p>Flow control: each stream only ever needs the newest snapshot, so a watcher that is not ready
 * (not reading) is sent nothing more; when it is ready again it gets the newest snapshot if it has
 * not had it. A watcher that never reads holds at most gRPC's small outbound buffer.
 */
public final class TrustBundles {

    /** One published state, preformatted so serving it costs nothing. */
    public record Snapshot(long sequence, TrustBundle proto, byte[] spiffeJson, byte[] jwksJson, String contentKey) {
    }

    private final String trustDomain;
    private final TrustAuthorities authorities;
    private final Supplier<List<SigningKey>> jwtKeys;
    private final Duration refreshHint;
    private volatile Supplier<List<ForeignBundle>> federated = List::of;
    /** What the bundle endpoint document was last built from, and its sequence (guarded by this). */
    private String ownContentKey = "";
    private long ownSequence = -1;
    private final BundleSequences sequences;
    private final Clock clock;
    private final AtomicReference<Snapshot> current = new AtomicReference<>();
    private final List<Watcher> watchers = new CopyOnWriteArrayList<>();

    /** One stream and the sequence of the last snapshot it was given; guarded by itself. */
    private static final class Watcher {
        final ServerCallStreamObserver<TrustBundle> stream;
        long sentSequence = -1;

        Watcher(ServerCallStreamObserver<TrustBundle> stream) {
            this.stream = stream;
        }
    }

    /** @param jwtKeys the published JWT keys of every algorithm in use */
    public TrustBundles(String trustDomain, TrustAuthorities authorities, Supplier<List<SigningKey>> jwtKeys,
            Duration refreshHint, BundleSequences sequences, Clock clock) {
        this.trustDomain = trustDomain;
        this.sequences = sequences;
        this.authorities = authorities;
        this.jwtKeys = jwtKeys;
        this.refreshHint = refreshHint;
        this.clock = clock;
        refresh();
    }

    /** The foreign bundles to serve as federated_bundles; set once at wiring. */
    public void federateWith(Supplier<List<ForeignBundle>> federated) {
        this.federated = federated;
        refresh();
    }

    public Snapshot current() {
        return current.get();
    }

    public Duration refreshHint() {
        return refreshHint;
    }

    /**
     * Rebuilds the snapshot if the keys changed (or another replica gave them a newer sequence) and
     * pushes it to watchers. Our own keys changed here: a new sequence is kept for them, unless another
     * replica kept one first. They did not: the kept sequence is taken up if it numbers them.
     */
    public synchronized void refresh() {
        List<X509Certificate> roots = authorities.roots();
        List<SigningKey> keys = jwtKeys.get();
        List<ForeignBundle> foreign = federated.get();
        String ownKey = ownKey(roots, keys);
        long own = !ownKey.equals(ownContentKey) ? sequences.sequenceFor(ownKey, clock.millis())
                : sequences.kept(ownKey).orElse(ownSequence);
        String contentKey = contentKey(roots, keys, foreign) + "#" + own;
        Snapshot old = current.get();
        if (old != null && old.contentKey().equals(contentKey)) {
            return;
        }
        long sequence = Math.max(old == null ? 0 : old.sequence() + 1, own);
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
        for (ForeignBundle bundle : foreign) {
            TrustBundle.Builder other = TrustBundle.newBuilder().setTrustDomain(bundle.trustDomain())
                    .setSequence(bundle.sequence()).setRefreshHint(Protos.duration(bundle.refreshHint()));
            bundle.x509Authorities().forEach(root -> other.addX509Authorities(Protos.der(root)));
            bundle.jwtAuthorities().forEach(key -> other.addJwtAuthorities(JwtAuthority.newBuilder()
                    .setKeyId(key.keyId()).setAlgorithm(key.algorithm())
                    .setPublicKey(ByteString.copyFrom(key.publicKey()))));
            proto.addFederatedBundles(other);
        }
        // The bundle endpoint document is ours alone: a change in a federated bundle leaves it (and its
        // spiffe_sequence) as it was, or two servers federating both ways would bump each other forever.
        byte[] spiffeJson = old != null && ownKey.equals(ownContentKey) && own == ownSequence ? old.spiffeJson()
                : SpiffeBundleDocument.build(roots, keys, own, refreshHint).getBytes(StandardCharsets.UTF_8);
        ownContentKey = ownKey;
        ownSequence = own;
        Snapshot next = new Snapshot(sequence, proto.build(), spiffeJson,
                JwksDocument.publicJwks(keys).getBytes(StandardCharsets.UTF_8), contentKey);
        current.set(next);
        for (Watcher watcher : watchers) {
            sendNewest(watcher);
        }
    }

    /**
     * Sends the current bundle now and every change later, until the watcher goes away. Called from
     * the service method itself (gRPC takes the ready handler only there).
     */
    public void watch(ServerCallStreamObserver<TrustBundle> stream) {
        Watcher watcher = new Watcher(stream);
        stream.setOnCancelHandler(() -> watchers.remove(watcher));
        stream.setOnReadyHandler(() -> sendNewest(watcher));
        watchers.add(watcher);
        sendNewest(watcher);
    }

    public int watcherCount() {
        return watchers.size();
    }

    public void closeWatchers() {
        for (Watcher watcher : watchers) {
            try {
                watcher.stream.onCompleted();
            } catch (RuntimeException e) {
                // already gone
            }
        }
        watchers.clear();
    }

    /** The newest snapshot, if this stream has not had it and can take it now. */
    private void sendNewest(Watcher watcher) {
        synchronized (watcher) {
            if (watcher.stream.isCancelled()) {
                watchers.remove(watcher);
                return;
            }
            Snapshot newest = current.get();
            if (newest.sequence() == watcher.sentSequence || !watcher.stream.isReady()) {
                return; // up to date, or not reading: the ready handler comes back for it
            }
            try {
                watcher.stream.onNext(newest.proto());
                watcher.sentSequence = newest.sequence();
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

    /** A digest of our own roots and keys, the same on every replica that holds the same ones. */
    private static String ownKey(List<X509Certificate> roots, List<SigningKey> keys) {
        return HexFormat.of().formatHex(Sha256.digest().digest(contentKey(roots, keys, List.of())
                .getBytes(StandardCharsets.UTF_8)));
    }

    private static String contentKey(List<X509Certificate> roots, List<SigningKey> keys, List<ForeignBundle> foreign) {
        StringBuilder key = new StringBuilder();
        // A digest of each document, not String.hashCode: a changed bundle with a colliding 32-bit hash
        // would be stored yet never served.
        foreign.forEach(f -> key.append(f.trustDomain()).append('@')
                .append(HexFormat.of().formatHex(Sha256.digest().digest(f.json().getBytes(StandardCharsets.UTF_8))))
                .append(','));
        roots.forEach(r -> key.append(r.getSerialNumber().toString(16)).append(','));
        keys.forEach(k -> key.append(k.kid()).append(':').append(k.status()).append(','));
        return key.toString();
    }
}
