package dev.lanyard.registration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcRegistrationRepository;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The registrations a renewal reads, held in memory, on a real (SQLite) store. */
class RegistrationCacheTest {

    private static final Instant CREATED = Instant.parse("2026-12-01T10:00:00Z");

    @TempDir
    Path dir;
    Database database;
    JdbcRegistrationRepository repository;

    @BeforeEach
    void open() {
        database = Database.sqliteFile(dir);
        repository = new JdbcRegistrationRepository(database.dataSource());
    }

    @AfterEach
    void close() {
        database.close();
    }

    @Test
    void aRegistrationReadOnceIsHeldUntilForgotten() {
        SpiffeId id = register("spiffe://lanyard.local/a", "a.internal", CREATED);
        RegistrationCache cache = new RegistrationCache(repository, 10);
        assertThat(cache.find(id).orElseThrow().dnsNames()).containsExactly("a.internal");

        repository.delete(id);
        register("spiffe://lanyard.local/a", "a-v2.internal", CREATED.plusSeconds(1));
        assertThat(cache.find(id).orElseThrow().dnsNames()).as("held, stale").containsExactly("a.internal");

        cache.forget(id);
        assertThat(cache.find(id).orElseThrow().dnsNames()).containsExactly("a-v2.internal");
        assertThat(cache.find(id).orElseThrow().createdAt()).isEqualTo(CREATED.plusSeconds(1));
    }

    @Test
    void anAbsentRegistrationIsNeverHeld() {
        SpiffeId id = SpiffeId.parse("spiffe://lanyard.local/later");
        RegistrationCache cache = new RegistrationCache(repository, 10);
        assertThat(cache.find(id)).isEmpty();

        register(id.toString(), "later.internal", CREATED);
        assertThat(cache.find(id)).isPresent();
        assertThat(cache.size()).isEqualTo(1);
    }

    @Test
    void itHoldsAtMostItsCapacityAndDropsTheLeastRecentlyUsedFirst() {
        RegistrationCache cache = new RegistrationCache(repository, 2);
        SpiffeId a = register("spiffe://lanyard.local/a", "a.internal", CREATED);
        SpiffeId b = register("spiffe://lanyard.local/b", "b.internal", CREATED);
        SpiffeId c = register("spiffe://lanyard.local/c", "c.internal", CREATED);
        cache.find(a);
        cache.find(b);
        cache.find(a); // b is now the least recently used
        cache.find(c);
        assertThat(cache.size()).isEqualTo(2);

        repository.delete(a);
        repository.delete(b);
        assertThat(cache.find(a)).as("still held").isPresent();
        assertThat(cache.find(b)).as("dropped, so read again: gone").isEmpty();
    }

    @Test
    void aCapacityBelowOneIsRefused() {
        assertThatThrownBy(() -> new RegistrationCache(repository, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    private SpiffeId register(String id, String dns, Instant createdAt) {
        SpiffeId spiffeId = SpiffeId.parse(id);
        assertThat(repository.create(new Registration(spiffeId, List.of(dns), Duration.ofHours(1), createdAt))).isTrue();
        return spiffeId;
    }
}
