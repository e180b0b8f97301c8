package dev.lanyard.jwks;

import com.nimbusds.jose.util.JSONObjectUtils;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The OpenID Connect discovery document relying parties (AWS STS, GCP, Vault, go-oidc) read to find
 * the JWKS. Every field OpenID Connect Discovery 1.0 section 3 makes REQUIRED is there; Lanyard has
 * no browser flow, so {@code authorization_endpoint} (required) names a path that answers 404, and
 * {@code token_endpoint} is left out as the spec allows when only {@code id_token} (implicit) is listed.
 */
public final class OpenIdConfiguration {

    private OpenIdConfiguration() {
    }

    public static String build(String issuer, String jwksUri, List<String> algorithms) {
        Map<String, Object> document = new LinkedHashMap<>();
        document.put("issuer", issuer);
        document.put("authorization_endpoint", issuer + "/connect/authorize");
        document.put("jwks_uri", jwksUri);
        document.put("id_token_signing_alg_values_supported", algorithms);
        document.put("response_types_supported", List.of("id_token"));
        document.put("subject_types_supported", List.of("public"));
        document.put("claims_supported", List.of("iss", "sub", "aud", "iat", "nbf", "exp", "jti", "scope", "cnf"));
        return JSONObjectUtils.toJSONString(document);
    }
}
