package dev.lanyard.tools;

import dev.lanyard.store.Database;
import dev.lanyard.store.Preloader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Fills a store with realistic issuance records, so `bench issue` can compare a full store with a fresh one. */
@Command(name = "preload", description = "Write N realistic certificate records, each with its chained audit record,"
        + " straight into the database in large batches: --data DIR for H2 (before the server starts: it holds the"
        + " file), or --database-url for PostgreSQL (any time). Then run `bench issue` against the server.")
final class BenchPreload implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Option(names = "--count", required = true, description = "how many certificates (with their audit records)")
    long count;
    @Option(names = "--identities", defaultValue = "10000", description = "spread over this many SPIFFE IDs"
            + " (default: ${DEFAULT-VALUE})")
    int identities;
    @Option(names = "--trust-domain", defaultValue = "lanyard.local", description = "(default: ${DEFAULT-VALUE})")
    String trustDomain;
    @Option(names = "--data", description = "the server's data directory (H2 or SQLite)")
    Path data;
    @picocli.CommandLine.Mixin
    DatabaseOptions database;

    @Override
    public Integer call() {
        database.requireExactlyOne(spec, data, "--data");
        if (count < 1 || identities < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--count and --identities must be positive");
        }
        PrintWriter out = spec.commandLine().getOut();
        if (data != null) {
            // A preload fills a store before its server first starts, as the server would make the directory.
            try {
                java.nio.file.Files.createDirectories(data);
            } catch (java.io.IOException e) {
                throw new CliFailure(data.toString(), "cannot create the data directory: " + e.getMessage(),
                        "nothing was written", ExitCodes.FAILED);
            }
        }
        long start = System.nanoTime();
        try (Database db = database.open(data)) {
            long before = db.bytesOnDisk();
            new Preloader(db.dataSource(), Clock.systemUTC(), new Random()).preload(count, trustDomain, identities,
                    "bench-preload", done -> {
                        if (done % 100_000 == 0 || done == count) {
                            out.printf("  %,d written%n", done);
                            out.flush();
                        }
                    });
            out.printf("preloaded %,d certificates with their audit records in %.1f s; store %,d → %,d bytes%n", count,
                    (System.nanoTime() - start) / 1e9, before, db.bytesOnDisk());
        }
        out.flush();
        return 0;
    }
}
