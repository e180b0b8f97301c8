package dev.lanyard.jwks;

import com.nimbusds.jose.util.JSONObjectUtils;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The discovery document generic JWT libraries use to find the JWKS. */
public final class OpenIdConfiguration {

    private OpenIdConfiguration() {
    }

    public static String build(String issuer, String jwksUri, List<String> algorithms) {
        Map<String, Object> document = new LinkedHashMap<>();
        document.put("issuer", issuer);
        document.put("jwks_uri", jwksUri);
        document.put("id_token_signing_alg_values_supported", algorithms);
        document.put("response_types_supported", List.of("id_token"));
        document.put("subject_types_supported", List.of("public"));
        document.put("claims_supported", List.of("iss", "sub", "aud", "iat", "nbf", "exp", "jti", "scope", "cnf"));
        return JSONObjectUtils.toJSONString(document);
    }
}
