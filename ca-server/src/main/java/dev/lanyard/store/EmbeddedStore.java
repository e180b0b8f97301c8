package dev.lanyard.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * The store in a data directory when no database URL is configured: an H2 file ({@code lanyard.mv.db})
 * or an SQLite file ({@code lanyard.db}). A directory that already holds one keeps it, whatever is
 * configured for new ones: opening the other would start an empty store beside the existing one, and
 * a server would come up with a new CA and none of its registrations.
 */
public enum EmbeddedStore {
    H2, SQLITE;

    /**
     * What a new data directory gets when the configuration does not say: SQLite, whose file stays near
     * 640 bytes per certificate and whose rates hold as it fills, where H2's grows by several KB per
     * commit (issue 11; README, How fast). Existing H2 directories keep H2.
     */
    public static final EmbeddedStore FOR_NEW_DIRECTORIES = SQLITE;

    /** {@code h2} or {@code sqlite}, as {@code database.embedded} and {@code --embedded} take it. */
    public static EmbeddedStore parse(String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "h2" -> H2;
            case "sqlite" -> SQLITE;
            default -> throw new IllegalArgumentException("the embedded store is h2 or sqlite, not " + value.trim());
        };
    }

    /**
     * The store {@code dataDir} holds, else the configured one, else {@link #FOR_NEW_DIRECTORIES}.
     *
     * @throws IllegalStateException when the directory holds both, or the other one than configured
     */
    public static EmbeddedStore of(Path dataDir, Optional<EmbeddedStore> configured) {
        boolean h2 = Files.exists(Database.h2Path(dataDir));
        boolean sqlite = Files.exists(Database.sqlitePath(dataDir));
        if (h2 && sqlite) {
            throw new IllegalStateException(dataDir + " holds both an H2 store (lanyard.mv.db) and an SQLite store"
                    + " (lanyard.db): move the one not in use out of the data directory");
        }
        Optional<EmbeddedStore> existing = h2 ? Optional.of(H2) : sqlite ? Optional.of(SQLITE) : Optional.empty();
        if (existing.isPresent() && configured.isPresent() && existing.get() != configured.get()) {
            throw new IllegalStateException(dataDir + " holds an existing " + existing.get().label() + " store ("
                    + existing.get().fileName() + "); database.embedded=" + configured.get().name().toLowerCase(Locale.ROOT)
                    + " would start an empty store beside it. Remove the setting to keep using it, or move the store"
                    + " with `lanyard backup` and `lanyard restore` into a new data directory");
        }
        return existing.or(() -> configured).orElse(FOR_NEW_DIRECTORIES);
    }

    /** The store {@code dataDir} holds (or a new one of the default kind), as a server started there opens it. */
    public static Database openIn(Path dataDir) {
        return of(dataDir, Optional.empty()).open(dataDir);
    }

    /** Opens (and creates, in a new directory) this store in {@code dataDir}, migrated to the current schema. */
    public Database open(Path dataDir) {
        return this == H2 ? Database.h2File(dataDir) : Database.sqliteFile(dataDir);
    }

    public String label() {
        return this == H2 ? "H2" : "SQLite";
    }

    String fileName() {
        return this == H2 ? "lanyard.mv.db" : "lanyard.db";
    }
}
