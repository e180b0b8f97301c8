package dev.lanyard.federation;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.util.Base64;
import com.nimbusds.jose.util.JSONObjectUtils;
import java.io.ByteArrayInputStream;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.text.ParseException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A foreign trust domain's bundle as its bundle endpoint serves it (SPIFFE Trust Domain and Bundle,
 * section 4: a JWK set with {@code x509-svid} and {@code jwt-svid} keys, {@code spiffe_sequence},
 * {@code spiffe_refresh_hint}), parsed once; {@code json} is kept as fetched.
 */
public record ForeignBundle(String trustDomain, List<X509Certificate> x509Authorities, List<JwtKey> jwtAuthorities,
        long sequence, Duration refreshHint, String json) {

    /** One JWT authority: its kid, algorithm (may be empty) and DER public key. */
    public record JwtKey(String keyId, String algorithm, byte[] publicKey) {
    }

    /** The refresh hint when the document names none (the spec leaves it to the consumer). */
    public static final Duration DEFAULT_REFRESH_HINT = Duration.ofMinutes(5);

    public ForeignBundle {
        x509Authorities = List.copyOf(x509Authorities);
        jwtAuthorities = List.copyOf(jwtAuthorities);
    }

    /**
     * Parses a SPIFFE bundle document.
     *
     * @throws IllegalArgumentException saying what is wrong: not JSON, no X.509 authority, a bad key
     */
    public static ForeignBundle parse(String trustDomain, String json) {
        try {
            Map<String, Object> document = JSONObjectUtils.parse(json);
            Long sequence = document.containsKey("spiffe_sequence") ? JSONObjectUtils.getLong(document, "spiffe_sequence")
                    : 0L;
            Long hint = document.containsKey("spiffe_refresh_hint")
                    ? JSONObjectUtils.getLong(document, "spiffe_refresh_hint") : null;
            List<X509Certificate> roots = new ArrayList<>();
            List<JwtKey> jwtKeys = new ArrayList<>();
            CertificateFactory x509 = CertificateFactory.getInstance("X.509");
            for (JWK key : JWKSet.parse(document).getKeys()) {
                String use = key.getKeyUse() == null ? "" : key.getKeyUse().getValue();
                if (use.equals("x509-svid")) {
                    List<Base64> chain = key.getX509CertChain();
                    if (chain == null || chain.size() != 1) {
                        throw new IllegalArgumentException("an x509-svid key must carry exactly one x5c certificate");
                    }
                    roots.add((X509Certificate) x509.generateCertificate(new ByteArrayInputStream(chain.get(0).decode())));
                } else if (use.equals("jwt-svid")) {
                    if (key.getKeyID() == null || key.getKeyID().isEmpty()) {
                        throw new IllegalArgumentException("a jwt-svid key has no kid");
                    }
                    jwtKeys.add(new JwtKey(key.getKeyID(), key.getAlgorithm() == null ? "" : key.getAlgorithm().getName(),
                            switch (key.getKeyType().getValue()) {
                                case "EC" -> key.toECKey().toPublicKey().getEncoded();
                                case "RSA" -> key.toRSAKey().toPublicKey().getEncoded();
                                default -> throw new IllegalArgumentException("unsupported jwt-svid key type "
                                        + key.getKeyType());
                            }));
                }
                // keys of another use are ignored, as the spec asks
            }
            if (roots.isEmpty()) {
                throw new IllegalArgumentException("the bundle has no x509-svid authority");
            }
            Duration refreshHint = hint == null || hint <= 0 ? DEFAULT_REFRESH_HINT : Duration.ofSeconds(hint);
            return new ForeignBundle(trustDomain, roots, jwtKeys, sequence == null ? 0 : sequence, refreshHint, json);
        } catch (ParseException | CertificateException | JOSEException e) {
            throw new IllegalArgumentException("not a SPIFFE bundle: " + e.getMessage(), e);
        }
    }
}
