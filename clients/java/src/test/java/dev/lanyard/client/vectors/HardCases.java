package dev.lanyard.client.vectors;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.crypto.opts.AllowWeakRSAKey;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.lanyard.client.testing.TestTokens;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;

/**
 * The hard cases of the shared vectors: where JSON parsers, JOSE libraries or specifications leave
 * room, each verdict is decided once here (see {@link #RULES}, written into the vectors file) and
 * every Lanyard verifier must reach it. Tokens the libraries would not write are assembled from raw
 * JSON and signed over exactly those bytes, so the signature always holds and only the rule decides.
 */
final class HardCases {

    static final List<String> RULES = List.of(
            "Shape before everything: three canonical unpadded base64url parts; header and payload are UTF-8 JSON"
                    + " objects with no member named twice at any depth, no string holding U+FFFD or a lone surrogate,"
                    + " at most 32 levels of nesting. Parsers disagree on exactly these, so all three refuse: malformed.",
            "Header: alg from the allow-list (none, HS* never: bad_algorithm), then typ exactly \"JWT\" (absent, JOSE,"
                    + " at+jwt, jwt: malformed; Lanyard always writes JWT), no crit, no zip (malformed), a kid.",
            "Key: the kid must be in this trust domain's JWKS (else unknown_key, also for a federated or foreign"
                    + " issuer's key); a key whose use is not sig or whose alg differs from the token's, or of a type,"
                    + " curve or size (RSA under 2048 bits) the alg cannot use, is bad_algorithm. Header jwk, jku,"
                    + " x5u are never used to find a key.",
            "Claims, after the signature: iss exactly ours (else wrong_issuer); aud a string or an array naming"
                    + " exactly our audience once (a one-element array is the same claim: ok; more names:"
                    + " wrong_audience; empty or not strings: malformed); exp, nbf and iat all required, numbers from 0"
                    + " to 1e11 (else malformed); expired when now >= exp + skew, not yet valid when now < nbf - skew"
                    + " or now < iat - skew.");

    private static final String FOREIGN_ISSUER = "https://lanyard.partner.example";
    private static final String FOREIGN_SUBJECT = "spiffe://partner.example/ns/shop/sa/frontend";

    private final VerificationVectors v;
    private final TestTokens keys;
    private final ECKey foreign;

    HardCases(VerificationVectors v) throws Exception {
        this.v = v;
        this.keys = v.keys();
        this.foreign = new ECKeyGenerator(Curve.P_256).keyID("partner-es256").generate();
    }

    /** Keys this file adds to the published JWKS: the same key material published with a use or alg. */
    static List<JWK> publishedKeys(TestTokens keys) throws Exception {
        return List.of(encryptionKey(keys).toPublicJWK(), rs256Only(keys).toPublicJWK(), WEAK_RSA.toPublicJWK());
    }

    private static ECKey encryptionKey(TestTokens keys) {
        return new ECKey.Builder(keys.es256).keyID("es256-use-enc").keyUse(KeyUse.ENCRYPTION).build();
    }

    private static RSAKey rs256Only(TestTokens keys) {
        return new RSAKey.Builder(keys.rsa).keyID("rsa-alg-rs256").algorithm(JWSAlgorithm.RS256).build();
    }

    private static final RSAKey WEAK_RSA = weakRsa();

    private static RSAKey weakRsa() {
        try {
            return new RSAKeyGenerator(1024, true).keyID("rsa-1024").generate();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    void addAll() throws Exception {
        JWTClaimsSet good = v.claims(VerificationVectors.NOW).build();
        String claims = json(good);
        String header = "{\"alg\":\"ES256\",\"kid\":\"es256-key\",\"typ\":\"JWT\"}";

        String dup = "two members of one name: parsers keep the first, the last or refuse, so every verifier refuses";
        add("duplicate header member: kid", es256("{\"alg\":\"ES256\",\"kid\":\"no-such-key\",\"typ\":\"JWT\","
                + "\"kid\":\"es256-key\"}", claims), "malformed", dup);
        add("duplicate header member: alg (HS256, then ES256)", es256("{\"alg\":\"HS256\",\"kid\":\"es256-key\","
                + "\"typ\":\"JWT\",\"alg\":\"ES256\"}", claims), "malformed", dup);
        add("duplicate payload member: aud (another, then ours)",
                es256(header, "{\"aud\":\"spiffe://lanyard.local/ns/shop/sa/other\"," + claims.substring(1)),
                "malformed", dup);
        add("duplicate payload member: sub (an admin, then ours)",
                es256(header, "{\"sub\":\"spiffe://lanyard.local/lanyard/admin\"," + claims.substring(1)),
                "malformed", dup);
        add("duplicate nested member: cnf.x5t#S256 (another certificate's, then ours)",
                es256(header, claims.replace("\"cnf\":{", "\"cnf\":{\"x5t#S256\":\"" + "A".repeat(43) + "\",")),
                "malformed", dup);

        String typ = "Lanyard always writes typ JWT (exactly); any other or none is another kind of JWS";
        add("typ absent", es256("{\"alg\":\"ES256\",\"kid\":\"es256-key\"}", claims), "malformed", typ);
        add("typ JOSE", es256("{\"alg\":\"ES256\",\"kid\":\"es256-key\",\"typ\":\"JOSE\"}", claims), "malformed", typ);
        add("typ at+jwt", es256("{\"alg\":\"ES256\",\"kid\":\"es256-key\",\"typ\":\"at+jwt\"}", claims), "malformed", typ);
        add("typ jwt (lower case)", es256("{\"alg\":\"ES256\",\"kid\":\"es256-key\",\"typ\":\"jwt\"}", claims),
                "malformed", typ);
        add("zip DEF in the header", es256("{\"alg\":\"ES256\",\"kid\":\"es256-key\",\"typ\":\"JWT\",\"zip\":\"DEF\"}",
                claims), "malformed", "zip belongs to JWE; a JWS that names it asks for a decompression no verifier does");
        add("header jwk: the attacker's own key embedded, our kid",
                raw("{\"alg\":\"ES256\",\"kid\":\"es256-key\",\"typ\":\"JWT\",\"jwk\":"
                        + foreign.toPublicJWK().toJSONString() + "}", claims, foreign), "bad_signature",
                "keys come from the JWKS by kid only; an embedded jwk is never used");

        add("no nbf", es256(header, json(new JWTClaimsSet.Builder(good).notBeforeTime(null).build())), "malformed",
                "every claim Lanyard mints is required; a token without nbf is not guessed valid from iat");
        add("no iat", es256(header, json(new JWTClaimsSet.Builder(good).issueTime(null).build())), "malformed",
                "every claim Lanyard mints is required");
        add("exp a string", es256(header, claims.replaceFirst("\"exp\":(\\d+)", "\"exp\":\"$1\"")), "malformed",
                "a NumericDate is a JSON number");
        add("exp 1e12 (year 33658)", es256(header, claims.replaceFirst("\"exp\":\\d+", "\"exp\":1000000000000")),
                "malformed", "NumericDates beyond 1e11 are refused so that no verifier has to convert them");
        add("skew edge: expired exactly 30 s ago, skew 30 s", es256(header, claims), VerificationVectors.NOW.plusSeconds(330),
                "expired", "expired when now >= exp + skew");

        add("JWK use enc", sign(JWSAlgorithm.ES256, "es256-use-enc", good), "bad_algorithm",
                "a key published for encryption never verifies a signature");
        add("JWK alg RS256, token PS256 (same RSA key)", rsa(JWSAlgorithm.PS256, "rsa-alg-rs256", good), "bad_algorithm",
                "a key published with an alg verifies that alg only");
        add("JWK alg RS256, token RS256", rsa(JWSAlgorithm.RS256, "rsa-alg-rs256", good), "ok",
                "the control for the case above");
        add("RSA key of 1024 bits", rsa1024(good), "bad_algorithm", "RSA keys under 2048 bits are refused");

        add("aud a one-element array naming us", es256(header, json(new JWTClaimsSet.Builder(good)
                .audience(List.of(TestTokens.AUDIENCE)).build()).replace("\"aud\":\"" + TestTokens.AUDIENCE + "\"",
                        "\"aud\":[\"" + TestTokens.AUDIENCE + "\"]")), "ok",
                "RFC 7519 allows a string or an array; one name in an array is the same claim");
        add("aud an array naming us and another", es256(header, json(new JWTClaimsSet.Builder(good)
                .audience(List.of(TestTokens.AUDIENCE, "spiffe://lanyard.local/ns/shop/sa/other")).build())),
                "wrong_audience", "a Lanyard token is for exactly one audience");
        add("aud an empty array", es256(header, claims.replaceFirst("\"aud\":\"[^\"]*\"", "\"aud\":[]")), "malformed",
                "an audience claim that names nobody");

        add("foreign issuer: signed by its own key (kid not in our JWKS)",
                raw("{\"alg\":\"ES256\",\"kid\":\"partner-es256\",\"typ\":\"JWT\"}",
                        json(new JWTClaimsSet.Builder(good).issuer(FOREIGN_ISSUER).subject(FOREIGN_SUBJECT).build()),
                        foreign), "unknown_key",
                "only this trust domain's JWKS is consulted; a federated domain's key is unknown here");
        add("foreign key signing under our kid", raw(header, claims, foreign), "bad_signature",
                "the key our JWKS publishes under that kid does not verify it");
        add("foreign issuer and subject, signed with our key", es256(header, json(new JWTClaimsSet.Builder(good)
                .issuer(FOREIGN_ISSUER).subject(FOREIGN_SUBJECT).build())), "wrong_issuer",
                "a good signature does not make another issuer ours");

        String bytes = "bytes a parser would replace or refuse: refused";
        String jti = (String) good.getClaim("jti");
        add("invalid UTF-8 in the payload", raw(header.getBytes(StandardCharsets.UTF_8),
                replace(claims, jti, new byte[] {(byte) 0xff, (byte) 0xfe}), keys.es256), "malformed", bytes);
        add("U+FFFD in the jti", es256(header, claims.replace(jti, jti + "\uFFFD")), "malformed", bytes);
        add("lone surrogate escape in the jti", es256(header, claims.replace(jti, jti + "\\ud800")), "malformed", bytes);
        add("nested 40 levels deep in an extra claim", es256(header, "{\"x\":" + "[".repeat(39) + "]".repeat(39) + ","
                + claims.substring(1)), "malformed", "at most 32 levels of nesting");

        String minted = es256(header, claims);
        add("padding on the signature", minted + "==", "malformed", "base64url without padding, as JWS requires");
        add("non-canonical base64url signature (trailing bits set)", trailingBits(minted), "malformed",
                "one token, one spelling: the same signature bytes written another way are refused");
    }

    private void add(String name, String token, String expect, String why) throws Exception {
        add(name, token, VerificationVectors.NOW, expect, why);
    }

    private void add(String name, String token, java.time.Instant now, String expect, String why) throws Exception {
        v.add(name, token, now, v.peer(), expect, why);
    }

    private static String json(JWTClaimsSet claims) {
        return JSONObjectUtils.toJSONString(claims.toJSONObject());
    }

    private String es256(String header, String payload) throws Exception {
        return raw(header, payload, keys.es256);
    }

    private String raw(String header, String payload, ECKey key) throws Exception {
        return raw(header.getBytes(StandardCharsets.UTF_8), payload.getBytes(StandardCharsets.UTF_8), key);
    }

    /** Signs exactly these header and payload bytes with ES256. */
    private static String raw(byte[] header, byte[] payload, ECKey key) throws Exception {
        String input = Base64URL.encode(header) + "." + Base64URL.encode(payload);
        Base64URL signature = new ECDSASigner(key).sign(new JWSHeader(JWSAlgorithm.ES256),
                input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + signature;
    }

    private String sign(JWSAlgorithm algorithm, String kid, JWTClaimsSet claims) throws Exception {
        return raw("{\"alg\":\"" + algorithm.getName() + "\",\"kid\":\"" + kid + "\",\"typ\":\"JWT\"}", json(claims),
                keys.es256);
    }

    private String rsa(JWSAlgorithm algorithm, String kid, JWTClaimsSet claims) throws Exception {
        return rsa(algorithm, kid, claims, keys.rsa);
    }

    private String rsa1024(JWTClaimsSet claims) throws Exception {
        return rsa(JWSAlgorithm.RS256, "rsa-1024", claims, WEAK_RSA);
    }

    private static String rsa(JWSAlgorithm algorithm, String kid, JWTClaimsSet claims, RSAKey key) throws Exception {
        String input = Base64URL.encode("{\"alg\":\"" + algorithm.getName() + "\",\"kid\":\"" + kid
                + "\",\"typ\":\"JWT\"}") + "." + Base64URL.encode(json(claims));
        // Nimbus refuses to sign with a weak key unless told to: the 1024-bit case needs it.
        Base64URL signature = new RSASSASigner(key.toPrivateKey(), Set.of(AllowWeakRSAKey.getInstance())).sign(new JWSHeader(algorithm), input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + signature;
    }

    /** {@code text} as UTF-8 with {@code extra} raw bytes appended after {@code after}. */
    private static byte[] replace(String text, String after, byte[] extra) {
        int at = text.indexOf(after) + after.length();
        byte[] head = text.substring(0, at).getBytes(StandardCharsets.UTF_8);
        byte[] tail = text.substring(at).getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[head.length + extra.length + tail.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(extra, 0, out, head.length, extra.length);
        System.arraycopy(tail, 0, out, head.length + extra.length, tail.length);
        return out;
    }

    /** The same signature bytes with the unused low bits of the last base64url character set. */
    private static String trailingBits(String jwt) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        char last = jwt.charAt(jwt.length() - 1);
        // An ES256 signature is 64 bytes: 86 characters, the last one carrying 4 bits and 2 unused ones.
        return jwt.substring(0, jwt.length() - 1) + alphabet.charAt(alphabet.indexOf(last) | 0b11);
    }
}
