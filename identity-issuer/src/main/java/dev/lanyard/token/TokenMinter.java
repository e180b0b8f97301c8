package dev.lanyard.token;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.Map;
import java.util.TreeSet;

/**
 * Mints JWT-SVID-compatible tokens: {@code iss}, {@code sub} (SPIFFE ID), {@code aud} (one audience,
 * as a string), {@code iat}, {@code nbf}, {@code exp}, {@code jti}, {@code scope} (sorted,
 * space-separated) and {@code cnf.x5t#S256}, the caller's certificate thumbprint (RFC 8705).
 */
public final class TokenMinter {

    public static final Duration DEFAULT_TTL = Duration.ofMinutes(5);

    private final JwtSigningKeys keys;
    private final String issuer;
    private final Clock clock;
    private final SecureRandom random;
    private final Duration maxTtl;
    /** The header of the key that signed last, kept encoded: Nimbus serialises a built header again for every token. */
    private volatile KeyHeader lastHeader;

    private record KeyHeader(String kid, com.nimbusds.jose.JWSAlgorithm algorithm, JWSHeader header) {
    }

    public TokenMinter(JwtSigningKeys keys, String issuer, Clock clock, SecureRandom random, Duration maxTtl) {
        this.keys = keys;
        this.issuer = issuer;
        this.clock = clock;
        this.random = random;
        this.maxTtl = maxTtl;
    }

    public Duration maxTtl() {
        return maxTtl;
    }

    /** The {@code iss} of every token this minter signs. */
    public String issuer() {
        return issuer;
    }

    public MintedToken mint(TokenRequest request) {
        return mint(request, keys.active(), maxTtl, true);
    }

    /**
     * A token for an external audience (no contract): signed by {@code signer} (the algorithm the
     * audience was declared with), at most {@code audienceMaxTtl} long, without a {@code scope} claim.
     */
    public MintedToken mintExternal(TokenRequest request, JwtSigningKeys.ActiveSigner signer, Duration audienceMaxTtl) {
        Duration bound = audienceMaxTtl.compareTo(maxTtl) < 0 ? audienceMaxTtl : maxTtl;
        return mint(request, signer, bound, false);
    }

    private MintedToken mint(TokenRequest request, JwtSigningKeys.ActiveSigner signer, Duration maxTtl,
            boolean scoped) {
        Duration ttl = request.ttl().orElse(DEFAULT_TTL.compareTo(maxTtl) < 0 ? DEFAULT_TTL : maxTtl);
        if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(maxTtl) > 0) {
            throw new IllegalArgumentException("token TTL must be positive and at most " + maxTtl);
        }
        Instant minted = clock.instant();
        Instant now = Instant.ofEpochSecond(minted.getEpochSecond());
        Instant exp = now.plus(ttl);
        if (exp.isAfter(request.callerCertificateNotAfter())) {
            // A token never outlives the certificate it is bound to.
            exp = request.callerCertificateNotAfter();
        }
        if (!exp.isAfter(now)) {
            throw new IllegalArgumentException("the caller's certificate has expired");
        }
        String jti = TokenIds.next(minted, random);
        JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder()
                .issuer(issuer)
                .subject(request.subject().toString())
                .audience(request.audience())
                .issueTime(Date.from(now))
                .notBeforeTime(Date.from(now))
                .expirationTime(Date.from(exp))
                .jwtID(jti)
                .claim("cnf", Map.of("x5t#S256", request.certificateThumbprint()));
        if (scoped) {
            claims.claim("scope", String.join(" ", new TreeSet<>(request.scopes())));
        }
        SignedJWT jwt = new SignedJWT(header(signer), claims.build());
        try {
            jwt.sign(signer.signer());
        } catch (JOSEException e) {
            throw new IllegalStateException("token signing failed", e);
        }
        return new MintedToken(jwt.serialize(), jti, exp, signer.kid());
    }

    /** {@code alg}, {@code kid} and {@code typ} of {@code signer}'s tokens, parsed from their encoding so it is reused. */
    private JWSHeader header(JwtSigningKeys.ActiveSigner signer) {
        KeyHeader last = lastHeader;
        if (last == null || !last.kid().equals(signer.kid()) || !last.algorithm().equals(signer.algorithm().jws())) {
            JWSHeader built = new JWSHeader.Builder(signer.algorithm().jws()).keyID(signer.kid())
                    .type(JOSEObjectType.JWT).build();
            try {
                last = new KeyHeader(signer.kid(), signer.algorithm().jws(), JWSHeader.parse(built.toBase64URL()));
            } catch (java.text.ParseException e) {
                throw new IllegalStateException("a JWS header we built cannot be parsed", e);
            }
            lastHeader = last;
        }
        return last.header();
    }
}
