package dev.lanyard.client.vectors;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.client.testing.TestTokens;
import dev.lanyard.jwks.JwksDocument;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.RotationPolicy;
import dev.lanyard.rotation.StepLog;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.token.CertificateThumbprint;
import dev.lanyard.token.InMemorySigningKeyRepository;
import dev.lanyard.token.JwtSigningKeys;
import dev.lanyard.token.SigningAlgorithm;
import dev.lanyard.token.TokenMinter;
import dev.lanyard.token.TokenRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/**
 * The shared verification vectors: one JWKS and token cases with the verdict every Lanyard
 * verifier (Java, Go, Rust) must reach, written to {@code testdata/vectors/verification.json}.
 * Good tokens come from Lanyard's own minter; the bad ones are made with Nimbus on purpose. Every
 * case carries its own fixed "now", so the file never goes stale.
 *
 * <p>Regenerate (only when the cases change) by running {@link #main} on the test class path with the
 * output path; {@code VerificationVectorsTest} fails when the committed file and this class disagree.
 */
public final class VerificationVectors {

    /** 2026-11-22T00:00:00Z: the "now" of every case unless it says otherwise. */
    static final Instant NOW = Instant.ofEpochSecond(1_795_305_600L);
    static final int SKEW = 30;

    private final MutableClock clock = new MutableClock(NOW);
    private final TestPki pki = new TestPki(clock, "lanyard.local");
    private final TestTokens keys = new TestTokens();
    private final X509Certificate peer = pki.leaf(TestTokens.SUBJECT).leaf();
    private final X509Certificate otherPeer = pki.leaf(TestTokens.SUBJECT).leaf();
    private final JwtSigningKeys minterKeys;
    private final TokenMinter minter;
    private final List<Map<String, Object>> cases = new ArrayList<>();

    VerificationVectors() {
        BouncyCastleProvider bc = new BouncyCastleProvider();
        minterKeys = new JwtSigningKeys(new InMemorySigningKeyRepository(),
                new dev.lanyard.custody.SoftwareCustody(new dev.lanyard.custody.InMemorySealedKeyRepository(),
                        new dev.lanyard.custody.TestSealer(), bc, bc, clock),
                new RotationPlanner(new RotationPolicy(Duration.ofHours(6), Duration.ofMinutes(15), Duration.ofHours(1))),
                SigningAlgorithm.ES256, new java.security.SecureRandom(), clock);
        minterKeys.tick(StepLog.unrecorded());
        minter = new TokenMinter(minterKeys, TestTokens.ISSUER, clock, new SecureRandom(), Duration.ofHours(1));
    }

    /** Every case, in a fixed order. */
    Map<String, Object> build() throws Exception {
        String minted = mint(Set.of("inventory.read", "inventory.write"));
        add("good: minted by Lanyard (ES256)", minted, NOW, List.of("inventory.read"), peer, none(), "ok");
        add("good: no scope required", minted, NOW, List.of(), peer, none(), "ok");
        add("good: ES384", sign(JWSAlgorithm.ES384, keys.es384.getKeyID(), claims(NOW)), NOW, List.of("inventory.write"),
                peer, none(), "ok");
        add("good: EdDSA", sign(JWSAlgorithm.EdDSA, keys.ed25519.getKeyID(), claims(NOW)), NOW, List.of(), peer, none(), "ok");
        add("good: RS256", sign(JWSAlgorithm.RS256, keys.rsa.getKeyID(), claims(NOW)), NOW, List.of(), peer, none(), "ok");
        add("good: PS256", sign(JWSAlgorithm.PS256, keys.rsa.getKeyID(), claims(NOW)), NOW, List.of(), peer, none(), "ok");

        add("expired", es256(claims(NOW.minusSeconds(600))), NOW, List.of(), peer, none(), "expired");
        add("not yet valid", es256(claims(NOW.plusSeconds(300))), NOW, List.of(), peer, none(), "not_yet_valid");
        String exp = es256(claims(NOW.minusSeconds(300)));
        add("skew edge: expired 29 s ago, skew 30 s", exp, NOW.plusSeconds(29), List.of(), peer, none(), "ok");
        add("skew edge: expired 31 s ago, skew 30 s", exp, NOW.plusSeconds(31), List.of(), peer, none(), "expired");
        String future = es256(claims(NOW.plusSeconds(29)));
        add("skew edge: valid from 29 s ahead, skew 30 s", future, NOW, List.of(), peer, none(), "ok");
        add("skew edge: valid from 31 s ahead, skew 30 s", es256(claims(NOW.plusSeconds(31))), NOW, List.of(), peer,
                none(), "not_yet_valid");

        add("wrong audience", es256(claims(NOW).audience("spiffe://lanyard.local/ns/shop/sa/other").build()), NOW,
                List.of(), peer, none(), "wrong_audience");
        add("wrong issuer", es256(claims(NOW).issuer("https://evil.example").build()), NOW, List.of(), peer, none(),
                "wrong_issuer");
        add("missing scope", minted, NOW, List.of("inventory.read", "inventory.delete"), peer, none(), "missing_scope");

        add("alg none", new PlainJWT(claims(NOW).build()).serialize(), NOW, List.of(), peer, none(), "bad_algorithm");
        add("HS256 keyed with the ES256 public key", hs256WithPublicKey(claims(NOW).build()), NOW, List.of(), peer,
                none(), "bad_algorithm");
        add("unknown kid", sign(JWSAlgorithm.ES256, "no-such-key", claims(NOW)), NOW, List.of(), peer, none(),
                "unknown_key");
        add("tampered payload", tamper(es256(claims(NOW))), NOW, List.of(), peer, none(), "bad_signature");
        add("cnf bound to another certificate", minted, NOW, List.of(), otherPeer, none(), "cnf_mismatch");
        add("malformed: not a JWT", "not.a.jwt", NOW, List.of(), peer, none(), "malformed");
        add("malformed: two parts", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0", NOW, List.of(), peer, none(), "malformed");

        String jti = jti(minted);
        add("revoked: jti", minted, NOW, List.of(), peer, revoked(List.of(jti), List.of(), List.of()), "revoked");
        add("revoked: subject's SPIFFE ID", minted, NOW, List.of(), peer,
                revoked(List.of(), List.of(TestTokens.SUBJECT), List.of()), "revoked");
        add("revoked: the peer certificate's serial", minted, NOW, List.of(), peer,
                revoked(List.of(), List.of(), List.of(peer.getSerialNumber().toString(16))), "revoked");
        add("not revoked: another jti, identity and serial", minted, NOW, List.of(), peer,
                revoked(List.of("another-jti"), List.of("spiffe://lanyard.local/ns/shop/sa/other"),
                        List.of(otherPeer.getSerialNumber().toString(16))), "ok");

        new HardCases(this).addAll();

        List<JWK> published = new ArrayList<>(keys.publicJwks().getKeys());
        published.addAll(HardCases.publishedKeys(keys));
        published.addAll(JWKSet.parse(JwksDocument.publicJwks(minterKeys.published())).getKeys());
        Map<String, Object> document = new LinkedHashMap<>();
        document.put("description", "Lanyard token verification vectors: every verifier must reach each case's"
                + " expect (ok or the failure class). Generated by clients/java VerificationVectors; do not edit.");
        document.put("rules", HardCases.RULES);
        document.put("issuer", TestTokens.ISSUER);
        document.put("audience", TestTokens.AUDIENCE);
        document.put("jwks", new JWKSet(published).toJSONObject(true));
        document.put("cases", cases);
        return document;
    }

    private void add(String name, String token, Instant now, List<String> requiredScopes, X509Certificate presentedBy,
            Map<String, Object> revoked, String expect) throws Exception {
        add(name, token, now, requiredScopes, presentedBy, revoked, expect, null);
    }

    /** A case with the reason for its verdict ({@code why}), for the cases where a verifier had to decide. */
    void add(String name, String token, Instant now, X509Certificate presentedBy, String expect, String why)
            throws Exception {
        add(name, token, now, List.of(), presentedBy, none(), expect, why);
    }

    private void add(String name, String token, Instant now, List<String> requiredScopes, X509Certificate presentedBy,
            Map<String, Object> revoked, String expect, String why) throws Exception {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("name", name);
        c.put("token", token);
        c.put("now", now.getEpochSecond());
        c.put("audience", TestTokens.AUDIENCE);
        c.put("skew_seconds", SKEW);
        c.put("required_scopes", requiredScopes);
        c.put("peer_certificate", Base64.getEncoder().encodeToString(presentedBy.getEncoded()));
        c.put("revoked", revoked);
        c.put("expect", expect);
        if (why != null) {
            c.put("why", why);
        }
        cases.add(c);
    }

    private String mint(Set<String> scopes) throws Exception {
        return minter.mint(new TokenRequest(SpiffeId.parse(TestTokens.SUBJECT), TestTokens.AUDIENCE, scopes,
                Optional.of(Duration.ofMinutes(5)), CertificateThumbprint.x5tS256(peer.getEncoded()),
                peer.getNotAfter().toInstant())).jwt();
    }

    TestTokens keys() {
        return keys;
    }

    X509Certificate peer() {
        return peer;
    }

    /** Good claims (audience as a single string, as Lanyard mints it), issued and valid from {@code from}. */
    JWTClaimsSet.Builder claims(Instant from) {
        return TestTokens.claims(peer, from).audience(TestTokens.AUDIENCE).issueTime(Date.from(from))
                .notBeforeTime(Date.from(from)).expirationTime(Date.from(from.plus(Duration.ofMinutes(5))));
    }

    private String es256(JWTClaimsSet.Builder claims) {
        return sign(JWSAlgorithm.ES256, keys.es256.getKeyID(), claims);
    }

    /** Signs with the test key the algorithm needs, whatever {@code kid} the header names. */
    private String sign(JWSAlgorithm algorithm, String kid, JWTClaimsSet.Builder claims) {
        return keys.sign(TestTokens.header(algorithm, kid).build(), claims.build());
    }

    private String es256(JWTClaimsSet claims) {
        return keys.es256(claims);
    }

    /** The classic key-confusion attack: HMAC keyed with the bytes of the published public key. */
    private String hs256WithPublicKey(JWTClaimsSet claims) throws Exception {
        byte[] secret = keys.es256.toPublicJWK().toJSONString().getBytes(StandardCharsets.UTF_8);
        JWSObject jws = new JWSObject(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(keys.es256.getKeyID()).build(),
                new Payload(claims.toJSONObject()));
        jws.sign(new MACSigner(secret));
        return jws.serialize();
    }

    private static String tamper(String jwt) throws Exception {
        String[] parts = jwt.split("\\.");
        Map<String, Object> payload = JSONObjectUtils.parse(new String(Base64URL.from(parts[1]).decode(), StandardCharsets.UTF_8));
        payload.put("scope", "inventory.read inventory.write inventory.admin");
        return parts[0] + "." + Base64URL.encode(JSONObjectUtils.toJSONString(payload)) + "." + parts[2];
    }

    private static String jti(String jwt) throws Exception {
        return com.nimbusds.jwt.SignedJWT.parse(jwt).getJWTClaimsSet().getJWTID();
    }

    private static Map<String, Object> none() {
        return revoked(List.of(), List.of(), List.of());
    }

    private static Map<String, Object> revoked(List<String> jtis, List<String> spiffeIds, List<String> serials) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("jtis", jtis);
        r.put("spiffe_ids", spiffeIds);
        r.put("serials", serials);
        return r;
    }

    /** Writes the vectors to {@code args[0]}. */
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "testdata/vectors/verification.json");
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, pretty(new VerificationVectors().build()));
        System.out.println("wrote " + out.toAbsolutePath());
    }

    static String pretty(Map<String, Object> document) {
        return new com.nimbusds.jose.shaded.gson.GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(document) + "\n";
    }
}
