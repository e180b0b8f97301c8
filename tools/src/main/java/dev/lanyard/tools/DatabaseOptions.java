package dev.lanyard.tools;

import dev.lanyard.store.Database;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * For commands that work on the store directly: PostgreSQL's options, as the server's config names
 * them (a mixin). The H2 data directory stays each command's own option (--data, --data-dir).
 */
final class DatabaseOptions {

    @Option(names = "--database-url", description = "or PostgreSQL: jdbc:postgresql://... (as database.url in the"
            + " server config)")
    String url;
    @Option(names = "--database-user", defaultValue = "", description = "database user")
    String user;
    @Option(names = "--database-password-env", description = "environment variable holding the database password")
    String passwordEnv;

    /** A usage error unless exactly one of the H2 directory ({@code h2Option}) and --database-url was given. */
    void requireExactlyOne(CommandSpec spec, Path h2Dir, String h2Option) {
        if ((h2Dir == null) == (url == null)) {
            throw new ParameterException(spec.commandLine(), "pass exactly one of " + h2Option
                    + " DIR (H2) or --database-url URL (PostgreSQL)");
        }
    }

    String password() {
        return Optional.ofNullable(passwordEnv).map(System::getenv).orElse("");
    }

    /** The H2 store in {@code h2Dir} if given, else the PostgreSQL database; migrated to the current schema. */
    Database open(Path h2Dir) {
        return h2Dir != null ? Database.h2File(h2Dir) : Database.open(url, user, password());
    }

    /** Where the store is, for messages (a URL's password redacted). */
    String describe(Path h2Dir) {
        return h2Dir != null ? h2Dir.toString() : Database.redact(url);
    }
}
