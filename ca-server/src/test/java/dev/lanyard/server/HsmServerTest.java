package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jwt.SignedJWT;
import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.Pem;
import dev.lanyard.store.Database;
import dev.lanyard.store.Dialect;
import dev.lanyard.store.EmbeddedStore;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.SoftHsm;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.RotateKekRequest;
import dev.lanyard.v1.RotateKeysRequest;
import io.grpc.Status;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509CRL;
import java.sql.Connection;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server whose CA and JWT keys live in a SoftHSM2 token, over real TLS: bootstrap, renewal,
 * tokens, CRLs and rotations all sign in the token; a restart finds the keys by id; and nothing in
 * the database is a private key.
 */
class HsmServerTest {

    private static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";

    @TempDir
    Path dir;

    @Test
    void everySignatureComesFromTheTokenAndTheDatabaseHoldsNoPrivateKey() throws Exception {
        var settings = SoftHsm.token().serverSettings(dir.resolve("secrets"));
        Path data = dir.resolve("data");
        try (RunningServer lanyard = RunningServer.start(data, settings)) {
            lanyard.publishExampleContracts();
            lanyard.applyPolicy(TokenServiceTest.POLICY);
            lanyard.register(WEB);
            Credential web = lanyard.bootstrap(WEB);
            Credential renewed = lanyard.renew(web);
            verifiesToken(lanyard, renewed);
            X509CRL crl = lanyard.crl();
            crl.verify(renewed.chain().get(0).getPublicKey());
            var keys = KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()));
            CertificateServiceTest.assertRefused(() -> keys.rotateKek(RotateKekRequest.newBuilder()
                    .setNewKekFile("/tmp/kek").build()), Status.Code.FAILED_PRECONDITION, "not in software custody");

            // Rotation makes the next keys in the token.
            String firstKid = lanyard.server().jwtKeys().active().kid();
            keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build());
            keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_JWT).build());

            // A restart finds every key, active and prepared, in the token by its id. (Before the clock moves:
            // the restarted server's own certificate must be valid by the client's real clock.)
            String root = lanyard.server().rootFingerprint();
            lanyard.restart();
            assertThat(lanyard.server().rootFingerprint()).isEqualTo(root);
            Credential afterRestart = lanyard.renew(renewed);
            assertThat(afterRestart.chain()).isEqualTo(renewed.chain());
            verifiesToken(lanyard, afterRestart);

            // The prepared keys, made before the restart, sign once published.
            lanyard.clock().advance(Duration.ofMinutes(10));
            var keysAgain = KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()));
            keysAgain.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build());
            keysAgain.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_JWT).build());
            Credential rotated = lanyard.renew(afterRestart);
            assertThat(rotated.chain()).isNotEqualTo(renewed.chain());
            assertThat(lanyard.server().jwtKeys().active().kid()).isNotEqualTo(firstKid);
            verifiesToken(lanyard, rotated);
            lanyard.crl().verify(rotated.chain().get(0).getPublicKey());
        }
        List<String> found = privateKeysIn(data);
        assertThat(found).as("private key material in the database").isEmpty();
    }

    @Test
    void theScanFindsPrivateKeysInTheFormsTheyCouldTake() throws Exception {
        var key = dev.lanyard.testing.Csrs.ecP256().getPrivate();
        assertThat(looksLikePrivateKey(Pem.privateKey(key))).isTrue();
        assertThat(looksLikePrivateKey(Base64.getEncoder().encodeToString(key.getEncoded()))).isTrue();
        assertThat(looksLikePrivateKey(new String(key.getEncoded(), StandardCharsets.ISO_8859_1))).isTrue();
        assertThat(looksLikePrivateKey("MIIB not a key")).isFalse();
    }

    private static void verifiesToken(RunningServer lanyard, Credential caller) throws Exception {
        String token = lanyard.tokens(caller).issueToken(TokenServiceTest.request("payments", "payments.read"))
                .getToken();
        SignedJWT jwt = SignedJWT.parse(token);
        String jwks = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(lanyard.httpUrl("/.well-known/jwks.json"))).build(), HttpResponse.BodyHandlers.ofString()).body();
        ECKey key = (ECKey) JWKSet.parse(jwks).getKeyByKeyId(jwt.getHeader().getKeyID());
        assertThat(jwt.verify(new ECDSAVerifier(key))).isTrue();
    }

    /** Every text and binary value of every table, checked for anything that parses as a private key. */
    private static List<String> privateKeysIn(Path data) throws Exception {
        List<String> found = new ArrayList<>();
        try (Database db = EmbeddedStore.openIn(data); Connection c = db.dataSource().getConnection()) {
            List<String> tables = new ArrayList<>();
            String schema = db.dialect() == Dialect.H2 ? "PUBLIC" : null; // SQLite has one, unnamed
            try (ResultSet t = c.getMetaData().getTables(null, schema, "%", new String[] {"TABLE"})) {
                while (t.next()) {
                    tables.add(t.getString("TABLE_NAME"));
                }
            }
            assertThat(tables).map(name -> name.toUpperCase(java.util.Locale.ROOT)) // lower case on SQLite
                    .contains("CA_KEYS", "SIGNING_KEYS", "CUSTODY_KEYS", "AUDIT_EVENTS");
            for (String table : tables) {
                try (ResultSet rows = c.createStatement().executeQuery("select * from \"" + table + "\"")) {
                    int columns = rows.getMetaData().getColumnCount();
                    while (rows.next()) {
                        if (table.equalsIgnoreCase("CUSTODY_KEYS")) {
                            found.add("a sealed key in custody_keys: " + rows.getString("ID"));
                        }
                        for (int i = 1; i <= columns; i++) {
                            Object value = rows.getObject(i);
                            String text = value instanceof byte[] bytes ? new String(bytes, StandardCharsets.ISO_8859_1)
                                    : value == null ? "" : value.toString();
                            if (looksLikePrivateKey(text)) {
                                found.add(table + "." + rows.getMetaData().getColumnName(i));
                            }
                        }
                    }
                }
            }
        }
        return found;
    }

    private static boolean looksLikePrivateKey(String value) {
        if (value.contains("PRIVATE KEY")) {
            return true;
        }
        List<byte[]> candidates = new ArrayList<>();
        candidates.add(value.getBytes(StandardCharsets.ISO_8859_1));
        for (String word : value.split("[^A-Za-z0-9+/=_-]+")) {
            if (word.length() >= 40) {
                try {
                    candidates.add(Base64.getDecoder().decode(word));
                } catch (IllegalArgumentException e) {
                    try {
                        candidates.add(Base64.getUrlDecoder().decode(word));
                    } catch (IllegalArgumentException notBase64) {
                        // not encoded
                    }
                }
            }
        }
        for (byte[] candidate : candidates) {
            try {
                if (candidate.length > 0 && candidate[0] == 0x30
                        && PrivateKeyInfo.getInstance(candidate).getPrivateKeyAlgorithm() != null) {
                    return true;
                }
            } catch (RuntimeException e) {
                // not a PKCS#8 structure
            }
        }
        return false;
    }
}
