package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AddRootRequest;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.PrepareIntermediateRequest;
import dev.lanyard.v1.RotateKekRequest;
import dev.lanyard.v1.RotateKeysRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every key change (a rotation step, scheduled or forced, a prepared or imported intermediate, an
 * added root, a KEK rotation) is stored in one transaction with its audit record: when the record
 * cannot be stored, the change is not made either, and a key made in custody for it is destroyed.
 */
class KeyStepRecordTest {

    /** Tables a key change writes; none may change when its record is refused. */
    private static final List<String> KEY_TABLES = List.of("ca_keys", "ca_pending_keys", "signing_keys",
            "custody_keys", "kek_rotations");

    @TempDir
    Path dir;
    RunningServer lanyard;
    KeyServiceGrpc.KeyServiceBlockingStub keys;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
        keys = KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void aScheduledStepWhoseRecordCannotBeStoredIsNotMadeAndTheNextTickMakesIt() throws Exception {
        Map<String, Long> before = rows();
        lanyard.refuseAuditRecords("key.rotate");
        // Ten minutes before the issuing CA's hand-over at day 182.5: its successor is due, and JWT keys are too.
        lanyard.clock().advance(Duration.ofDays(182).plusHours(12).minusMinutes(10));
        lanyard.server().rotateNow();
        assertThat(rows()).as("no key stored without its record").isEqualTo(before);
        assertThat(lanyard.server().caRotation().intermediates()).extracting(k -> k.status())
                .containsExactly(KeyStatus.ACTIVE);

        lanyard.refuseAuditRecords(null);
        lanyard.server().rotateNow();
        String prepared = lanyard.server().caRotation().intermediates().stream()
                .filter(k -> k.status() == KeyStatus.PREPARED).findFirst().orElseThrow().id();
        assertThat(rotations()).extracting(AuditEvent::target).contains("x509 prepare " + prepared);
        assertThat(rotations()).allSatisfy(e -> {
            assertThat(e.actor()).isEqualTo("lanyard");
            assertThat(e.reason()).isEqualTo("scheduled");
        });
        assertThat(rows().get("ca_keys")).isEqualTo(before.get("ca_keys") + 1);
        assertThat(rows().get("custody_keys")).as("one custody key per stored key")
                .isEqualTo(before.get("custody_keys") + (rows().get("signing_keys") - before.get("signing_keys")) + 1);
    }

    @Test
    void aForcedStepWhoseRecordCannotBeStoredIsNotMade() throws Exception {
        Map<String, Long> before = rows();
        lanyard.refuseAuditRecords("keys.rotate");
        for (KeyKind kind : List.of(KeyKind.KEY_KIND_JWT, KeyKind.KEY_KIND_X509)) {
            assertInternal(() -> keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(kind).build()));
        }
        assertThat(rows()).isEqualTo(before);

        lanyard.refuseAuditRecords(null);
        var listed = keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_JWT).build());
        String prepared = listed.getKeysList().stream().filter(k -> k.getStatus().equals("PREPARED")).findFirst()
                .orElseThrow().getKeyId();
        assertThat(lanyard.server().audit().recent(50)).filteredOn(e -> e.action().equals("keys.rotate"))
                .singleElement().satisfies(e -> {
                    assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS);
                    assertThat(e.target()).isEqualTo("KEY_KIND_JWT");
                    assertThat(e.reason()).as("the record names the step and the key").isEqualTo("prepare " + prepared);
                });
        assertThat(rows().get("signing_keys")).isEqualTo(before.get("signing_keys") + 1);
    }

    @Test
    void aPreparedIntermediateAnAddedRootOrAKekRotationWhoseRecordCannotBeStoredIsNotMade() throws Exception {
        Map<String, Long> before = rows();
        Path newKek = dir.resolve("kek-2");
        KeyEncryptionKey next = KeyEncryptionKey.generateFile(newKek, new SecureRandom());

        lanyard.refuseAuditRecords("ca.prepare");
        assertInternal(() -> keys.prepareIntermediate(PrepareIntermediateRequest.getDefaultInstance()));
        lanyard.refuseAuditRecords("ca.add-root");
        assertInternal(() -> keys.addRoot(AddRootRequest.newBuilder().setGenerate(true).build()));
        lanyard.refuseAuditRecords("keys.rotate-kek");
        assertInternal(() -> keys.rotateKek(RotateKekRequest.newBuilder().setNewKekFile(newKek.toString()).build()));
        assertThat(rows()).as("the made keys were destroyed, and nothing else was stored").isEqualTo(before);

        lanyard.refuseAuditRecords(null);
        String pending = keys.prepareIntermediate(PrepareIntermediateRequest.getDefaultInstance()).getKeyId();
        String root = keys.addRoot(AddRootRequest.newBuilder().setGenerate(true).build()).getKeyId();
        keys.rotateKek(RotateKekRequest.newBuilder().setNewKekFile(newKek.toString()).build());
        assertThat(rows().get("ca_pending_keys")).isEqualTo(1);
        assertThat(rows().get("kek_rotations")).isEqualTo(1);
        assertThat(lanyard.server().audit().recent(50))
                .filteredOn(e -> e.outcome() == AuditEvent.Outcome.SUCCESS)
                .extracting(AuditEvent::reason)
                .contains("key " + pending, "root " + root)
                .contains("kek " + next.id());
    }

    @Test
    void concurrentPreparesStoreOneKeyAndAnswerItToEach() throws Exception {
        Map<String, Long> before = rows();
        int callers = 4;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(callers);
        try {
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            List<java.util.concurrent.Future<String>> answers = new java.util.ArrayList<>();
            for (int i = 0; i < callers; i++) {
                answers.add(pool.submit(() -> {
                    go.await();
                    return keys.prepareIntermediate(PrepareIntermediateRequest.getDefaultInstance()).getKeyId();
                }));
            }
            go.countDown();
            java.util.Set<String> ids = new java.util.HashSet<>();
            for (var answer : answers) {
                ids.add(answer.get(60, TimeUnit.SECONDS));
            }
            assertThat(ids).as("one key, answered to every caller").hasSize(1);
        } finally {
            pool.shutdownNow();
        }
        assertThat(rows().get("ca_pending_keys")).isEqualTo(1);
        assertThat(rows().get("custody_keys")).as("no spare key left in custody")
                .isEqualTo(before.get("custody_keys") + 1);
        assertThat(lanyard.server().audit().recent(50)).filteredOn(e -> e.action().equals("ca.prepare"))
                .hasSize(callers).allSatisfy(e -> assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS));
    }

    private static void assertInternal(ThrowingCallable call) {
        assertThatThrownBy(call).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL));
    }

    private List<AuditEvent> rotations() {
        return lanyard.server().audit().recent(200).stream().filter(e -> e.action().equals("key.rotate")).toList();
    }

    private Map<String, Long> rows() throws Exception {
        Map<String, Long> counts = new java.util.TreeMap<>();
        for (String table : KEY_TABLES) {
            counts.put(table, lanyard.rows(table));
        }
        return counts;
    }
}
