package dev.lanyard.tools;

import dev.lanyard.store.AuditArchive;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Moves the oldest audit records to a file, on the database directly: H2 with the server stopped
 * (it holds the file), PostgreSQL while replicas run. The file is written and synced before
 * anything is deleted, and the deletion is itself an audit record naming the range and last hash.
 */
@Command(footer = {"%nExample:", "  ./lanyard audit archive --before 1000000 --out audit-2026-11.txt --data lanyard-data   # server stopped",
            "  ./lanyard audit verify --archive audit-2026-11.txt"},
        name = "archive", description = "Move the audit records below --before to a new file, then delete them from"
        + " the database (the live chain continues where the file ends; check both with `audit verify --archive`)."
        + " Works on the database: --data DIR for H2 (stop the server first), or --database-url for PostgreSQL.")
final class AuditArchiveCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Option(names = "--before", required = true, description = "archive every record with a smaller id")
    long before;
    @Option(names = "--out", required = true, description = "the archive file to create (never overwritten)")
    Path out;
    @Option(names = "--data", description = "the server's data directory (H2 or SQLite)")
    Path data;
    @picocli.CommandLine.Mixin
    DatabaseOptions database;

    @Override
    public Integer call() throws Exception {
        database.requireExactlyOne(spec, data, "--data");
        if (before < 2) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--before must be 2 or more");
        }
        String who = "local operator " + System.getProperty("user.name");
        try (Database db = database.open(data)) {
            AuditArchive.Result result = new AuditArchive(new JdbcAuditLog(db.dataSource()),
                    Clock.systemUTC()).archive(before, out, who);
            PrintWriter o = spec.commandLine().getOut();
            o.printf("archived audit records %d to %d (%,d) to %s; the last one's hash is %s%n", result.firstId(),
                    result.lastId(), result.count(), out, result.lastHash());
            o.flush();
        }
        return 0;
    }
}
