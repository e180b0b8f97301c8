package dev.lanyard.jwks;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.util.Base64;
import dev.lanyard.token.SigningKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The SPIFFE trust bundle format (SPIFFE Trust Domain and Bundle spec): a JWK set whose X.509
 * authorities have {@code use: x509-svid} and an {@code x5c}, whose JWT authorities have
 * {@code use: jwt-svid} and a {@code kid}, plus {@code spiffe_sequence} and {@code spiffe_refresh_hint}.
 */
public final class SpiffeBundleDocument {

    private static final KeyUse X509_SVID = new KeyUse("x509-svid");
    private static final KeyUse JWT_SVID = new KeyUse("jwt-svid");

    private SpiffeBundleDocument() {
    }

    public static String build(List<X509Certificate> x509Authorities, List<SigningKey> jwtAuthorities, long sequence,
            Duration refreshHint) {
        List<Object> keys = new ArrayList<>();
        try {
            for (X509Certificate authority : x509Authorities) {
                JWK jwk = JWK.parse(authority);
                Map<String, Object> json = new LinkedHashMap<>(jwk.toPublicJWK().toJSONObject());
                json.remove("kid");
                json.remove("x5t#S256");
                json.remove("exp");
                json.remove("nbf");
                json.remove("iat");
                json.put("use", X509_SVID.identifier());
                json.put("x5c", List.of(Base64.encode(authority.getEncoded()).toString()));
                keys.add(json);
            }
        } catch (JOSEException | CertificateEncodingException e) {
            throw new IllegalStateException("cannot express a CA certificate as a JWK", e);
        }
        for (SigningKey key : jwtAuthorities) {
            Map<String, Object> json = new LinkedHashMap<>(key.publicJwk().toPublicJWK().toJSONObject());
            json.put("use", JWT_SVID.identifier());
            json.remove("alg");
            keys.add(json);
        }
        Map<String, Object> bundle = new LinkedHashMap<>();
        bundle.put("keys", keys);
        bundle.put("spiffe_sequence", sequence);
        bundle.put("spiffe_refresh_hint", refreshHint.toSeconds());
        return com.nimbusds.jose.util.JSONObjectUtils.toJSONString(bundle);
    }
}
