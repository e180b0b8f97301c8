package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.jwk.JWK;
import dev.lanyard.ca.IssuingCa;
import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.Pem;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TestCa;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.token.SigningAlgorithm;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.flywaydb.core.Flyway;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A database written before key custody (sealed keys in ca_keys and signing_keys, the version-1
 * sealed format) starts under this version: V70 moves the keys into custody, the start re-wraps
 * them with KEK ids, and the server signs with the same CA and the same JWT key.
 */
class KeyCustodyMigrationTest {

    @TempDir
    Path dir;

    @Test
    void theOldCaAndJwtKeyKeepSigningAfterTheMigration() throws Exception {
        SecureRandom random = new SecureRandom();
        KeyEncryptionKey.generateFile(dir.resolve("kek"), random);
        byte[] kekBytes = Base64.getDecoder().decode(java.nio.file.Files.readString(dir.resolve("kek")).trim());
        TestCa.External old = TestCa.external("lanyard.local", new MutableClock(Instant.now()));
        IssuingCa ca = old.ca();
        PrivateKey rootKey = old.rootKey();
        KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
        ec.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair jwtKeys = ec.generateKeyPair();
        JWK jwk = SigningAlgorithm.ES256.publicJwk(jwtKeys.getPublic());

        JdbcDataSource h2 = new JdbcDataSource();
        h2.setURL("jdbc:h2:file:" + dir.toAbsolutePath().resolve("lanyard") + Database.H2_SETTINGS);
        h2.setUser("lanyard");
        h2.setPassword("");
        // The schema as it was just before V70, whatever came before it.
        String before = java.util.Arrays.stream(Flyway.configure().dataSource(h2).locations("classpath:db/migration")
                        .load().info().all())
                .map(m -> m.getVersion()).filter(v -> v.isNewerThan("0") && !v.isAtLeast("70"))
                .max(Comparable::compareTo).orElseThrow().getVersion();
        Flyway.configure().dataSource(h2).locations("classpath:db/migration").target(before).load().migrate();
        Timestamp now = Timestamp.from(Instant.now());
        try (Connection c = h2.getConnection()) {
            insertCa(c, ca.root().keyId(), "ROOT", Pem.certificates(List.of(ca.root().certificate())),
                    sealV1(kekBytes, rootKey, ca.root().keyId(), random), now);
            insertCa(c, ca.intermediate().keyId(), "INTERMEDIATE",
                    Pem.certificates(List.of(ca.intermediate().certificate())),
                    sealV1(kekBytes, old.intermediateKey(), ca.intermediate().keyId(), random), now);
            try (PreparedStatement s = c.prepareStatement("insert into signing_keys (kid, algorithm, status, public_jwk,"
                    + " sealed_private_key, created_at, activated_at) values (?, 'ES256', 'ACTIVE', ?, ?, ?, ?)")) {
                s.setString(1, jwk.getKeyID());
                s.setString(2, jwk.toJSONString());
                s.setString(3, sealV1(kekBytes, jwtKeys.getPrivate(), jwk.getKeyID(), random));
                s.setTimestamp(4, now);
                s.setTimestamp(5, now);
                s.executeUpdate();
            }
        }

        try (RunningServer lanyard = RunningServer.start(dir)) {
            assertThat(lanyard.server().rootFingerprint()).isEqualTo("sha256:" + Pem.sha256Fingerprint(ca.root().certificate()));
            lanyard.register("spiffe://lanyard.local/ns/a/sa/b");
            Credential issued = lanyard.bootstrap("spiffe://lanyard.local/ns/a/sa/b");
            issued.leaf().verify(ca.intermediate().certificate().getPublicKey());
            assertThat(lanyard.server().jwtKeys().active().kid()).isEqualTo(jwk.getKeyID());
        }
        try (Connection c = h2.getConnection(); var rows = c.createStatement().executeQuery(
                "select id, sealed_private_key from custody_keys")) {
            int n = 0;
            while (rows.next()) {
                n++;
                assertThat(Base64.getDecoder().decode(rows.getString(2))[0]).as("re-wrapped to the format with KEK ids")
                        .isEqualTo((byte) 2);
            }
            assertThat(n).isEqualTo(3);
        }
    }

    private static void insertCa(Connection c, String id, String kind, String pem, String sealed, Timestamp at)
            throws Exception {
        try (PreparedStatement s = c.prepareStatement("insert into ca_keys (id, kind, status, certificate_pem,"
                + " sealed_private_key, not_after, created_at, activated_at) values (?, ?, 'ACTIVE', ?, ?, ?, ?, ?)")) {
            s.setString(1, id);
            s.setString(2, kind);
            s.setString(3, pem);
            s.setString(4, sealed);
            s.setTimestamp(5, Timestamp.from(Instant.now().plusSeconds(365L * 86400)));
            s.setTimestamp(6, at);
            s.setTimestamp(7, at);
            s.executeUpdate();
        }
    }

    /** The sealed format before KEK ids, byte for byte: 1 | wrapNonce | wrapped data key | nonce | ciphertext. */
    private static String sealV1(byte[] kek, PrivateKey key, String keyId, SecureRandom random) throws Exception {
        byte[] aad = ("lanyard-sealed-key-v1:" + keyId).getBytes(StandardCharsets.UTF_8);
        byte[] dataKey = new byte[32];
        byte[] wrapNonce = new byte[12];
        byte[] nonce = new byte[12];
        random.nextBytes(dataKey);
        random.nextBytes(wrapNonce);
        random.nextBytes(nonce);
        byte[] wrapped = gcm(kek, wrapNonce, aad, dataKey);
        byte[] ciphertext = gcm(dataKey, nonce, aad, key.getEncoded());
        return Base64.getEncoder().encodeToString(ByteBuffer.allocate(1 + 12 + wrapped.length + 12 + ciphertext.length)
                .put((byte) 1).put(wrapNonce).put(wrapped).put(nonce).put(ciphertext).array());
    }

    private static byte[] gcm(byte[] key, byte[] nonce, byte[] aad, byte[] plain) throws Exception {
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
        cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
        cipher.updateAAD(aad);
        return cipher.doFinal(plain);
    }
}
