package dev.lanyard.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.spiffe.SpiffeId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PolicyFileWatcherTest {

    private static final SpiffeId WEB = SpiffeId.parse("spiffe://acme.internal/ns/shop/sa/web");
    private static final Instant MODIFIED = Instant.parse("2030-01-01T00:00:00Z");
    // Long after every write, so the modification time alone tells whether the file changed.
    private static final Clock LATER = Clock.fixed(MODIFIED.plus(Duration.ofHours(1)), ZoneOffset.UTC);

    @TempDir
    Path dir;

    private final PolicyStore store = new PolicyStore();
    private final ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(1);

    @AfterEach
    void stopScheduler() {
        scheduler.shutdownNow();
    }

    private static String policy(long version, String scope) {
        return "version: " + version + "\ngrants { spiffe_ids: \"" + WEB + "\" audience: \"payments\" scopes: \""
                + scope + "\" }\n";
    }

    private Path write(String name, String content, int secondsAfter) throws Exception {
        Path file = Files.writeString(dir.resolve(name), content);
        Files.setLastModifiedTime(file, FileTime.from(MODIFIED.plusSeconds(secondsAfter)));
        return file;
    }

    private PolicyFileWatcher watcher(Path file, ScheduledExecutorService on, Clock clock) {
        return new PolicyFileWatcher(file, store, on, Duration.ofSeconds(30), clock);
    }

    private List<String> missing(String scope) {
        return List.copyOf(store.current().missingScopes(WEB, "payments", List.of(scope)));
    }

    @Test
    void theListenerHearsOfEveryChangeOnce() throws Exception {
        List<String> heard = new java.util.ArrayList<>();
        Path file = write("policy.txtpb", policy(1, "payments.read"), 0);
        PolicyFileWatcher watcher = new PolicyFileWatcher(file, store, scheduler, Duration.ofSeconds(30), LATER,
                new PolicyFileWatcher.Listener() {
                    @Override
                    public void applied(long version) {
                        heard.add("applied " + version);
                    }

                    @Override
                    public void refused(String reason) {
                        heard.add("refused");
                    }
                });
        watcher.start();
        write("policy.txtpb", "version: 2\ngrants {", 10);
        watcher.poll();
        watcher.poll();
        write("policy.txtpb", policy(2, "payments.charge"), 20);
        watcher.poll();

        assertThat(heard).containsExactly("applied 1", "refused", "applied 2");
    }

    @Test
    void appliesTheFileAtStartAndSchedulesPolling() throws Exception {
        Path file = write("policy.txtpb", policy(1, "payments.read"), 0);
        PolicyFileWatcher watcher = watcher(file, scheduler, LATER);

        watcher.start();

        assertThat(store.current().version()).isEqualTo(1);
        assertThat(missing("payments.read")).isEmpty();
        assertThat(scheduler.getQueue()).hasSize(1);
        watcher.close();
        scheduler.purge();
        assertThat(scheduler.getQueue()).isEmpty();
    }

    @Test
    void refusesToStartOnABrokenFile() throws Exception {
        Path file = write("policy.txtpb", "version: 1\ngrants { hunter2 }\n", 0);
        PolicyFileWatcher watcher = watcher(file, scheduler, LATER);

        assertThatThrownBy(watcher::start)
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessageStartingWith("policy file policy.txtpb is not a valid lanyard.v1.Policy in text format");
        assertThat(scheduler.getQueue()).isEmpty();
        assertThat(store.current().version()).isZero();
    }

    @Test
    void refusesToStartOnAScopeNameNoClientVerifierAcceptsNamingTheFileAndThePositionOnly() throws Exception {
        Path file = write("policy.txtpb", policy(1, "foo_"), 0);
        assertThatThrownBy(() -> watcher(file, scheduler, LATER).start())
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessageStartingWith("policy file " + file + " not applied: grants[0].scopes[0] (4 characters)"
                        + " is not a scope name every verifier accepts")
                .hasMessageNotContaining("\"foo_\"");
        assertThat(store.current().version()).isZero();
    }

    @Test
    void keepsThePolicyInForceWhenAChangedFileHasAScopeNameNoClientVerifierAccepts() throws Exception {
        Path file = write("policy.txtpb", policy(3, "payments.read"), 0);
        PolicyFileWatcher watcher = watcher(file, scheduler, LATER);
        watcher.start();

        write("policy.txtpb", policy(4, "a__b"), 10);
        assertThat(watcher.poll()).isFalse();
        assertThat(watcher.lastError()).hasValueSatisfying(error -> assertThat(error)
                .contains("keeping version 3: grants[0].scopes[0] (4 characters) is not a scope name every verifier"
                        + " accepts").doesNotContain("\"a__b\""));
        assertThat(store.current().version()).isEqualTo(3);
    }

    @Test
    void aFileThatIsThePolicyStoredBeforeTheRuleStartsAndKeepsItsGrants() throws Exception {
        // stored (by this file, before the server refused such names): refusing it now would stop the CA
        store.apply(PolicyFiles.parse("policy.txtpb", policy(2, "old_name_").getBytes()));
        Path file = write("policy.txtpb", policy(2, "old_name_"), 0);
        watcher(file, scheduler, LATER).start();
        assertThat(store.current().version()).isEqualTo(2);
    }

    @Test
    void refusesToStartTwice() throws Exception {
        PolicyFileWatcher watcher = watcher(write("policy.txtpb", policy(1, "payments.read"), 0), scheduler, LATER);
        watcher.start();

        assertThatThrownBy(watcher::start).isInstanceOf(IllegalStateException.class)
                .hasMessageEndingWith("is already started");
    }

    @Test
    void refusesANonPositiveInterval() {
        assertThatThrownBy(() -> new PolicyFileWatcher(dir.resolve("p.txtpb"), store, scheduler, Duration.ZERO, LATER))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("policy poll interval must be positive, got PT0S");
    }

    @Test
    void reloadsAChangedFileKeepingTheLastGoodPolicyWhileItIsBroken() throws Exception {
        Path file = write("policy.txtpb", policy(1, "payments.read"), 0);
        PolicyFileWatcher watcher = watcher(file, scheduler, LATER);
        watcher.start();

        assertThat(watcher.poll()).isFalse();

        write("policy.txtpb", "version: 2\ngrants { spiffe_ids: \"hunter2-secret\n", 10);
        assertThat(watcher.poll()).isFalse();
        assertThat(store.current().version()).isEqualTo(1);
        assertThat(missing("payments.read")).isEmpty();
        assertThat(watcher.lastError()).hasValueSatisfying(error -> assertThat(error)
                .startsWith("policy file " + file + " not applied, keeping version 1: policy file policy.txtpb is"
                        + " not a valid lanyard.v1.Policy in text format: error at line")
                .doesNotContain("hunter2"));

        write("policy.txtpb", policy(2, "payments.charge"), 20);
        assertThat(watcher.poll()).isTrue();
        assertThat(store.current().version()).isEqualTo(2);
        assertThat(missing("payments.charge")).isEmpty();
        assertThat(missing("payments.read")).containsExactly("payments.read");
        assertThat(watcher.lastError()).isEmpty();
    }

    @Test
    void keepsThePolicyWhenTheFileFailsValidationOrGoesBackInVersion() throws Exception {
        Path file = write("policy.txtpb", policy(3, "payments.read"), 0);
        PolicyFileWatcher watcher = watcher(file, scheduler, LATER);
        watcher.start();

        write("policy.txtpb", policy(4, "Payments Read"), 10);
        assertThat(watcher.poll()).isFalse();
        assertThat(watcher.lastError()).hasValueSatisfying(error -> assertThat(error)
                .contains("keeping version 3: grant 0: scope \"Payments Read\" is not well formed"));

        write("policy.txtpb", policy(2, "payments.charge"), 20);
        assertThat(watcher.poll()).isFalse();
        assertThat(watcher.lastError()).hasValueSatisfying(error -> assertThat(error)
                .endsWith("keeping version 3: policy version 2 is not greater than the version in force, 3"));
        assertThat(store.current().version()).isEqualTo(3);
    }

    @Test
    void keepsThePolicyWhileTheFileIsMissingAndClearsTheErrorWhenItComesBack() throws Exception {
        String content = policy(1, "payments.read");
        Path file = write("policy.txtpb", content, 0);
        PolicyFileWatcher watcher = watcher(file, scheduler, LATER);
        watcher.start();

        Files.delete(file);
        assertThat(watcher.poll()).isFalse();
        assertThat(watcher.lastError()).hasValue("policy file " + file
                + " not applied, keeping version 1: cannot be read (NoSuchFileException)");
        assertThat(store.current().version()).isEqualTo(1);

        write("policy.txtpb", content, 30);
        assertThat(watcher.poll()).isFalse();
        assertThat(watcher.lastError()).isEmpty();
    }

    @Test
    void aTouchWithoutAChangeOfContentAppliesNothing() throws Exception {
        Path file = write("policy.txtpb", policy(1, "payments.read"), 0);
        PolicyFileWatcher watcher = watcher(file, scheduler, LATER);
        watcher.start();

        write("policy.txtpb", policy(1, "payments.read"), 10);

        assertThat(watcher.poll()).isFalse();
        assertThat(watcher.lastError()).isEmpty();
    }

    @Test
    void anUnchangedTimestampAndSizeSkipReadingOnceTheReadWasWellAfterTheWrite() throws Exception {
        Path file = write("policy.txtpb", policy(1, "payments.read"), 0);
        PolicyFileWatcher watcher = watcher(file, scheduler, LATER);
        watcher.start();

        // Same length, same timestamp: indistinguishable without reading, and not read.
        write("policy.txtpb", policy(2, "payments.reed"), 0);

        assertThat(watcher.poll()).isFalse();
        assertThat(store.current().version()).isEqualTo(1);
    }

    @Test
    void readsAgainWhileTheLastReadWasSoSoonAfterTheWriteThatTheTimestampCouldHideAChange() throws Exception {
        Path file = write("policy.txtpb", policy(1, "payments.read"), 0);
        Clock sameTick = Clock.fixed(MODIFIED, ZoneOffset.UTC);
        PolicyFileWatcher watcher = watcher(file, scheduler, sameTick);
        watcher.start();

        write("policy.txtpb", policy(2, "payments.reed"), 0);

        assertThat(watcher.poll()).isTrue();
        assertThat(store.current().version()).isEqualTo(2);
    }

    @Test
    void readsJsonFilesToo() throws Exception {
        Path file = write("policy.json", "{\"version\": 1, \"grants\": [{\"spiffeIds\": [\"" + WEB
                + "\"], \"audience\": \"payments\", \"scopes\": [\"payments.read\"]}]}", 0);
        PolicyFileWatcher watcher = watcher(file, scheduler, LATER);

        watcher.start();

        assertThat(missing("payments.read")).isEmpty();
    }

    @Test
    void theScheduledPollPicksUpAChange() throws Exception {
        Path file = write("policy.txtpb", policy(1, "payments.read"), 0);
        PolicyFileWatcher watcher = new PolicyFileWatcher(file, store, scheduler, Duration.ofMillis(10), LATER);
        watcher.start();

        write("policy.txtpb", policy(2, "payments.charge"), 10);

        // Waits for the outcome, not for a time: the deadline only bounds a broken run.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (store.current().version() != 2 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(store.current().version()).isEqualTo(2);
        watcher.close();
    }
}
