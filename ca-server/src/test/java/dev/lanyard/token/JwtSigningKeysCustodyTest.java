package dev.lanyard.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.Payload;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.PrivateKeySealer;
import dev.lanyard.custody.KeyCustody;
import dev.lanyard.custody.Pkcs11Custody;
import dev.lanyard.custody.SoftwareCustody;
import dev.lanyard.replica.DatabaseLease;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.RotationPolicy;
import dev.lanyard.rotation.StepLog;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcLeases;
import dev.lanyard.store.JdbcSealedKeyRepository;
import dev.lanyard.store.JdbcSigningKeyRepository;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.testing.SoftHsm;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * JWT signing keys on a real store, in real custody (software, and a SoftHSM2 token): a dropped key's
 * custody key goes before its row, so a failure or crash between the two never leaves a private key
 * that no row names; what it does leave (a retired row whose key is gone) is harmless and finished by
 * the next tick.
 */
class JwtSigningKeysCustodyTest {

    private static final Duration LIFETIME = Duration.ofHours(24);
    private static final Duration LEAD = Duration.ofMinutes(10);
    private static final Duration RETENTION = Duration.ofHours(1);

    private final MutableClock clock = new MutableClock(Instant.now());
    private final CryptoProviders crypto = CryptoProviders.select();
    private final SecureRandom random = new SecureRandom();

    @TempDir
    Path dir;
    Database db;
    KeyEncryptionKey kek;
    JdbcAuditLog audit;
    JdbcSigningKeyRepository rows;

    @BeforeEach
    void open() throws Exception {
        db = Database.sqliteFile(dir);
        kek = KeyEncryptionKey.generateFile(dir.resolve("kek"), random);
        audit = new JdbcAuditLog(db.dataSource());
        rows = new JdbcSigningKeyRepository(db.dataSource());
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void aKeyWhoseDestroyFailsKeepsItsRowAndIsDestroyedAndDroppedByTheNextTick() throws Exception {
        KeyCustody custody = custody("software");
        JwtSigningKeys keys = keys(custody);
        StoredSigningKey first = retireFirstKeyUntilItsDropIsDue(keys);

        // The store refuses to delete the sealed key: the destroy fails as a crash before it would.
        sql("create trigger refuse_test_destroy before delete on custody_keys when old.id = '"
                + first.custodyKeyId() + "' begin select raise(abort, 'refused by the test'); end");
        assertThatThrownBy(() -> keys.tick(audited())).satisfies(e -> Assertions.assertThat(rootMessage(e))
                .contains("refused by the test"));
        assertThat(rows.all()).as("the row stays, so the drop is retried").extracting(StoredSigningKey::kid)
                .contains(first.kid());
        assertThat(dropRecords(first.kid())).isZero();

        sql("drop trigger refuse_test_destroy");
        keys.tick(audited());
        assertThat(rows.all()).extracting(StoredSigningKey::kid).doesNotContain(first.kid());
        assertThat(custody.list()).extracting(KeyCustody.KeyEntry::id).doesNotContain(first.custodyKeyId())
                .as("every key in custody is named by a row")
                .containsExactlyInAnyOrderElementsOf(rows.all().stream().map(StoredSigningKey::custodyKeyId).toList());
        assertThat(dropRecords(first.kid())).isOne();
    }

    @ParameterizedTest
    @ValueSource(strings = {"software", "pkcs11"})
    void aDropThatStoppedAfterDestroyingTheKeyLeavesARetiredRowThatHarmsNothingAndGoesAtTheNextTick(String kind)
            throws Exception {
        JwtSigningKeys keys = keys(custody(kind));
        StoredSigningKey first = retireFirstKeyUntilItsDropIsDue(keys);

        // What a replica that stopped between the two steps leaves: the key destroyed, its RETIRED row kept.
        assertThat(custody(kind).destroy(first.custodyKeyId())).isTrue();

        // A server started now opens only the active key: it signs, and its JWKS still lists the retired one.
        KeyCustody restartedCustody = custody(kind);
        JwtSigningKeys restarted = keys(restartedCustody);
        restarted.refresh();
        JWSObject signed = new JWSObject(new JWSHeader(JWSAlgorithm.ES256), new Payload("after the crash"));
        signed.sign(restarted.active().signer());
        assertThat(signed.getState()).isEqualTo(JWSObject.State.SIGNED);
        assertThat(restarted.published()).extracting(SigningKey::kid).contains(first.kid());

        restarted.tick(audited());
        assertThat(rows.all()).extracting(StoredSigningKey::kid).doesNotContain(first.kid());
        assertThat(restarted.published()).extracting(SigningKey::kid).doesNotContain(first.kid());
        assertThat(restartedCustody.list()).extracting(KeyCustody.KeyEntry::id).doesNotContain(first.custodyKeyId());
        assertThat(dropRecords(first.kid())).isOne();
    }

    /** Bootstraps, prepares and activates a second key, then moves the clock to the first one's drop; returns its row. */
    private StoredSigningKey retireFirstKeyUntilItsDropIsDue(JwtSigningKeys keys) {
        keys.tick(audited());
        String firstKid = keys.active().kid();
        clock.advance(LIFETIME.minus(LEAD));
        keys.tick(audited());
        clock.advance(LEAD);
        keys.tick(audited());
        assertThat(keys.active().kid()).isNotEqualTo(firstKid);
        clock.advance(RETENTION.plusMinutes(1));
        StoredSigningKey first = rows.all().stream().filter(k -> k.kid().equals(firstKid)).findFirst().orElseThrow();
        assertThat(first.status()).isEqualTo(KeyStatus.RETIRED);
        return first;
    }

    private JwtSigningKeys keys(KeyCustody custody) {
        return new JwtSigningKeys(rows, custody, new RotationPlanner(new RotationPolicy(LIFETIME, LEAD, RETENTION)),
                SigningAlgorithm.ES256, random, clock,
                new DatabaseLease(new JdbcLeases(db.dataSource()), "rotation", "test", Duration.ofMinutes(5), clock));
    }

    /** A custody object of its own, as another replica or a restarted server has. */
    private KeyCustody custody(String kind) {
        if (kind.equals("pkcs11")) {
            return Pkcs11Custody.open(new Pkcs11Custody.Settings(SoftHsm.MODULE, Optional.of(SoftHsm.token().slot()), 0,
                    SoftHsm.PIN.toCharArray()), clock);
        }
        return new SoftwareCustody(new JdbcSealedKeyRepository(db.dataSource()),
                new PrivateKeySealer(kek, random, crypto), crypto.primary(), crypto.bouncyCastle(), clock);
    }

    /** Each step recorded in the audit trail, in the transaction of its writes (as the server does). */
    private StepLog audited() {
        return (step, write) -> new ChangeRecord(audit, new AuditEvent(clock.instant(), "lanyard", "key.rotate",
                "jwt " + step.kind() + " " + step.keyId(), AuditEvent.Outcome.SUCCESS, "scheduled")).withIfChanged(write);
    }

    private long dropRecords(String kid) {
        return audit.recent(50).stream().filter(e -> e.target().equals("jwt DROP " + kid)).count();
    }

    private void sql(String statement) throws Exception {
        try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute(statement);
        }
    }

    private static String rootMessage(Throwable e) {
        StringBuilder messages = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            messages.append(t.getMessage()).append('\n');
        }
        return messages.toString();
    }
}
