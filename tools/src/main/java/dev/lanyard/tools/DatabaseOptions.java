package dev.lanyard.tools;

import dev.lanyard.store.Database;
import dev.lanyard.store.EmbeddedStore;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * For commands that work on the store directly: PostgreSQL's options, as the server's config names
 * them (a mixin), and which embedded store a new data directory gets. The data directory stays each
 * command's own option (--data, --data-dir).
 */
final class DatabaseOptions {

    @Option(names = "--database-url", description = "or PostgreSQL: jdbc:postgresql://... (as database.url in the"
            + " server config)")
    String url;
    @Option(names = "--database-user", defaultValue = "", description = "database user")
    String user;
    @Option(names = "--database-password-env", description = "environment variable holding the database password")
    String passwordEnv;
    @Option(names = "--embedded", description = "h2 or sqlite: the store a new data directory gets (as database.embedded"
            + " in the server config; default sqlite); a directory that holds a store keeps it")
    String embedded;

    /** A usage error unless exactly one of the data directory ({@code dirOption}) and --database-url was given. */
    void requireExactlyOne(CommandSpec spec, Path dataDir, String dirOption) {
        if ((dataDir == null) == (url == null)) {
            throw new ParameterException(spec.commandLine(), "pass exactly one of " + dirOption
                    + " DIR (H2 or SQLite) or --database-url URL (PostgreSQL)");
        }
        if (embedded != null && url != null) {
            throw new ParameterException(spec.commandLine(), "--embedded chooses the store in " + dirOption
                    + " DIR; it does not go with --database-url");
        }
        if (embedded != null) {
            try {
                EmbeddedStore.parse(embedded);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--embedded: " + e.getMessage());
            }
        }
    }

    String password() {
        return Optional.ofNullable(passwordEnv).map(System::getenv).orElse("");
    }

    /**
     * The store in {@code dataDir} if given (the one it holds, else --embedded's), else the PostgreSQL
     * database; migrated to the current schema.
     */
    Database open(Path dataDir) {
        if (dataDir == null) {
            return Database.open(url, user, password());
        }
        EmbeddedStore store;
        try {
            store = EmbeddedStore.of(dataDir, Optional.ofNullable(embedded).map(EmbeddedStore::parse));
        } catch (IllegalStateException e) {
            throw new CliFailure(dataDir.toString(), e.getMessage(), "nothing was changed", ExitCodes.FAILED);
        }
        return store.open(dataDir);
    }

    /** Where the store is, for messages (a URL's password redacted). */
    String describe(Path h2Dir) {
        return h2Dir != null ? h2Dir.toString() : Database.redact(url);
    }
}
