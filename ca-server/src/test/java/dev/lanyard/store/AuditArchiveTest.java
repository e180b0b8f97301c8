package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditArchiveFile;
import dev.lanyard.audit.AuditChain;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A range of the chain moves to a file; file and live chain verify as one; an edited file is named. */
class AuditArchiveTest {

    private static final Instant T = Instant.parse("2026-11-01T10:00:00Z");

    @TempDir
    Path dir;
    Database db;
    JdbcAuditLog audit;
    AuditArchive archive;

    @BeforeEach
    void open() {
        db = Database.h2File(dir.resolve("data"));
        audit = new JdbcAuditLog(db.dataSource());
        archive = new AuditArchive(audit, Clock.fixed(T, ZoneOffset.UTC));
        for (int i = 1; i <= 10; i++) {
            audit.record(new AuditEvent(T.plusSeconds(i), "spiffe://example.org/a", "svid.issue", "serial " + i,
                    AuditEvent.Outcome.SUCCESS, i == 3 ? "a reason\twith a tab\nand a line" : ""));
        }
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void archivedRecordsLeaveTheDatabaseAndVerifyWithTheLiveChain() throws Exception {
        Path file = dir.resolve("audit-1.txt");
        List<AuditRecord> stored = all();
        AuditArchive.Result result = archive.archive(7, file, "operator");

        assertThat(result.firstId()).isEqualTo(1);
        assertThat(result.lastId()).isEqualTo(6);
        List<AuditRecord> archived = AuditArchiveFile.read(file);
        assertThat(archived).extracting(AuditRecord::id).containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
        assertThat(archived).as("every field round-trips, escapes included").isEqualTo(stored.subList(0, 6));
        List<AuditRecord> live = all();
        assertThat(live.get(0).id()).as("the live chain starts after the archive").isEqualTo(7);
        AuditRecord note = live.get(live.size() - 1);
        assertThat(note.event().action()).isEqualTo("audit.archive");
        assertThat(note.event().reason()).contains("records 1 to 6", result.lastHash());

        assertThat(verify(archived, live)).isEmpty();
        assertThat(verify(List.of(), live)).as("without the archive the gap shows")
                .hasValue("records 1 to 6 were deleted");
        assertThatThrownBy(() -> archive.archive(7, dir.resolve("again.txt"), "operator"))
                .hasMessageContaining("no live audit records below id 7");
    }

    @Test
    void anEditedArchiveIsNamed() throws Exception {
        Path file = dir.resolve("audit-1.txt");
        archive.archive(7, file, "operator");
        String text = Files.readString(file, StandardCharsets.UTF_8);
        Files.writeString(file, text.replace("serial 4", "serial 40"), StandardCharsets.UTF_8);

        assertThat(verify(AuditArchiveFile.read(file), all()))
                .hasValue("record 4 was edited: its contents do not match its hash");
    }

    @Test
    void aFileThatIsThereIsNeverOverwritten() throws Exception {
        Path file = dir.resolve("audit-1.txt");
        Files.writeString(file, "keep me");
        assertThatThrownBy(() -> archive.archive(7, file, "operator"))
                .isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
        assertThat(Files.readString(file)).isEqualTo("keep me");
        assertThat(all().get(0).id()).as("nothing deleted").isEqualTo(1);
    }

    @Test
    void aSecondArchiveContinuesFromTheFirstOnesLastHash() throws Exception {
        Path first = dir.resolve("audit-1.txt");
        Path second = dir.resolve("audit-2.txt");
        archive.archive(4, first, "operator");
        AuditArchive.Result result = archive.archive(9, second, "operator");

        assertThat(result.firstId()).isEqualTo(4);
        List<AuditRecord> archived = new ArrayList<>(AuditArchiveFile.read(first));
        archived.addAll(AuditArchiveFile.read(second));
        assertThat(verify(archived, all())).isEmpty();
    }

    @Test
    void aLiveChainThatDoesNotStartWhereTheLastArchiveEndedIsNotArchived() throws Exception {
        archive.archive(4, dir.resolve("audit-1.txt"), "operator");
        new Jdbc(db.dataSource()).update("delete from audit_events where id = 4", s -> { });

        assertThatThrownBy(() -> archive.archive(9, dir.resolve("audit-2.txt"), "operator"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the audit chain is broken, not archiving it: the live chain starts at record 5 but no"
                        + " audit.archive record names record 4 as the end of an archive (records were deleted some"
                        + " other way)");
        assertThat(Files.exists(dir.resolve("audit-2.txt"))).isFalse();
        assertThat(all().get(0).id()).as("nothing deleted").isEqualTo(5);
    }

    @Test
    void aLiveChainWhoseStartWasDeletedWithoutAnArchiveIsNotArchived() throws Exception {
        new Jdbc(db.dataSource()).update("delete from audit_events where id <= 2", s -> { });

        assertThatThrownBy(() -> archive.archive(7, dir.resolve("audit-1.txt"), "operator"))
                .hasMessageContaining("the live chain starts at record 3 but no audit.archive record names record 2");
        assertThat(Files.exists(dir.resolve("audit-1.txt"))).isFalse();
    }

    private List<AuditRecord> all() {
        List<AuditRecord> records = new ArrayList<>();
        long after = 0;
        List<AuditRecord> page;
        while (!(page = audit.list(AuditQuery.all(after, 1000))).isEmpty()) {
            records.addAll(page);
            after = page.get(page.size() - 1).id();
        }
        return records;
    }

    private static Optional<String> verify(List<AuditRecord> archived, List<AuditRecord> live) {
        AuditChain.Verifier verifier = new AuditChain.Verifier();
        for (AuditRecord r : archived) {
            Optional<String> broken = verifier.accept(r);
            if (broken.isPresent()) {
                return broken;
            }
        }
        for (AuditRecord r : live) {
            Optional<String> broken = verifier.accept(r);
            if (broken.isPresent()) {
                return broken;
            }
        }
        return Optional.empty();
    }
}
