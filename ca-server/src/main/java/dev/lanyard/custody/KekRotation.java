package dev.lanyard.custody;

import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.crypto.KekRing;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.KeySealException;
import dev.lanyard.store.JdbcKekRotations;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
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
    /** Re-wrap passes before a rotation that keeps finding keys under another KEK gives up. */
    private static final int MAX_PASSES = 5;

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
        keks.onRefresh(() -> adoptRecorded(false));
    }

    /**
     * At start: loads the KEK the last rotation recorded if it is not the configured one (the old
     * one stays readable), then re-wraps whatever is not yet under the current KEK: keys sealed by
     * versions before KEK ids, and rows an interrupted rotation left behind.
     *
     * @throws KeySealException if this server cannot open every key the store holds (the recorded KEK
     *                          is not loadable here, or keys are wrapped by a KEK it does not hold): it
     *                          would run without its CA and JWT keys, or seal new ones under a KEK the
     *                          others do not use, so it does not start, and says once which KEK it needs
     */
    public void atStart() {
        adoptRecorded(true);
        SoftwareCustody.Rewrap done = custody.rewrapAll();
        if (!done.failed().isEmpty()) {
            throw new KeySealException(done.failed().size() + " private keys in the store " + done.failed()
                    + " are sealed under " + (done.missingKeks().isEmpty() ? "a key-encryption key"
                            : "key-encryption key " + String.join(", ", done.missingKeks()))
                    + ", which this server does not hold (it holds " + keks.all().stream().map(KeyEncryptionKey::id)
                            .collect(java.util.stream.Collectors.joining(", "))
                    + "); it cannot open them, so it does not start. Give it that KEK: kek.file set to the KEK file"
                    + " of the server this store comes from (`lanyard restore` names the KEK a backup needs), or the"
                    + " same KEK passphrase with that server's kek.salt");
        }
        if (done.rewritten() > 0) {
            LOG.info("re-wrapped {} data keys under key-encryption key {}", done.rewritten(), keks.current().id());
        }
    }

    /**
     * Makes the KEK the last rotation recorded current here, if it is not and its file is readable
     * (another replica rotated, or this one restarted before kek.file was changed).
     *
     * @param starting at start, when the refusal stops the server, rather than before a seal or an open
     * @throws KeySealException if that KEK cannot be loaded here: sealing under the older one would
     *                          leave a key that retiring the older KEK makes unopenable
     */
    private synchronized void adoptRecorded(boolean starting) {
        if (rotating) {
            return;
        }
        Optional<JdbcKekRotations.KekRotationRecord> last = history.latest();
        // A KEK this process holds already is not news (it may be the one a rotation here is leaving).
        if (last.isEmpty() || keks.find(last.get().kekId()).isPresent()) {
            return;
        }
        String kekId = last.get().kekId();
        Path file = last.get().kekFile();
        String problem;
        try {
            KeyEncryptionKey recorded = KeyEncryptionKey.fromFile(file);
            if (recorded.id().equals(kekId)) {
                keks.makeCurrent(recorded);
                LOG.info("using key-encryption key {} from {} (the last rotate-kek); set kek.file to it",
                        recorded.id(), file);
                return;
            }
            problem = "it holds key-encryption key " + recorded.id() + " now";
        } catch (NoSuchFileException e) {
            problem = "no such file here";
        } catch (IOException e) {
            problem = e.getMessage();
        }
        if (starting) {
            throw new KeySealException("the store's keys are sealed (or being re-wrapped) under key-encryption key "
                    + kekId + ", which this server does not hold: `lanyard keys rotate-kek` recorded it as current,"
                    + " and this server cannot load it from " + file + " (" + problem + "), so it does not start."
                    + " Give it that KEK: make " + file + " readable here (owner-only), or set kek.file to a copy of"
                    + " it");
        }
        throw new KeySealException("key-encryption key " + kekId + " is current (`lanyard keys rotate-kek` recorded"
                + " it) but this server cannot load it from " + file + " (" + problem + "); refusing to seal keys"
                + " under the older key-encryption key " + keks.current().id() + " (and keys wrapped by " + kekId
                + " cannot be opened here): make " + file + " readable here (owner-only), or set kek.file to a"
                + " copy of it and restart");
    }

    /**
     * Makes the KEK in {@code newKekFile} current and re-wraps every data key under it. The rotation
     * is recorded, together with {@code record}, before the first key is re-wrapped: a server that
     * stops mid-way (or another replica) loads the new KEK from that record beside its kek.file, so
     * it opens keys wrapped either way, and {@link #atStart()} re-wraps the rest. It returns only
     * once a pass over the table finds every sealed key under the new KEK.
     *
     * @throws IOException if the file cannot be read or is not a KEK file (nothing changed then)
     * @throws IllegalStateException if some keys could not be re-wrapped (named; the rest were), or
     *                               keys sealed under another KEK kept being stored meanwhile
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
            done = rewrapUntilSettled(next);
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

    /**
     * Re-wraps until a pass, after the first, finds every key under {@code next} already: a key
     * sealed under the old KEK just before {@code next} became current (here, or on a replica that
     * had not seen the rotation yet) can be stored after the first pass read the table, and would
     * be lost when the old KEK is retired.
     */
    private SoftwareCustody.Rewrap rewrapUntilSettled(KeyEncryptionKey next) {
        int rewritten = 0;
        for (int pass = 1; ; pass++) {
            SoftwareCustody.Rewrap done = custody.rewrapAll();
            rewritten += done.rewritten();
            if (!done.failed().isEmpty() || pass > 1 && done.rewritten() == 0) {
                return new SoftwareCustody.Rewrap(rewritten, done.failed(), done.missingKeks());
            }
            if (pass == MAX_PASSES) {
                throw new IllegalStateException("key-encryption key rotation to " + next.id() + " did not settle:"
                        + " keys sealed under another key-encryption key were still being stored after " + pass
                        + " passes (" + done.rewritten() + " in the last; is a replica running that cannot load "
                        + next.id() + "?). Every key found was re-wrapped; keep the old KEK file and run rotate-kek"
                        + " again");
            }
        }
    }
}
