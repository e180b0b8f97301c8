package dev.lanyard.ca;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;

/** A root and the intermediate under it that signs workload certificates. */
public record IssuingCa(CaCertificate root, CaCertificate intermediate) {

    public IssuingCa {
        Objects.requireNonNull(root, "root");
        Objects.requireNonNull(intermediate, "intermediate");
        if (!intermediate.hasSigner()) {
            throw new IllegalArgumentException("the issuing intermediate needs a key in custody");
        }
    }

    /** What a leaf's chain up to, not including, the root is. */
    public List<X509Certificate> chain() {
        return List.of(intermediate.certificate());
    }
}
