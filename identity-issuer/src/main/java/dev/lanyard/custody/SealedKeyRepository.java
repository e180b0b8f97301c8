package dev.lanyard.custody;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** Where software custody keeps its sealed keys (the database, shared by every replica). */
public interface SealedKeyRepository {

    /**
     * One sealed key. Algorithm and public key are empty only for keys that came from the tables
     * of earlier versions (the migration could not compute them in SQL); custody works them out.
     *
     * @param publicKeyDer base64 of the SubjectPublicKeyInfo DER
     */
    record SealedKey(String id, Optional<KeyAlgorithm> algorithm, Optional<String> publicKeyDer, String sealed,
            Instant createdAt) {

        public SealedKey {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(algorithm, "algorithm");
            Objects.requireNonNull(publicKeyDer, "publicKeyDer");
            Objects.requireNonNull(sealed, "sealed");
            Objects.requireNonNull(createdAt, "createdAt");
        }

        @Override
        public String toString() {
            return "SealedKey[" + id + ", " + algorithm.map(Enum::name).orElse("?") + ", sealed value hidden]";
        }
    }

    /** @return false, storing nothing, if the id is taken */
    boolean insert(SealedKey key);

    Optional<SealedKey> find(String id);

    /** Every key, oldest first. */
    List<SealedKey> all();

    boolean delete(String id);

    /** Replaces the sealed value only if it is still {@code expected} (a compare-and-set for KEK rotation). */
    boolean replaceSealed(String id, String expected, String replacement);
}
