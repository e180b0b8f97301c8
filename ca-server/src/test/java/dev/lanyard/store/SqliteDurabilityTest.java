package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.audit.AuditChain;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On SQLite, writes that returned survive the process being killed (SIGKILL, mid-write, with
 * concurrent writers waiting for the lock), and the audit chain they form is intact. That the log is
 * fsync'd at each commit (what a power loss needs) is SQLite's synchronous=FULL, checked on every
 * open and by the storage contract; the README's strace of a running server shows the syncs.
 */
class SqliteDurabilityTest {

    @TempDir
    Path dir;

    @Test
    void appendsThatReturnedSurviveAKilledProcess() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                Writers.class.getName(), dir.toString()).redirectErrorStream(true).start();
        Set<String> acknowledged = new HashSet<>();
        List<String> output = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while (acknowledged.size() < 300 && (line = out.readLine()) != null) {
                output.add(line);
                if (line.startsWith("ACK ")) {
                    acknowledged.add(line.substring(4));
                }
            }
            process.destroyForcibly(); // SIGKILL: no shutdown hook, no close, writers mid-transaction
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(acknowledged).as("the writers' output: %s", output).hasSize(300);

        try (Database db = Database.sqliteFile(dir)) {
            var audit = new JdbcAuditLog(db.dataSource());
            Set<String> stored = new HashSet<>();
            AuditChain.Verifier verifier = new AuditChain.Verifier();
            long after = 0;
            List<AuditRecord> page;
            while (!(page = audit.list(AuditQuery.all(after, 1000))).isEmpty()) {
                for (AuditRecord r : page) {
                    assertThat(verifier.accept(r)).isEmpty();
                    stored.add(r.event().action());
                }
                after = page.get(page.size() - 1).id();
            }
            assertThat(stored).containsAll(acknowledged);
        }
    }

    /** The process that is killed: four threads appending audit records, each printed once it returned. */
    public static final class Writers {
        public static void main(String[] args) {
            Database db = Database.sqliteFile(Path.of(args[0]));
            var audit = new JdbcAuditLog(db.dataSource());
            for (int t = 0; t < 4; t++) {
                int thread = t;
                new Thread(() -> {
                    for (int i = 0; ; i++) {
                        String action = "test.w" + thread + "." + i;
                        audit.record(new AuditEvent(Instant.now(), "writer", action, "t", AuditEvent.Outcome.SUCCESS, ""));
                        synchronized (System.out) {
                            System.out.println("ACK " + action);
                            System.out.flush();
                        }
                    }
                }).start();
            }
        }
    }
}
