package dev.lanyard.policy;

import dev.lanyard.v1.Policy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a policy file to a {@link PolicyStore} and re-applies it when it changes, polling on a
 * scheduler it is given (it starts no threads of its own).
 *
 * <p>A poll compares the file's modification time and size with the last poll, and reads and
 * hashes it only when they moved, or when the last read was so soon after the modification that
 * a second write within the same timestamp tick could hide behind an unchanged time. Content
 * already seen, good or bad, is not applied again. A file that cannot be read, does not parse or
 * does not validate leaves the last good policy in force; the error is logged once per content,
 * without the file's contents.
 */
public final class PolicyFileWatcher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PolicyFileWatcher.class);
    // Coarser than the timestamp granularity of any file system we expect (FAT has 2 s).
    private static final Duration RACY_WINDOW = Duration.ofSeconds(2);

    /** Told once per change of the file: what was applied, or why not (for the audit trail). */
    public interface Listener {
        Listener NONE = new Listener() {
            @Override
            public void applied(long version) {
            }

            @Override
            public void refused(String reason) {
            }
        };

        void applied(long version);

        void refused(String reason);
    }

    private final Path file;
    private final PolicyStore store;
    private final Listener listener;
    private final ScheduledExecutorService scheduler;
    private final Duration interval;
    private final Clock clock;

    private FileTime seenModified;
    private long seenSize = -1;
    private Instant seenAt;
    private byte[] seenDigest;
    private byte[] appliedDigest;
    private volatile String lastError;
    private ScheduledFuture<?> task;

    public PolicyFileWatcher(Path file, PolicyStore store, ScheduledExecutorService scheduler, Duration interval,
            Clock clock) {
        this(file, store, scheduler, interval, clock, Listener.NONE);
    }

    public PolicyFileWatcher(Path file, PolicyStore store, ScheduledExecutorService scheduler, Duration interval,
            Clock clock, Listener listener) {
        this.listener = Objects.requireNonNull(listener, "listener");
        this.file = Objects.requireNonNull(file, "file");
        this.store = Objects.requireNonNull(store, "store");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.clock = Objects.requireNonNull(clock, "clock");
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("policy poll interval must be positive, got " + interval);
        }
        this.interval = interval;
    }

    /**
     * Applies the file now, then polls it every interval. A file that is missing, malformed or
     * invalid at start fails here, so a bad policy stops the server instead of denying everything.
     *
     * @throws IOException if the file cannot be read
     * @throws InvalidPolicyException if it does not parse or validate
     * @throws StalePolicyException if the store already holds a newer version
     */
    public synchronized void start() throws IOException {
        if (task != null) {
            throw new IllegalStateException("policy file watcher for " + file + " is already started");
        }
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
        byte[] content = Files.readAllBytes(file);
        byte[] digest = digest(content);
        remember(attributes, digest);
        Policy policy = parse(content);
        GrantsPolicy applied;
        try {
            applied = apply(policy);
        } catch (InvalidPolicyException e) {
            throw new InvalidPolicyException("policy file " + file + " not applied: " + e.getMessage());
        }
        listener.applied(applied.version());
        appliedDigest = digest;
        lastError = null;
        long millis = interval.toMillis();
        task = scheduler.scheduleWithFixedDelay(this::pollQuietly, millis, millis, TimeUnit.MILLISECONDS);
    }

    /**
     * Checks the file once.
     *
     * @return true if a new policy was put in force
     */
    public synchronized boolean poll() {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (IOException e) {
            return unreadable(e);
        }
        if (unchangedSinceLastRead(attributes)) {
            return false;
        }
        byte[] content;
        try {
            content = Files.readAllBytes(file);
        } catch (IOException e) {
            return unreadable(e);
        }
        byte[] digest = digest(content);
        boolean seen = Arrays.equals(digest, seenDigest);
        remember(attributes, digest);
        if (Arrays.equals(digest, appliedDigest)) {
            // Back to (or still at) the content in force.
            lastError = null;
            return false;
        }
        if (seen) {
            return false;
        }
        try {
            GrantsPolicy applied = apply(parse(content));
            appliedDigest = digest;
            lastError = null;
            log.info("policy file {} applied, version {}", file, applied.version());
            listener.applied(applied.version());
            return true;
        } catch (InvalidPolicyException | StalePolicyException e) {
            return fail(e.getMessage());
        }
    }

    /**
     * Puts {@code policy} in force, held to the rules of a policy applied over gRPC; the very policy in
     * force already is not stale (stored by another replica that read the same file, or by this server
     * before it restarted) and stays in force as stored policies do, even with scope names the server
     * accepted before it refused names no client verifier accepts.
     */
    private GrantsPolicy apply(Policy policy) {
        GrantsPolicy current = store.current();
        if (policy.equals(current.toProto())) {
            return current;
        }
        return store.apply(GrantsPolicy.fromNew(policy));
    }

    /** Why the last change of the file was not applied, if it was not. */
    public Optional<String> lastError() {
        return Optional.ofNullable(lastError);
    }

    /** Stops polling. The scheduler belongs to the caller and is left running. */
    @Override
    public synchronized void close() {
        if (task != null) {
            task.cancel(false);
        }
    }

    private Policy parse(byte[] content) {
        return PolicyFiles.parse(file.getFileName().toString(), content);
    }

    private boolean unchangedSinceLastRead(BasicFileAttributes attributes) {
        if (seenModified == null || !attributes.lastModifiedTime().equals(seenModified)
                || attributes.size() != seenSize) {
            return false;
        }
        Duration readAfterWrite = Duration.between(seenModified.toInstant(), seenAt);
        return readAfterWrite.compareTo(RACY_WINDOW) >= 0;
    }

    private void remember(BasicFileAttributes attributes, byte[] digest) {
        seenModified = attributes.lastModifiedTime();
        seenSize = attributes.size();
        seenAt = clock.instant();
        seenDigest = digest;
    }

    private boolean unreadable(IOException e) {
        // Read it again next time, whatever its timestamps say.
        seenModified = null;
        return fail("cannot be read (" + e.getClass().getSimpleName() + ")");
    }

    private boolean fail(String reason) {
        String message = "policy file " + file + " not applied, keeping version " + store.current().version()
                + ": " + reason;
        if (!message.equals(lastError)) {
            log.error(message);
            listener.refused(message);
        }
        lastError = message;
        return false;
    }

    private void pollQuietly() {
        try {
            poll();
        } catch (RuntimeException e) {
            // An exception would cancel the periodic task; keep watching.
            log.error("policy file {} poll failed: {}", file, e.getClass().getName());
        }
    }

    private static byte[] digest(byte[] content) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(content);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }
}
