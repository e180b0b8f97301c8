package dev.lanyard.client.testing;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.lanyard.client.token.Thumbprint;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Signs tokens the way Lanyard mints them (claims, header, cnf binding), with keys of every
 * supported algorithm, so verifier tests can vary one thing at a time.
 */
public final class TestTokens {

    public static final String ISSUER = "https://lanyard.test:8080";
    public static final String AUDIENCE = "spiffe://lanyard.local/ns/shop/sa/inventory";
    public static final String SUBJECT = "spiffe://lanyard.local/ns/shop/sa/frontend";

    public final ECKey es256;
    public final ECKey es384;
    public final RSAKey rsa;
    public final OctetKeyPair ed25519;
    private final PrivateKey ed25519Private;

    public TestTokens() {
        try {
            es256 = new ECKeyGenerator(Curve.P_256).keyID("es256-key").generate();
            es384 = new ECKeyGenerator(Curve.P_384).keyID("es384-key").generate();
            rsa = new RSAKeyGenerator(2048).keyID("rsa-key").generate();
            KeyPair ed = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
            byte[] spki = ed.getPublic().getEncoded();
            byte[] x = Arrays.copyOfRange(spki, spki.length - 32, spki.length);
            ed25519 = new OctetKeyPair.Builder(Curve.Ed25519, Base64URL.encode(x)).keyID("ed25519-key").build();
            ed25519Private = ed.getPrivate();
        } catch (JOSEException | GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The public halves of every key, as Lanyard publishes them. */
    public JWKSet publicJwks() {
        return new JWKSet(List.<JWK>of(es256.toPublicJWK(), es384.toPublicJWK(), rsa.toPublicJWK(), ed25519));
    }

    /** Good claims for a call from {@code caller}'s certificate, issued at {@code now}, valid 5 minutes. */
    public static JWTClaimsSet.Builder claims(X509Certificate caller, Instant now) {
        return new JWTClaimsSet.Builder()
                .issuer(ISSUER)
                .subject(SUBJECT)
                .audience(List.of(AUDIENCE))
                .issueTime(Date.from(now))
                .notBeforeTime(Date.from(now))
                .expirationTime(Date.from(now.plus(Duration.ofMinutes(5))))
                .jwtID(UUID.randomUUID().toString())
                .claim("scope", "inventory.read inventory.write")
                .claim("cnf", Map.of("x5t#S256", Thumbprint.x5tS256(caller)));
    }

    public static JWSHeader.Builder header(JWSAlgorithm algorithm, String kid) {
        return new JWSHeader.Builder(algorithm).keyID(kid).type(JOSEObjectType.JWT);
    }

    /** ES256 with the default key. */
    public String es256(JWTClaimsSet claims) {
        return sign(header(JWSAlgorithm.ES256, es256.getKeyID()).build(), claims);
    }

    /** Signs with the key the header's algorithm needs (the header's kid is kept as given). */
    public String sign(JWSHeader header, JWTClaimsSet claims) {
        return sign(header, new Payload(claims.toJSONObject()));
    }

    /** Signs any payload, even one that is not a valid claims set. */
    public String sign(JWSHeader header, Payload payload) {
        try {
            JWSAlgorithm alg = header.getAlgorithm();
            if (JWSAlgorithm.EdDSA.equals(alg)) {
                return signEd25519(header, payload);
            }
            JWSSigner signer;
            if (JWSAlgorithm.ES256.equals(alg)) {
                signer = new ECDSASigner(es256);
            } else if (JWSAlgorithm.ES384.equals(alg)) {
                signer = new ECDSASigner(es384);
            } else {
                signer = new RSASSASigner(rsa);
            }
            JWSObject jwt = new JWSObject(header, payload);
            jwt.sign(signer);
            return jwt.serialize();
        } catch (JOSEException | GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    // Nimbus signs Ed25519 only with Tink on the class path; the JDK does it natively.
    private String signEd25519(JWSHeader header, Payload payload) throws GeneralSecurityException {
        String signingInput = header.toBase64URL() + "." + payload.toBase64URL();
        Signature signature = Signature.getInstance("Ed25519");
        signature.initSign(ed25519Private);
        signature.update(signingInput.getBytes(StandardCharsets.US_ASCII));
        return signingInput + "." + Base64URL.encode(signature.sign());
    }
}
