package dev.lanyard.server;

import static dev.lanyard.server.CertificateServiceTest.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.RotateKekRequest;
import dev.lanyard.v1.RotateKekResponse;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `lanyard keys rotate-kek` over real mTLS: no failed issuance during it, and the old KEK is not needed after. */
class KekRotationTest {

    private static final String WORKLOAD = "spiffe://lanyard.local/ns/batch/sa/job";

    @TempDir
    Path dir;

    @TempDir
    Path keks;

    @Test
    void rewrapsEveryDataKeyUnderLoadAndTheOldKekCanGoAfterwards() throws Exception {
        Path newKek = keks.resolve("kek-2");
        KeyEncryptionKey next = KeyEncryptionKey.generateFile(newKek, new SecureRandom());
        try (RunningServer lanyard = RunningServer.start(dir)) {
            lanyard.register(WORKLOAD);
            Credential held = lanyard.bootstrap(WORKLOAD);
            var keys = KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()));

            AtomicBoolean running = new AtomicBoolean(true);
            AtomicInteger renewed = new AtomicInteger();
            AtomicInteger failed = new AtomicInteger();
            Thread load = new Thread(() -> {
                while (running.get()) {
                    try {
                        lanyard.renew(held);
                        renewed.incrementAndGet();
                    } catch (RuntimeException e) {
                        failed.incrementAndGet();
                    }
                }
            });
            load.start();
            while (renewed.get() < 3) {
                Thread.sleep(20);
            }
            RotateKekResponse rotated = keys.rotateKek(RotateKekRequest.newBuilder()
                    .setNewKekFile(newKek.toString()).build());
            int before = renewed.get();
            while (renewed.get() < before + 3) {
                Thread.sleep(20);
            }
            running.set(false);
            load.join();

            assertThat(failed.get()).as("failed renewals during the KEK rotation").isZero();
            assertThat(rotated.getKekId()).isEqualTo(next.id());
            // Root, intermediate and the JWT key at least.
            assertThat(rotated.getRewrapped()).isGreaterThanOrEqualTo(3);
            assertThat(keys.rotateKek(RotateKekRequest.newBuilder().setNewKekFile(newKek.toString()).build())
                    .getRewrapped()).as("a second run has nothing left to do").isZero();

            // kek.file still names the old KEK: the restarted server loads the recorded new one.
            lanyard.restart();
            lanyard.renew(held);

            // The old KEK goes: the new one in its place, and every key still opens.
            Files.copy(newKek, dir.resolve("kek"), StandardCopyOption.REPLACE_EXISTING);
            Files.setPosixFilePermissions(dir.resolve("kek"), PosixFilePermissions.fromString("rw-------"));
            Files.delete(newKek);
            lanyard.restart();
            lanyard.renew(held);
            assertThat(lanyard.server().rootFingerprint()).isNotBlank();
        }
    }

    @Test
    void refusesWhatIsNotAKekFileAndChangesNothing() throws Exception {
        try (RunningServer lanyard = RunningServer.start(dir)) {
            lanyard.register(WORKLOAD);
            Credential held = lanyard.bootstrap(WORKLOAD);
            var keys = KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()));
            assertRefused(() -> keys.rotateKek(RotateKekRequest.getDefaultInstance()), Status.Code.INVALID_ARGUMENT,
                    "new_kek_file is required");
            assertRefused(() -> keys.rotateKek(RotateKekRequest.newBuilder()
                    .setNewKekFile(keks.resolve("missing").toString()).build()), Status.Code.FAILED_PRECONDITION,
                    "cannot use");
            Path open = keks.resolve("world-readable");
            KeyEncryptionKey.generateFile(open, new SecureRandom());
            Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
            assertRefused(() -> keys.rotateKek(RotateKekRequest.newBuilder().setNewKekFile(open.toString()).build()),
                    Status.Code.FAILED_PRECONDITION, "readable by others");
            Path garbage = keks.resolve("garbage");
            Files.writeString(garbage, "not a key\n");
            Files.setPosixFilePermissions(garbage, PosixFilePermissions.fromString("rw-------"));
            assertRefused(() -> keys.rotateKek(RotateKekRequest.newBuilder().setNewKekFile(garbage.toString()).build()),
                    Status.Code.FAILED_PRECONDITION, "base64");
            // a key pasted where its file's path goes, or a token, is refused and never repeated
            String pastedKey = Files.readString(open).trim();
            for (String secret : java.util.List.of(pastedKey, PastedSecrets.of(lanyard).get(1))) {
                assertThat(PastedSecrets.refusedWithoutRepeating(() -> keys.rotateKek(RotateKekRequest.newBuilder()
                        .setNewKekFile(secret).build()), Status.Code.FAILED_PRECONDITION, secret))
                        .contains("cannot use new_kek_file (" + secret.length() + " characters)");
                PastedSecrets.assertRefusedRecord(lanyard, "keys.rotate-kek",
                        "invalid new_kek_file (" + secret.length() + " characters)");
                PastedSecrets.assertNotInTheAuditTrail(lanyard, secret);
            }
            lanyard.restart();
            lanyard.renew(held);
            assertRefused(() -> KeyServiceGrpc.newBlockingStub(lanyard.channel(held)).rotateKek(
                    RotateKekRequest.newBuilder().setNewKekFile(open.toString()).build()),
                    Status.Code.PERMISSION_DENIED, "");
        }
    }
}
