package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.testing.ExampleContracts;
import dev.lanyard.testing.RunningServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A {@code contracts.dir} loaded at start stores each new version with its audit record, or neither. */
class ContractsDirStartTest {

    @TempDir
    Path dir;

    @Test
    void eachNewFileVersionIsStoredWithItsRecordAndAnUnchangedFileStoresNothing() throws Exception {
        Path contracts = Files.createDirectories(dir.resolve("contracts"));
        Files.write(contracts.resolve("payments.pb"), ExampleContracts.only("payments").toByteArray());
        Files.write(contracts.resolve("ledger.pb"), ExampleContracts.only("ledger").toByteArray());
        Map<String, String> settings = Map.of("contracts.dir", contracts.toString());
        try (RunningServer lanyard = RunningServer.start(dir.resolve("data"), settings)) {
            assertThat(loads(lanyard)).containsExactlyInAnyOrder(
                    "contracts file " + contracts.resolve("ledger.pb") + ": version 1",
                    "contracts file " + contracts.resolve("payments.pb") + ": version 2");
            assertThat(lanyard.rows("contract_sets")).isEqualTo(2);

            lanyard.restart();
            assertThat(loads(lanyard)).as("nothing new on a start with the same files").hasSize(2);
            assertThat(lanyard.rows("contract_sets")).isEqualTo(2);
        }
    }

    @Test
    void aNewVersionWhoseRecordCannotBeStoredIsNotStoredAndTheServerDoesNotStart() throws Exception {
        Path contracts = Files.createDirectories(dir.resolve("contracts"));
        Files.write(contracts.resolve("payments.pb"), ExampleContracts.only("payments").toByteArray());
        Map<String, String> settings = Map.of("contracts.dir", contracts.toString());
        try (RunningServer lanyard = RunningServer.start(dir.resolve("data"), settings)) {
            lanyard.refuseAuditRecords("contract.load");
        }
        // The file changes while the store refuses its record, as a full disk would refuse every write.
        Files.write(contracts.resolve("payments.pb"), ExampleContracts.only("ledger").toByteArray());
        assertThatThrownBy(() -> RunningServer.start(dir.resolve("data"), settings))
                .hasStackTraceContaining("refused by the test");
        try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("data").resolve("lanyard.db"));
                var s = c.createStatement(); var row = s.executeQuery("select count(*) from contract_sets")) {
            row.next();
            assertThat(row.getLong(1)).as("the new version was not stored without its record").isEqualTo(1);
            s.execute("drop trigger refuse_test_records");
        }
        try (RunningServer lanyard = RunningServer.start(dir.resolve("data"), settings)) {
            assertThat(loads(lanyard)).containsExactly(
                    "contracts file " + contracts.resolve("payments.pb") + ": version 1",
                    "contracts file " + contracts.resolve("payments.pb") + ": version 2");
            assertThat(dev.lanyard.v1.ContractServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                    .listContracts(dev.lanyard.v1.ListContractsRequest.getDefaultInstance()).getContractsList())
                    .extracting(dev.lanyard.v1.Contract::getAudience).containsExactly("ledger");
        }
    }

    /** The contract.load records, oldest first, as "target: reason". */
    private static List<String> loads(RunningServer lanyard) {
        return lanyard.server().audit().recent(100).stream()
                .filter(e -> e.action().equals("contract.load"))
                .peek(e -> assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS))
                .sorted(java.util.Comparator.comparing(AuditEvent::time))
                .map(e -> e.target() + ": " + e.reason()).toList();
    }
}
