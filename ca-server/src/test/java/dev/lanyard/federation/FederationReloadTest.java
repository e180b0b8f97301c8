package dev.lanyard.federation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcFederationRepository;
import java.nio.file.Path;
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

    private static dev.lanyard.audit.AuditEvent record(String action) {
        return new dev.lanyard.audit.AuditEvent(java.time.Instant.now(), "spiffe://here.test/admin", action, "other.test",
                dev.lanyard.audit.AuditEvent.Outcome.SUCCESS, "");
    }

    private static Federation federation(Database db, AtomicInteger changes) {
        return new Federation("here.test", new JdbcFederationRepository(db.dataSource()),
                new BundleFetcher(Optional.empty(), Duration.ofSeconds(1)), new JdbcAuditLog(db.dataSource()),
                Clock.systemUTC(), changes::incrementAndGet);
    }
}
