package dev.lanyard.client.token;

import com.nimbusds.jwt.JWTClaimsSet;
import dev.lanyard.client.token.TokenRejectedException.Reason;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The claim checks of a signed token, in the order that gives the most useful refusal: who issued
 * it, for whom, when, about whom, with what scopes, bound to which certificate. Every claim Lanyard
 * mints is required; a token without one is refused rather than guessed about.
 */
final class ClaimsCheck {

    private static final Pattern SCOPE = Pattern.compile("[a-z0-9]+([._:][a-z0-9]+)*");

    private final String issuer;
    private final String audience;
    private final Duration skew;

    ClaimsCheck(String issuer, String audience, Duration skew) {
        this.issuer = issuer;
        this.audience = audience;
        this.skew = skew;
    }

    /** A NumericDate beyond this (in the year 5138) is refused, so no verifier has to convert it. */
    static final double MAX_NUMERIC_DATE = 1e11;

    /**
     * Refuses exp, nbf or iat that is not a number from 0 to {@link #MAX_NUMERIC_DATE}, before
     * Nimbus turns it into a {@code Date} (where a huge value would overflow).
     */
    static void checkTimes(Map<String, Object> json) throws TokenRejectedException {
        for (String name : List.of("exp", "nbf", "iat")) {
            Object value = json.get(name);
            if (value == null) {
                continue; // refused as missing later
            }
            double n = value instanceof Number number ? number.doubleValue() : Double.NaN;
            if (!(n >= 0 && n <= MAX_NUMERIC_DATE)) {
                throw new TokenRejectedException(Reason.MALFORMED, name + " is not a NumericDate from 0 to 1e11");
            }
        }
    }

    VerifiedToken check(JWTClaimsSet claims, String keyId, X509Certificate peer, Instant now)
            throws TokenRejectedException {
        String iss = requiredString(claims, "iss");
        if (!iss.equals(issuer)) {
            throw new TokenRejectedException(Reason.ISSUER,
                    "issuer " + Printable.of(iss) + " is not the expected " + Printable.of(issuer));
        }
        String aud = audience(claims);
        Instant exp = requiredTime(claims, "exp");
        Instant nbf = requiredTime(claims, "nbf");
        Instant iat = requiredTime(claims, "iat");
        if (!now.isBefore(exp.plus(skew))) {
            throw new TokenRejectedException(Reason.EXPIRED,
                    "the token expired at " + exp + " (now " + now + ", allowed skew " + skew.toSeconds() + " s)");
        }
        if (now.isBefore(nbf.minus(skew))) {
            throw new TokenRejectedException(Reason.NOT_YET_VALID,
                    "the token is not valid before " + nbf + " (now " + now + ", allowed skew " + skew.toSeconds() + " s)");
        }
        if (now.isBefore(iat.minus(skew))) {
            throw new TokenRejectedException(Reason.NOT_YET_VALID,
                    "the token was issued in the future, at " + iat + " (now " + now + ")");
        }
        if (!exp.isAfter(nbf)) {
            throw new TokenRejectedException(Reason.MALFORMED, "exp " + exp + " is not after nbf " + nbf);
        }
        String sub = requiredString(claims, "sub");
        if (!isSpiffeId(sub)) {
            throw new TokenRejectedException(Reason.MALFORMED, "sub " + Printable.of(sub) + " is not a SPIFFE ID");
        }
        String jti = requiredString(claims, "jti");
        if (jti.isBlank()) {
            throw new TokenRejectedException(Reason.MALFORMED, "jti is blank");
        }
        Set<String> scopes = scopes(requiredString(claims, "scope"));
        checkBinding(claims, peer);
        return new VerifiedToken(sub, aud, scopes, jti, exp, keyId);
    }

    private String audience(JWTClaimsSet claims) throws TokenRejectedException {
        Object raw = claims.getClaim("aud");
        if (raw == null) {
            throw missing("aud");
        }
        List<String> values = claims.getAudience();
        if (values.isEmpty()) {
            throw new TokenRejectedException(Reason.MALFORMED, "aud is not a string or an array of strings");
        }
        if (values.size() != 1) {
            throw new TokenRejectedException(Reason.AUDIENCE, "the token names " + values.size()
                    + " audiences; a Lanyard token names exactly one, " + Printable.of(audience));
        }
        String aud = values.get(0);
        if (!audience.equals(aud)) {
            throw new TokenRejectedException(Reason.AUDIENCE,
                    "audience " + Printable.of(aud) + " is not the expected " + Printable.of(audience));
        }
        return aud;
    }

    private static Set<String> scopes(String scope) throws TokenRejectedException {
        Set<String> scopes = new LinkedHashSet<>();
        if (scope.isEmpty()) {
            return scopes;
        }
        for (String name : scope.split(" ", -1)) {
            if (!SCOPE.matcher(name).matches()) {
                throw new TokenRejectedException(Reason.MALFORMED, "scope holds " + Printable.of(name)
                        + ", which is not a scope name (lower-case words joined by '.', ':' or '_', one space apart)");
            }
            scopes.add(name);
        }
        return scopes;
    }

    private static void checkBinding(JWTClaimsSet claims, X509Certificate peer) throws TokenRejectedException {
        Map<String, Object> cnf;
        try {
            cnf = claims.getJSONObjectClaim("cnf");
        } catch (ParseException e) {
            throw new TokenRejectedException(Reason.MALFORMED, "cnf is not a JSON object");
        }
        if (cnf == null) {
            throw missing("cnf");
        }
        Object bound = cnf.get("x5t#S256");
        if (bound == null) {
            throw missing("cnf.x5t#S256");
        }
        if (!(bound instanceof String boundThumbprint)) {
            throw new TokenRejectedException(Reason.MALFORMED, "cnf.x5t#S256 is not a string");
        }
        if (peer == null) {
            throw new TokenRejectedException(Reason.CNF_MISMATCH,
                    "the token is bound to a client certificate, but the caller presented none");
        }
        byte[] expected = Thumbprint.x5tS256(peer).getBytes(StandardCharsets.US_ASCII);
        if (!MessageDigest.isEqual(expected, boundThumbprint.getBytes(StandardCharsets.US_ASCII))) {
            throw new TokenRejectedException(Reason.CNF_MISMATCH, "the token is bound to another certificate "
                    + "than the caller's (serial " + peer.getSerialNumber().toString(16) + ")");
        }
    }

    private static boolean isSpiffeId(String value) {
        if (!value.startsWith("spiffe://")) {
            return false;
        }
        String rest = value.substring("spiffe://".length());
        int slash = rest.indexOf('/');
        String trustDomain = slash < 0 ? rest : rest.substring(0, slash);
        return !trustDomain.isEmpty() && trustDomain.matches("[a-z0-9._-]+")
                && (slash < 0 || rest.length() > slash + 1 && !rest.endsWith("/"));
    }

    private static String requiredString(JWTClaimsSet claims, String name) throws TokenRejectedException {
        String value;
        try {
            value = claims.getStringClaim(name);
        } catch (ParseException e) {
            throw new TokenRejectedException(Reason.MALFORMED, name + " is not a string");
        }
        if (value == null) {
            throw missing(name);
        }
        return value;
    }

    private static Instant requiredTime(JWTClaimsSet claims, String name) throws TokenRejectedException {
        Date value;
        try {
            value = claims.getDateClaim(name);
        } catch (ParseException e) {
            throw new TokenRejectedException(Reason.MALFORMED, name + " is not a NumericDate");
        }
        if (value == null) {
            throw missing(name);
        }
        return value.toInstant();
    }

    private static TokenRejectedException missing(String name) {
        return new TokenRejectedException(Reason.MISSING_CLAIM, "the token has no " + name + " claim");
    }
}
