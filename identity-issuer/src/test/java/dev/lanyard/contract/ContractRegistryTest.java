package dev.lanyard.contract;

import static dev.lanyard.contract.ContractFixtures.examplesDescriptorSet;
import static dev.lanyard.contract.ContractFixtures.single;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.contract.TokenScopeCheck.Outcome;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContractRegistryTest {

    private static final Instant NOW = Instant.parse("2030-01-01T00:00:00Z");

    private final InMemoryContractRepository repository = new InMemoryContractRepository();
    private final ContractRegistry registry = new ContractRegistry(repository, Clock.fixed(NOW, ZoneOffset.UTC));

    @Test
    void startsEmpty() {
        assertThat(registry.version()).isZero();
        assertThat(registry.all()).isEmpty();
        assertThat(registry.audience("payments")).isEmpty();
    }

    @Test
    void aScopeNameNoClientVerifierAcceptsIsRefusedWhenPublishedButStillLoadsWhenStored() {
        for (String bad : List.of("foo_", "a__b", "pay._x", "x_:y")) {
            assertThatThrownBy(() -> registry.publish("bad", single("bad.v1", "bad", bad)))
                    .isInstanceOf(InvalidContractException.class)
                    .hasMessageContaining("method /bad.v1.Svc/M0: a required_scopes entry (" + bad.length()
                            + " characters) is not a scope name every verifier accepts")
                    .hasMessageNotContaining(bad);
        }
        assertThat(repository.history("bad")).isEmpty();

        // stored before the rule: it still loads, and republishing the same bytes changes nothing
        byte[] legacy = single("old.v1", "old", "old_name");
        repository.saveVersion("old", legacy, NOW);
        registry.refresh();
        assertThat(registry.audience("old")).hasValueSatisfying(contract -> assertThat(contract.requiredScopes()
                .get("/old.v1.Svc/M0")).containsExactly("old_name"));
        assertThat(registry.publish("old", legacy).changed()).isFalse();
        assertThat(registry.publish("new", single("new.v1", "new", "new_name.read:all")).changed()).isTrue();
    }

    @Test
    void publishesTheExampleContracts() {
        PublishResult result = registry.publish("examples", examplesDescriptorSet());

        assertThat(result.version()).isEqualTo(1);
        assertThat(result.changed()).isTrue();
        assertThat(result.warnings()).isEmpty();
        assertThat(result.services()).extracting(ServiceContract::audience).containsExactly("ledger", "payments");
        assertThat(registry.version()).isEqualTo(1);
        assertThat(registry.all()).extracting(ServiceContract::serviceName)
                .containsExactly("examples.ledger.v1.LedgerService", "examples.payments.v1.PaymentsService");
        assertThat(registry.audience("payments")).hasValueSatisfying(contract -> assertThat(contract
                .requiredScopes().get("/examples.payments.v1.PaymentsService/Refund"))
                .containsExactly("payments.refund", "payments.charge.read"));
        assertThat(repository.history("examples")).singleElement()
                .satisfies(stored -> assertThat(stored.publishedAt()).isEqualTo(NOW));
    }

    @Test
    void publishingTheSameBytesAgainStoresNothing() {
        registry.publish("examples", examplesDescriptorSet());

        PublishResult again = registry.publish("examples", examplesDescriptorSet());

        assertThat(again.changed()).isFalse();
        assertThat(again.version()).isEqualTo(1);
        assertThat(repository.history("examples")).hasSize(1);
    }

    @Test
    void anInvalidSetChangesNothing() {
        registry.publish("examples", examplesDescriptorSet());

        assertThatThrownBy(() -> registry.publish("examples", single("p", "payments", "Bad.Scope")))
                .isInstanceOf(InvalidContractException.class)
                .hasMessageStartingWith("method /p.Svc/M0: scope \"Bad.Scope\" is not well formed");

        assertThat(registry.version()).isEqualTo(1);
        assertThat(registry.audience("ledger")).isPresent();
        assertThat(repository.history("examples")).hasSize(1);
    }

    @Test
    void refusesAnAudienceThatAnotherSourcesServiceClaims() {
        registry.publish("examples", examplesDescriptorSet());

        assertThatThrownBy(() -> registry.publish("rogue", single("rogue", "payments", "payments.charge")))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("audience \"payments\" is claimed by service examples.payments.v1.PaymentsService"
                        + " (source \"examples\") and by service rogue.Svc (source \"rogue\")");
        assertThat(registry.audience("payments").orElseThrow().serviceName())
                .isEqualTo("examples.payments.v1.PaymentsService");
        assertThat(repository.history("rogue")).isEmpty();
    }

    @Test
    void aSourceMayMoveAnAudienceBetweenItsOwnServices() {
        registry.publish("team", single("old", "inventory", "inventory.read"));

        registry.publish("team", single("renamed", "inventory", "inventory.read"));

        assertThat(registry.audience("inventory").orElseThrow().serviceName()).isEqualTo("renamed.Svc");
    }

    @Test
    void aNewVersionOfASourceReplacesItsContractsAndLeavesOtherSourcesAlone() {
        registry.publish("examples", examplesDescriptorSet());
        registry.publish("inventory", single("inv", "inventory", "inventory.read"));

        PublishResult result = registry.publish("inventory", single("inv", "stock", "stock.read"));

        assertThat(result.version()).isEqualTo(3);
        assertThat(registry.all()).extracting(ServiceContract::audience)
                .containsExactly("ledger", "payments", "stock");
    }

    @Test
    void warnsWhenAPublishReplacesAnotherSourcesDeclarationOfTheSameService() {
        registry.publish("ledger-repo", single("ledger", "ledger", "ledger.read"));

        PublishResult result = registry.publish("payments-repo", single("ledger", "ledger", "ledger.read", "ledger.write"));

        assertThat(result.warnings()).containsExactly("service ledger.Svc from source \"payments-repo\" replaces its"
                + " different declaration from source \"ledger-repo\"");
        assertThat(registry.audience("ledger").orElseThrow().declaredScopes())
                .containsExactly("ledger.read", "ledger.write");
    }

    @Test
    void refusesAMissingOrMalformedSource() {
        assertThatThrownBy(() -> registry.publish("", examplesDescriptorSet()))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("source \"\" is not valid: use 1 to 200 letters, digits, '.', '_', ':', '/', '@' or '-',"
                        + " starting with a letter or digit");
        assertThatThrownBy(() -> registry.publish(null, examplesDescriptorSet()))
                .isInstanceOf(InvalidContractException.class)
                .hasMessageStartingWith("source is missing: use 1 to 200");
        assertThatThrownBy(() -> registry.publish("ci\nforged log line", examplesDescriptorSet()))
                .isInstanceOf(InvalidContractException.class)
                .hasMessageStartingWith("source \"ci\\u000aforged log line\" is not valid");
    }

    @Test
    void checkAllowsDeclaredScopes() {
        registry.publish("examples", examplesDescriptorSet());

        TokenScopeCheck check = registry.check("payments", List.of("payments.charge", "payments.read"));

        assertThat(check.ok()).isTrue();
        assertThat(check.outcome()).isEqualTo(Outcome.OK);
    }

    @Test
    void checkRefusesAnUnknownAudienceNamingIt() {
        registry.publish("examples", examplesDescriptorSet());

        TokenScopeCheck check = registry.check("shipping", List.of("shipping.read"));

        assertThat(check.outcome()).isEqualTo(Outcome.UNKNOWN_AUDIENCE);
        assertThat(check.reason()).isEqualTo("unknown audience \"shipping\": no published contract declares it");
    }

    @Test
    void checkRefusesUndeclaredScopesNamingThemAndTheAudience() {
        registry.publish("examples", examplesDescriptorSet());

        TokenScopeCheck one = registry.check("payments", List.of("payments.charge", "ledger.write"));
        TokenScopeCheck two = registry.check("ledger", List.of("ledger.admin", "ledger.read", "ledger.delete"));

        assertThat(one.outcome()).isEqualTo(Outcome.UNDECLARED_SCOPES);
        assertThat(one.reason())
                .isEqualTo("scope \"ledger.write\" not declared by any method of audience \"payments\"");
        assertThat(one.undeclaredScopes()).containsExactly("ledger.write");
        assertThat(two.reason()).isEqualTo(
                "scopes \"ledger.admin\", \"ledger.delete\" not declared by any method of audience \"ledger\"");
    }

    @Test
    void checkRefusesARequestWithoutAudienceOrScopes() {
        registry.publish("examples", examplesDescriptorSet());

        assertThat(registry.check("", List.of("payments.read")).reason()).isEqualTo("no audience requested");
        assertThat(registry.check("payments", List.of()).reason())
                .isEqualTo("no scopes requested for audience \"payments\"");
        assertThat(registry.check("payments", List.of()).outcome()).isEqualTo(Outcome.NO_SCOPES);
    }

    @Test
    void loadsEveryDescriptorFileOfADirectoryNamedByFile(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("examples.pb"), examplesDescriptorSet());
        Files.write(dir.resolve("inventory.binpb"), single("inv", "inventory", "inventory.read"));
        Files.write(dir.resolve("stock.desc"), single("stock", "stock", "stock.read"));
        Files.writeString(dir.resolve("README.md"), "not a descriptor set");

        registry.loadDirectory(dir);

        assertThat(registry.all()).extracting(ServiceContract::audience)
                .containsExactly("inventory", "ledger", "payments", "stock");
        assertThat(repository.latestPerSource()).extracting(StoredContractSet::source)
                .containsExactlyInAnyOrder("examples.pb", "inventory.binpb", "stock.desc");
    }

    @Test
    void loadingTheSameDirectoryAgainStoresNothing(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("examples.pb"), examplesDescriptorSet());
        registry.loadDirectory(dir);

        new ContractRegistry(repository, Clock.fixed(NOW, ZoneOffset.UTC)).loadDirectory(dir);

        assertThat(repository.history("examples.pb")).hasSize(1);
    }

    @Test
    void loadsNothingFromADirectoryWithABadOrConflictingFile(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("examples.pb"), examplesDescriptorSet());
        Files.write(dir.resolve("garbage.pb"), new byte[] {0x0a, (byte) 0xff});
        Files.write(dir.resolve("rogue.pb"), single("rogue", "ledger", "ledger.read"));

        assertThatThrownBy(() -> registry.loadDirectory(dir))
                .isInstanceOfSatisfying(InvalidContractException.class, e -> assertThat(e.problems()).containsExactly(
                        "contracts file \"garbage.pb\": descriptor set is not a serialized"
                                + " google.protobuf.FileDescriptorSet",
                        "audience \"ledger\" is claimed by service examples.ledger.v1.LedgerService (source"
                                + " \"examples.pb\") and by service rogue.Svc (source \"rogue.pb\")"));
        assertThat(registry.version()).isZero();
        assertThat(repository.latestPerSource()).isEmpty();
    }

    @Test
    void refusesADirectoryThatDoesNotExist(@TempDir Path dir) {
        Path missing = dir.resolve("nope");

        assertThatThrownBy(() -> registry.loadDirectory(missing))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("contracts directory " + missing + " does not exist or is not a directory");
    }

    @Test
    void aNewRegistryOnTheSameRepositoryServesWhatWasPublished() {
        registry.publish("examples", examplesDescriptorSet());

        ContractRegistry restarted = new ContractRegistry(repository, Clock.fixed(NOW, ZoneOffset.UTC));

        assertThat(restarted.version()).isEqualTo(1);
        assertThat(restarted.all()).isEqualTo(registry.all());
    }

    @Test
    void refreshPicksUpWhatAnotherReplicaPublished() {
        ContractRegistry other = new ContractRegistry(repository, Clock.fixed(NOW, ZoneOffset.UTC));
        other.publish("examples", examplesDescriptorSet());
        assertThat(registry.audience("ledger")).isEmpty();

        registry.refresh();

        assertThat(registry.audience("ledger")).isPresent();
        assertThat(registry.version()).isEqualTo(1);
    }

    @Test
    void aPublishSeesWhatAnotherReplicaPublishedBeforeIt() {
        ContractRegistry other = new ContractRegistry(repository, Clock.fixed(NOW, ZoneOffset.UTC));
        other.publish("examples", examplesDescriptorSet());

        assertThatThrownBy(() -> registry.publish("rogue", single("rogue", "ledger", "ledger.read")))
                .isInstanceOf(InvalidContractException.class)
                .hasMessageStartingWith("audience \"ledger\" is claimed by service examples.ledger.v1.LedgerService");
    }

    @Test
    void aStoredSetThatNoLongerValidatesIsLeftOutSoItsAudienceAcceptsNoToken() {
        repository.saveVersion("broken", new byte[] {0x0a, (byte) 0xff}, NOW);
        repository.saveVersion("examples", examplesDescriptorSet(), NOW);

        ContractRegistry loaded = new ContractRegistry(repository, Clock.fixed(NOW, ZoneOffset.UTC));

        assertThat(loaded.all()).extracting(ServiceContract::audience).containsExactly("ledger", "payments");
        assertThat(loaded.version()).isEqualTo(2);
    }

    @Test
    void storedSetsThatConflictKeepTheEarlierClaim() {
        repository.saveVersion("first", single("first", "shared", "a.read"), NOW);
        repository.saveVersion("second", single("second", "shared", "b.read"), NOW);

        ContractRegistry loaded = new ContractRegistry(repository, Clock.fixed(NOW, ZoneOffset.UTC));

        assertThat(loaded.audience("shared").orElseThrow().serviceName()).isEqualTo("first.Svc");
    }
}
