package dev.lanyard.ca;

import java.security.PublicKey;
import java.util.List;
import java.util.Optional;

/**
 * A CSR whose signature proved possession of its key. Only the key is used for issuance; the
 * requested names are compared with what the registration allows.
 *
 * @param keyDescription e.g. "ECDSA P-256", "RSA 2048", "Ed25519"
 */
public record ValidatedCsr(PublicKey publicKey, String keyDescription, List<String> requestedUris,
        List<String> requestedDnsNames, Optional<String> commonName) {

    public ValidatedCsr {
        requestedUris = List.copyOf(requestedUris);
        requestedDnsNames = List.copyOf(requestedDnsNames);
    }
}
