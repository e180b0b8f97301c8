package dev.lanyard.federation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcFederationRepository;
import dev.lanyard.testing.WebPki;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two replicas on one database: what an admin changes on one, the other takes up on reload. */
class FederationReloadTest {

    @TempDir
    Path dir;

    @Test
    void aRelationshipAddedOrRemovedOnOneReplicaIsTakenUpByTheOther() throws Exception {
        try (Database db = Database.h2File(dir)) {
            AtomicInteger changesOnTwo = new AtomicInteger();
            Federation one = federation(db, new AtomicInteger());
            Federation two = federation(db, changesOnTwo);
            var root = dev.lanyard.testing.WebPki.selfSigned("other.test").certificate();
            String document = new com.nimbusds.jose.jwk.JWKSet(new com.nimbusds.jose.jwk.ECKey.Builder(
                    com.nimbusds.jose.jwk.ECKey.parse(root)).keyUse(new com.nimbusds.jose.jwk.KeyUse("x509-svid"))
                    .x509CertChain(java.util.List.of(com.nimbusds.jose.util.Base64.encode(root.getEncoded())))
                    .build()).toString(true);

            one.add("other.test", "https://other.test:8443/bundle", FederationRelationship.Profile.HTTPS_SPIFFE,
                    Optional.of("spiffe://other.test/lanyard/server"), Optional.of(document), record("federation.add"));
            assertThat(two.list()).isEmpty();
            two.reload();
            assertThat(two.list()).singleElement().satisfies(s -> {
                assertThat(s.relationship().endpoint().toString()).isEqualTo("https://other.test:8443/bundle");
                assertThat(s.bundle()).isPresent();
            });
            assertThat(two.bundles()).extracting(ForeignBundle::trustDomain).containsExactly("other.test");
            assertThat(changesOnTwo).hasValue(1);
            two.reload(); // nothing moved: nothing changes
            assertThat(changesOnTwo).hasValue(1);

            one.remove("other.test", record("federation.remove"));
            two.reload();
            assertThat(two.list()).isEmpty();
            assertThat(two.bundles()).isEmpty();
            assertThat(changesOnTwo).hasValue(2);
        }
    }

    @Test
    void aFetchForARelationshipReplacedOnAnotherReplicaIsNotStored() throws Exception {
        WebPki web = WebPki.selfSigned("localhost");
        X509Certificate oldRoot = WebPki.selfSigned("old.other.test").certificate();
        X509Certificate newRoot = WebPki.selfSigned("new.other.test").certificate();
        try (Database db = Database.h2File(dir);
                ScriptedEndpoint old = new ScriptedEndpoint(web, FederationTest.bundleDocument(oldRoot, 7, 300),
                        Integer.MAX_VALUE)) {
            Federation one = federation(db, new AtomicInteger(), web);
            Federation two = federation(db, new AtomicInteger(), web);
            one.add("other.test", "https://localhost:" + old.port() + "/bundle", FederationRelationship.Profile.HTTPS_WEB,
                    Optional.empty(), Optional.empty(), record("federation.add"));
            two.reload();
            // An admin replaces the relationship on replica two: another endpoint, another initial bundle.
            String replacement = FederationTest.bundleDocument(newRoot, 1, 300);
            two.add("other.test", "https://localhost:1/bundle", FederationRelationship.Profile.HTTPS_SPIFFE,
                    Optional.of("spiffe://other.test/server"), Optional.of(replacement), record("federation.add"));

            one.refreshDue(); // before it reloads: its fetch from the old endpoint succeeds, and is dropped

            assertThat(new JdbcFederationRepository(db.dataSource()).all()).singleElement()
                    .satisfies(s -> assertThat(s.bundleJson()).contains(replacement));
            assertThat(one.list()).singleElement().satisfies(s -> {
                assertThat(s.relationship().endpoint().toString()).isEqualTo("https://localhost:1/bundle");
                assertThat(s.bundle().orElseThrow().x509Authorities()).containsExactly(newRoot);
            });
            assertThat(new JdbcAuditLog(db.dataSource()).recent(20)).noneSatisfy(e -> {
                assertThat(e.action()).isEqualTo("federation.bundle");
                assertThat(e.reason()).contains(String.valueOf(old.port()));
            });
        }
    }

    @Test
    void aReplicaThatHasNotReloadedDoesNotStoreAnOlderBundleOverANewerOne() throws Exception {
        WebPki web = WebPki.selfSigned("localhost");
        X509Certificate root = WebPki.selfSigned("other.test").certificate();
        try (Database db = Database.h2File(dir);
                ScriptedEndpoint endpoint = new ScriptedEndpoint(web, FederationTest.bundleDocument(root, 9, 300),
                        Integer.MAX_VALUE)) {
            Federation one = federation(db, new AtomicInteger(), web);
            Federation two = federation(db, new AtomicInteger(), web);
            one.add("other.test", "https://localhost:" + endpoint.port() + "/bundle",
                    FederationRelationship.Profile.HTTPS_WEB, Optional.empty(), Optional.empty(),
                    record("federation.add"));
            two.reload();
            two.refreshDue(); // two stores sequence 9
            endpoint.serveBundle(FederationTest.bundleDocument(root, 8, 60)); // a stale copy, served to one
            one.refreshDue();

            assertThat(new JdbcFederationRepository(db.dataSource()).all()).singleElement()
                    .satisfies(s -> assertThat(s.bundleSequence()).isEqualTo(9));
            assertThat(one.list()).singleElement()
                    .satisfies(s -> assertThat(s.bundle().orElseThrow().sequence()).isEqualTo(9));
        }
    }

    private static dev.lanyard.audit.AuditEvent record(String action) {
        return new dev.lanyard.audit.AuditEvent(java.time.Instant.now(), "spiffe://here.test/admin", action, "other.test",
                dev.lanyard.audit.AuditEvent.Outcome.SUCCESS, "");
    }

    private static Federation federation(Database db, AtomicInteger changes) {
        return new Federation("here.test", new JdbcFederationRepository(db.dataSource()),
                new BundleFetcher(Optional.empty(), Duration.ofSeconds(1)), new JdbcAuditLog(db.dataSource()),
                Clock.systemUTC(), changes::incrementAndGet);
    }

    /** A replica whose fetcher trusts {@code web} for https_web endpoints. */
    private static Federation federation(Database db, AtomicInteger changes, WebPki web) {
        return new Federation("here.test", new JdbcFederationRepository(db.dataSource()),
                new BundleFetcher(Optional.of(java.util.List.of(web.certificate())), Duration.ofSeconds(5)),
                new JdbcAuditLog(db.dataSource()), Clock.systemUTC(), changes::incrementAndGet);
    }
}
