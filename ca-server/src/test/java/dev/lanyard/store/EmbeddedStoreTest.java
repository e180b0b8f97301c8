package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.registration.Registration;
import dev.lanyard.spiffe.SpiffeId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedStoreTest {

    private static final SpiffeId KEPT = SpiffeId.parse("spiffe://example.org/kept");

    @TempDir
    Path dir;

    @Test
    void aNewDirectoryGetsTheConfiguredStoreOrTheDefault() {
        assertThat(EmbeddedStore.of(dir, Optional.of(EmbeddedStore.SQLITE))).isEqualTo(EmbeddedStore.SQLITE);
        assertThat(EmbeddedStore.of(dir, Optional.of(EmbeddedStore.H2))).isEqualTo(EmbeddedStore.H2);
        assertThat(EmbeddedStore.of(dir, Optional.empty())).isEqualTo(EmbeddedStore.FOR_NEW_DIRECTORIES);
    }

    @Test
    void aDirectoryWithAnH2StoreKeepsItsStore() {
        try (Database h2 = Database.h2File(dir)) {
            new JdbcRegistrationRepository(h2.dataSource()).create(
                    new Registration(KEPT, List.of(), Duration.ofHours(1), Instant.now()));
        }
        EmbeddedStore store = EmbeddedStore.of(dir, Optional.empty());
        assertThat(store).isEqualTo(EmbeddedStore.H2);
        try (Database reopened = store.open(dir)) {
            assertThat(reopened.dialect()).isEqualTo(Dialect.H2);
            assertThat(new JdbcRegistrationRepository(reopened.dataSource()).find(KEPT)).isPresent();
        }
        assertThat(Files.exists(Database.sqlitePath(dir))).isFalse();
    }

    @Test
    void aDirectoryWithAnSqliteStoreKeepsItsStore() {
        try (Database sqlite = Database.sqliteFile(dir)) {
            new JdbcRegistrationRepository(sqlite.dataSource()).create(
                    new Registration(KEPT, List.of(), Duration.ofHours(1), Instant.now()));
        }
        EmbeddedStore store = EmbeddedStore.of(dir, Optional.empty());
        assertThat(store).isEqualTo(EmbeddedStore.SQLITE);
        try (Database reopened = store.open(dir)) {
            assertThat(new JdbcRegistrationRepository(reopened.dataSource()).find(KEPT)).isPresent();
        }
        assertThat(Files.exists(Database.h2Path(dir))).isFalse();
    }

    @Test
    void configuringTheOtherStoreForAnExistingOneIsRefused() {
        Database.h2File(dir).close();
        assertThatThrownBy(() -> EmbeddedStore.of(dir, Optional.of(EmbeddedStore.SQLITE)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("holds an existing H2 store (lanyard.mv.db)")
                .hasMessageContaining("would start an empty store beside it");
        assertThat(Files.exists(Database.sqlitePath(dir))).isFalse();
    }

    @Test
    void aDirectoryWithBothIsRefused() {
        Database.h2File(dir).close();
        Database.sqliteFile(dir).close();
        assertThatThrownBy(() -> EmbeddedStore.of(dir, Optional.empty())).hasMessageContaining("holds both");
    }

    @Test
    void parsesTheConfiguredName() {
        assertThat(EmbeddedStore.parse(" SQLite ")).isEqualTo(EmbeddedStore.SQLITE);
        assertThat(EmbeddedStore.parse("h2")).isEqualTo(EmbeddedStore.H2);
        assertThatThrownBy(() -> EmbeddedStore.parse("mysql")).hasMessage("the embedded store is h2 or sqlite, not mysql");
    }
}
