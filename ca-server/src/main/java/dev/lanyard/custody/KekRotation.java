package dev.lanyard.custody;

import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.crypto.KekRing;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.store.JdbcKekRotations;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * `lanyard keys rotate-kek`: software custody's data keys re-wrapped under a new key-encryption key
 * while the server keeps signing. The new KEK is read from a file on the server's host (never sent
 * over the wire); the server holds both KEKs from then on, so keys wrapped either way open, and
 * records the rotation (KEK id and file path, not the key) so a restart or another replica loads
 * the new KEK even before the operator points {@code kek.file} at it.
 */
public final class KekRotation {

    private static final Logger LOG = LoggerFactory.getLogger(KekRotation.class);

    /** What a rotation did. */
    public record Outcome(String kekId, int rewrapped, Duration took) {
    }

    private final KekRing keks;
    private final SoftwareCustody custody;
    private final JdbcKekRotations history;
    private final Clock clock;
    private boolean rotating;

    public KekRotation(KekRing keks, SoftwareCustody custody, JdbcKekRotations history, Clock clock) {
        this.keks = keks;
        this.custody = custody;
        this.history = history;
        this.clock = clock;
        keks.onRefresh(this::adoptRecorded);
    }

    /**
     * At start: loads the KEK the last rotation recorded if it is not the configured one (the old
     * one stays readable), then re-wraps whatever is not yet under the current KEK: keys sealed by
     * versions before KEK ids, and rows an interrupted rotation left behind.
     */
    public void atStart() {
        adoptRecorded();
        SoftwareCustody.Rewrap done = custody.rewrapAll();
        if (done.rewritten() > 0) {
            LOG.info("re-wrapped {} data keys under key-encryption key {}", done.rewritten(), keks.current().id());
        }
        if (!done.failed().isEmpty()) {
            LOG.warn("{} sealed keys are wrapped by a key-encryption key this server does not hold: {}",
                    done.failed().size(), done.failed());
        }
    }

    /**
     * Makes the KEK the last rotation recorded current here, if it is not and its file is readable
     * (another replica rotated, or this one restarted before kek.file was changed).
     */
    private synchronized void adoptRecorded() {
        if (rotating) {
            return;
        }
        Optional<JdbcKekRotations.KekRotationRecord> last = history.latest();
        // A KEK this process holds already is not news (it may be the one a rotation here is leaving).
        if (last.isEmpty() || keks.find(last.get().kekId()).isPresent()) {
            return;
        }
        try {
            KeyEncryptionKey recorded = KeyEncryptionKey.fromFile(last.get().kekFile());
            if (recorded.id().equals(last.get().kekId())) {
                keks.makeCurrent(recorded);
                LOG.info("using key-encryption key {} from {} (the last rotate-kek); set kek.file to it",
                        recorded.id(), last.get().kekFile());
            } else {
                LOG.warn("{} no longer holds key-encryption key {} that rotate-kek recorded", last.get().kekFile(),
                        last.get().kekId());
            }
        } catch (IOException e) {
            LOG.warn("cannot read key-encryption key file {} that rotate-kek recorded: {}", last.get().kekFile(),
                    e.getMessage());
        }
    }

    /**
     * Makes the KEK in {@code newKekFile} current and re-wraps every data key under it. The rotation
     * is recorded, together with {@code record}, before the first key is re-wrapped: a server that
     * stops mid-way (or another replica) loads the new KEK from that record beside its kek.file, so
     * it opens keys wrapped either way, and {@link #atStart()} re-wraps the rest.
     *
     * @throws IOException if the file cannot be read or is not a KEK file (nothing changed then)
     * @throws IllegalStateException if some keys could not be re-wrapped (named; the rest were)
     */
    public synchronized Outcome rotate(Path newKekFile, ChangeRecord record) throws IOException {
        KeyEncryptionKey next = KeyEncryptionKey.fromFile(newKekFile);
        long start = System.nanoTime();
        SoftwareCustody.Rewrap done;
        rotating = true; // this rotation's own record is not news to adoptRecorded
        try {
            record.withDetail("kek " + next.id()).with(() -> {
                history.started(next.id(), newKekFile.toAbsolutePath(), clock.instant());
                return null;
            });
            keks.makeCurrent(next);
            done = custody.rewrapAll();
            history.finished(next.id(), done.rewritten(), clock.instant());
        } finally {
            rotating = false;
        }
        if (!done.failed().isEmpty()) {
            throw new IllegalStateException(done.failed().size() + " sealed keys could not be re-wrapped (their"
                    + " key-encryption key is not loaded here): " + done.failed() + "; the other " + done.rewritten()
                    + " were. Restart with the old KEK file readable and run rotate-kek again");
        }
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        LOG.info("key-encryption key rotated to {}: {} data keys re-wrapped in {} ms", next.id(), done.rewritten(),
                took.toMillis());
        return new Outcome(next.id(), done.rewritten(), took);
    }
}
