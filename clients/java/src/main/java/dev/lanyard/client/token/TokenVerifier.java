package dev.lanyard.client.token;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jwt.EncryptedJWT;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import dev.lanyard.client.revocation.RevocationSet;
import dev.lanyard.client.token.TokenRejectedException.Reason;
import java.net.URI;
import java.net.http.HttpClient;
import java.security.Provider;
import java.security.cert.X509Certificate;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/**
 * Verifies Lanyard tokens (JWT-SVIDs bound to the caller's certificate). Built with everything it
 * expects — issuer, audience, key source, allowed algorithms, clock and skew — so it cannot be used
 * without saying what a good token is. Thread-safe.
 *
 * <p>The order of checks: the token's shape and {@code alg}, its key, its signature, and only then
 * its claims, so nothing an attacker wrote is trusted before the signature holds.
 */
public final class TokenVerifier {

    /** The largest skew {@link Builder#skew} accepts. */
    public static final Duration MAX_SKEW = Duration.ofMinutes(5);
    /** The skew when none is set. */
    public static final Duration DEFAULT_SKEW = Duration.ofSeconds(30);
    /** Longer strings are refused unparsed; a Lanyard token is well under 2 KiB. */
    static final int MAX_TOKEN_CHARS = 16 * 1024;

    private final String issuer;
    private final String audience;
    private final JwksSource jwks;
    private final Set<SignatureAlgorithm> algorithms;
    private final Clock clock;
    private final Duration skew;
    private final ClaimsCheck claimsCheck;
    private final RevocationSet revocations;
    private final Duration revocationWait;
    private final Provider provider;

    private TokenVerifier(Builder builder) {
        this.provider = builder.provider != null ? builder.provider : DefaultProvider.INSTANCE;
        this.revocations = builder.revocations;
        this.revocationWait = builder.revocationWait;
        this.issuer = builder.issuer;
        this.audience = builder.audience;
        this.jwks = builder.jwks;
        this.algorithms = Set.copyOf(builder.algorithms);
        this.clock = builder.clock;
        this.skew = builder.skew;
        this.claimsCheck = new ClaimsCheck(issuer, audience, skew);
    }

    /** One Bouncy Castle provider for every verifier that is not given another. */
    private static final class DefaultProvider {
        static final Provider INSTANCE = new BouncyCastleProvider();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The audience every accepted token names. */
    public String audience() {
        return audience;
    }

    /** The issuer every accepted token names. */
    public String issuer() {
        return issuer;
    }

    public Set<SignatureAlgorithm> allowedAlgorithms() {
        return algorithms;
    }

    public Duration skew() {
        return skew;
    }

    /**
     * Verifies {@code jwt} as presented over a TLS connection whose client certificate is
     * {@code peerCertificate}.
     *
     * @throws TokenRejectedException saying why the token is refused; its message never holds the token
     */
    public VerifiedToken verify(String jwt, X509Certificate peerCertificate) throws TokenRejectedException {
        String[] parts = shape(jwt);
        TokenShape.checkJson(parts[0], "header");
        SignedJWT signed = parse(jwt);
        JWSHeader header = signed.getHeader();
        SignatureAlgorithm algorithm = allowedAlgorithm(header.getAlgorithm());
        // Lanyard always writes typ JWT; anything else (absent, JOSE, at+jwt, jwt) is another kind of JWS.
        if (header.getType() == null || !"JWT".equals(header.getType().getType())) {
            throw new TokenRejectedException(Reason.MALFORMED, header.getType() == null ? "the header has no typ"
                    : "typ " + Printable.of(header.getType().getType()) + " is not JWT");
        }
        if (header.getCriticalParams() != null && !header.getCriticalParams().isEmpty()) {
            throw new TokenRejectedException(Reason.MALFORMED,
                    "the token marks header parameters critical " + Printable.of(header.getCriticalParams())
                            + "; this verifier understands none");
        }
        if (header.getIncludedParams().contains("zip")) {
            throw new TokenRejectedException(Reason.MALFORMED, "the header has zip; a JWS payload is never compressed");
        }
        String kid = header.getKeyID();
        if (kid == null || kid.isEmpty()) {
            throw new TokenRejectedException(Reason.MISSING_CLAIM, "the token header has no kid");
        }
        SignatureCheck.verify(signed, algorithm, key(kid), provider);
        TokenShape.checkJson(parts[1], "payload");
        Map<String, Object> json = signed.getPayload().toJSONObject();
        if (json == null) {
            throw new TokenRejectedException(Reason.MALFORMED, "the payload is not a JSON object");
        }
        ClaimsCheck.checkTimes(json);
        JWTClaimsSet claims;
        try {
            claims = JWTClaimsSet.parse(json);
        } catch (ParseException e) {
            // Nimbus names the registered claim whose type is wrong; it never quotes the value.
            throw new TokenRejectedException(Reason.MALFORMED, "the claims are not valid: " + Printable.of(e.getMessage()));
        }
        VerifiedToken token = claimsCheck.check(claims, kid, peerCertificate, clock.instant());
        refuseIfRevoked(token, peerCertificate);
        return token;
    }

    /** The token, its subject, or the certificate it is presented with may have been revoked since. */
    private void refuseIfRevoked(VerifiedToken token, X509Certificate peerCertificate) throws TokenRejectedException {
        if (!revocationsLoaded()) {
            throw new TokenRejectedException(Reason.REVOCATIONS_NOT_LOADED, "revocations are not loaded yet (the"
                    + " revocation stream has not caught up since this verifier started); retry shortly");
        }
        if (revocations.isRevokedIdentity(token.subject())) {
            throw new TokenRejectedException(Reason.REVOKED, Printable.of(token.subject()) + " is revoked");
        }
        if (revocations.isRevokedJti(token.tokenId(), token.subject())) {
            throw new TokenRejectedException(Reason.REVOKED, "token " + Printable.of(token.tokenId()) + " is revoked");
        }
        String serial = peerCertificate.getSerialNumber().toString(16);
        if (revocations.isRevokedSerial(serial, token.subject())) {
            throw new TokenRejectedException(Reason.REVOKED, "the caller's certificate " + serial + " is revoked");
        }
    }

    /** Waits at most the revocation wait for the revocations to be loaded once. */
    private boolean revocationsLoaded() {
        try {
            return revocations.awaitLoaded(revocationWait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static String[] shape(String token) throws TokenRejectedException {
        if (token == null || token.isEmpty()) {
            throw new TokenRejectedException(Reason.MALFORMED, "no token");
        }
        if (token.length() > MAX_TOKEN_CHARS) {
            throw new TokenRejectedException(Reason.MALFORMED,
                    "the token is " + token.length() + " characters long; at most " + MAX_TOKEN_CHARS + " are accepted");
        }
        return TokenShape.parts(token);
    }

    private static SignedJWT parse(String token) throws TokenRejectedException {
        JWT parsed;
        try {
            parsed = JWTParser.parse(token);
        } catch (ParseException e) {
            throw new TokenRejectedException(Reason.MALFORMED, "not a compact JWT (three base64url parts "
                    + "with a JSON header and payload)");
        }
        if (parsed instanceof PlainJWT) {
            throw new TokenRejectedException(Reason.ALGORITHM, "alg none is never accepted: the token is unsigned");
        }
        if (parsed instanceof EncryptedJWT) {
            throw new TokenRejectedException(Reason.MALFORMED, "encrypted tokens (JWE) are not accepted");
        }
        return (SignedJWT) parsed;
    }

    private SignatureAlgorithm allowedAlgorithm(JWSAlgorithm alg) throws TokenRejectedException {
        String name = alg.getName();
        if (JWSAlgorithm.Family.HMAC_SHA.contains(alg) || name.toUpperCase(Locale.ROOT).startsWith("HS")) {
            throw new TokenRejectedException(Reason.ALGORITHM,
                    "alg " + Printable.of(name) + " is never accepted: HMAC would use a public key as a shared secret");
        }
        for (SignatureAlgorithm allowed : algorithms) {
            if (allowed.joseName().equals(name)) {
                return allowed;
            }
        }
        throw new TokenRejectedException(Reason.ALGORITHM,
                "alg " + Printable.of(name) + " is not among the allowed " + algorithms);
    }

    private JWK key(String kid) throws TokenRejectedException {
        Optional<JWK> key;
        try {
            key = jwks.key(kid);
        } catch (JwksUnavailableException e) {
            throw new TokenRejectedException(Reason.UNKNOWN_KEY,
                    "cannot look up key " + Printable.of(kid) + ": " + e.getMessage(), e);
        }
        return key.orElseThrow(() -> new TokenRejectedException(Reason.UNKNOWN_KEY,
                "no published key has kid " + Printable.of(kid)));
    }

    /** Collects what a verifier expects; {@link #build()} refuses anything missing or unsafe. */
    public static final class Builder {

        private String issuer;
        private String audience;
        private JwksSource jwks;
        private Set<SignatureAlgorithm> algorithms = EnumSet.allOf(SignatureAlgorithm.class);
        private Clock clock;
        private Duration skew = DEFAULT_SKEW;
        private RevocationSet revocations = RevocationSet.NONE;
        private Duration revocationWait = Duration.ZERO;
        private Provider provider;

        private Builder() {
        }

        /**
         * The JCA provider that checks ECDSA and RSA signatures; Bouncy Castle by default, or e.g.
         * Amazon Corretto Crypto Provider where the service has it. Never the JDK's SunEC, which
         * is an order of magnitude slower.
         */
        public Builder provider(Provider provider) {
            this.provider = Objects.requireNonNull(provider, "provider");
            return this;
        }

        /**
         * Revoked identities, token ids and certificate serials to refuse, e.g. a
         * {@link dev.lanyard.client.revocation.RevocationWatcher}; none by default. Until the set is
         * loaded once every token is refused {@link Reason#REVOCATIONS_NOT_LOADED} (the interceptor
         * answers UNAVAILABLE).
         */
        public Builder revocations(RevocationSet revocations) {
            this.revocations = Objects.requireNonNull(revocations, "revocations");
            return this;
        }

        /**
         * How long a check waits for the revocations to be loaded, just after start, before refusing
         * (default: not at all). It blocks the calling thread.
         */
        public Builder revocationWait(Duration wait) {
            this.revocationWait = Objects.requireNonNull(wait, "wait");
            return this;
        }

        /** The {@code iss} every token must carry: the Lanyard server's issuer URL. Required. */
        public Builder issuer(String issuer) {
            this.issuer = issuer;
            return this;
        }

        /** The one {@code aud} every token must carry: this service's audience. Required. */
        public Builder audience(String audience) {
            this.audience = audience;
            return this;
        }

        /** Where keys come from. Required, unless {@link #jwksUri} is used. */
        public Builder jwks(JwksSource jwks) {
            this.jwks = jwks;
            return this;
        }

        /**
         * Fetch keys from {@code uri}, which must be https, with {@code http} (caching per
         * {@link HttpJwksSource}). Call after {@link #clock}: the source uses the same clock. For a
         * plain-HTTP dev server, pass {@link HttpJwksSource#allowingPlainHttp} to {@link #jwks}.
         */
        public Builder jwksUri(URI uri, HttpClient http) {
            if (clock == null) {
                throw new IllegalStateException("set the clock before jwksUri: the JWKS cache runs on it");
            }
            this.jwks = new HttpJwksSource(uri, http, clock);
            return this;
        }

        /** The algorithms to accept; by default ES256, ES384, EdDSA, RS256 and PS256. */
        public Builder allowedAlgorithms(Set<SignatureAlgorithm> algorithms) {
            Set<SignatureAlgorithm> copy = EnumSet.noneOf(SignatureAlgorithm.class);
            copy.addAll(Objects.requireNonNull(algorithms, "algorithms"));
            this.algorithms = copy;
            return this;
        }

        /** The algorithms to accept, by JOSE name; {@code none} and HS* are refused here. */
        public Builder allowedAlgorithms(String... joseNames) {
            Set<SignatureAlgorithm> parsed = EnumSet.noneOf(SignatureAlgorithm.class);
            for (String name : joseNames) {
                parsed.add(SignatureAlgorithm.fromJoseName(name));
            }
            this.algorithms = parsed;
            return this;
        }

        /** The clock the time claims are checked against. Required. */
        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        /** Tolerated clock difference with the issuer; 30 s by default, at most 5 minutes. */
        public Builder skew(Duration skew) {
            this.skew = skew;
            return this;
        }

        public TokenVerifier build() {
            requireText(issuer, "an expected issuer is required (the Lanyard server's issuer URL)");
            requireText(audience, "an expected audience is required (this service's lanyard.v1.audience)");
            if (jwks == null) {
                throw new IllegalStateException("a JWKS source is required (jwks or jwksUri)");
            }
            if (clock == null) {
                throw new IllegalStateException("a clock is required");
            }
            if (algorithms == null || algorithms.isEmpty()) {
                throw new IllegalStateException("at least one algorithm must be allowed");
            }
            Objects.requireNonNull(skew, "skew");
            if (skew.isNegative()) {
                throw new IllegalStateException("skew " + skew + " is negative");
            }
            if (revocationWait.isNegative()) {
                throw new IllegalStateException("revocation wait " + revocationWait + " is negative");
            }
            if (skew.compareTo(MAX_SKEW) > 0) {
                throw new IllegalStateException("skew " + skew.toSeconds() + " s is more than the "
                        + MAX_SKEW.toMinutes() + " minute cap");
            }
            return new TokenVerifier(this);
        }

        private static void requireText(String value, String message) {
            if (value == null || value.isBlank()) {
                throw new IllegalStateException(message);
            }
        }
    }
}
