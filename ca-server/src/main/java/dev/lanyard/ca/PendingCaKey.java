package dev.lanyard.ca;

import java.time.Instant;
import java.util.Objects;

/**
 * The next intermediate's key, made in custody, waiting for the certificate an offline root signs
 * for its CSR.
 *
 * @param id           the key's subject key identifier in hex (the id its certificate will have)
 * @param custodyKeyId where custody holds the key
 */
public record PendingCaKey(String id, String custodyKeyId, String csrPem, Instant createdAt) {

    public PendingCaKey {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(custodyKeyId, "custodyKeyId");
        Objects.requireNonNull(csrPem, "csrPem");
        Objects.requireNonNull(createdAt, "createdAt");
    }
}
