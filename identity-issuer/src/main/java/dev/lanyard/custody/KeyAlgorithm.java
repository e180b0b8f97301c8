package dev.lanyard.custody;

import java.security.spec.AlgorithmParameterSpec;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.util.Optional;

/**
 * What a custody key is and how it signs: the key type and size, and the one signature scheme it is
 * used with. Names follow JWS (RFC 7518) so a JWT key's algorithm is its custody algorithm.
 */
public enum KeyAlgorithm {
    ES256("EC", "secp256r1", 256, "SHA256withECDSA"),
    ES384("EC", "secp384r1", 384, "SHA384withECDSA"),
    RS256("RSA", null, 3072, "SHA256withRSA"),
    PS256("RSA", null, 3072, "RSASSA-PSS"),
    EdDSA("Ed25519", null, 255, "Ed25519");

    private final String keyType;
    private final String curve;
    private final int bits;
    private final String jcaSignature;

    KeyAlgorithm(String keyType, String curve, int bits, String jcaSignature) {
        this.keyType = keyType;
        this.curve = curve;
        this.bits = bits;
        this.jcaSignature = jcaSignature;
    }

    /** The JCA key algorithm: EC, RSA or Ed25519. */
    public String keyType() {
        return keyType;
    }

    /** The named curve of an EC key (JCA name). */
    public Optional<String> curve() {
        return Optional.ofNullable(curve);
    }

    /** Key size in bits (the curve's for EC). */
    public int bits() {
        return bits;
    }

    /** The JCA signature algorithm this key signs with. */
    public String jcaSignature() {
        return jcaSignature;
    }

    /** Parameters the JCA signature needs (PSS only: SHA-256, MGF1-SHA-256, 32-byte salt, as RFC 7518 says). */
    public Optional<AlgorithmParameterSpec> signatureParameters() {
        return this == PS256
                ? Optional.of(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1))
                : Optional.empty();
    }
}
