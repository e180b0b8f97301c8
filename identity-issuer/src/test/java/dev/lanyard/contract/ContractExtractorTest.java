package dev.lanyard.contract;

import static dev.lanyard.contract.ContractFixtures.examplesDescriptorSet;
import static dev.lanyard.contract.ContractFixtures.file;
import static dev.lanyard.contract.ContractFixtures.method;
import static dev.lanyard.contract.ContractFixtures.service;
import static dev.lanyard.contract.ContractFixtures.set;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.DescriptorProtos;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors.FileDescriptor;
import dev.lanyard.examples.ledger.v1.LedgerProto;
import dev.lanyard.examples.payments.v1.PaymentsProto;
import dev.lanyard.v1.OptionsProto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ContractExtractorTest {

    private static final ServiceContract LEDGER = new ServiceContract("ledger", "examples.ledger.v1.LedgerService",
            Map.of("/examples.ledger.v1.LedgerService/PostEntry", Set.of("ledger.write"),
                    "/examples.ledger.v1.LedgerService/GetBalance", Set.of("ledger.read"),
                    "/examples.ledger.v1.LedgerService/ListEntries", Set.of("ledger.read")));
    private static final ServiceContract PAYMENTS = new ServiceContract("payments",
            "examples.payments.v1.PaymentsService",
            Map.of("/examples.payments.v1.PaymentsService/Charge", Set.of("payments.charge"),
                    "/examples.payments.v1.PaymentsService/Refund", Set.of("payments.refund", "payments.charge.read"),
                    "/examples.payments.v1.PaymentsService/GetPayment", Set.of("payments.read"),
                    "/examples.payments.v1.PaymentsService/WatchPayments", Set.of("payments.read")));

    @Test
    void readsThePaymentsAndLedgerContractsFromTheSetProtocBuilt() {
        ContractSet contracts = ContractRegistry.parse(examplesDescriptorSet());

        assertThat(contracts.services()).containsExactly(LEDGER, PAYMENTS);
        assertThat(contracts.services().get(1).requiredScopes().keySet()).containsExactly(
                "/examples.payments.v1.PaymentsService/Charge", "/examples.payments.v1.PaymentsService/Refund",
                "/examples.payments.v1.PaymentsService/GetPayment",
                "/examples.payments.v1.PaymentsService/WatchPayments");
        assertThat(PAYMENTS.declaredScopes())
                .containsExactly("payments.charge", "payments.charge.read", "payments.read", "payments.refund");
        assertThat(contracts.warnings()).isEmpty();
    }

    @Test
    void readsTheSameContractsFromASetAssembledFromTheGeneratedClasses() {
        byte[] fromGenerated = FileDescriptorSet.newBuilder()
                .addFile(DescriptorProtos.getDescriptor().toProto())
                .addFile(OptionsProto.getDescriptor().toProto())
                .addFile(PaymentsProto.getDescriptor().toProto())
                .addFile(LedgerProto.getDescriptor().toProto())
                .build().toByteArray();

        assertThat(ContractRegistry.parse(fromGenerated).services()).containsExactly(LEDGER, PAYMENTS);
    }

    @Test
    void readsOptionsThatWereParsedWithoutOurExtensions() throws Exception {
        // As a tool that has never seen our generated classes would hold them: unknown fields,
        // linked against the set's own copies of descriptor.proto and options.proto.
        FileDescriptorSet set = FileDescriptorSet.parseFrom(examplesDescriptorSet());
        assertThat(set.getFile(3).getService(0).getOptions().getUnknownFields().hasField(72101)).isTrue();
        Map<String, FileDescriptor> built = new HashMap<>();
        List<FileDescriptor> files = new ArrayList<>();
        for (FileDescriptorProto proto : set.getFileList()) {
            FileDescriptor[] dependencies = proto.getDependencyList().stream().map(built::get)
                    .toArray(FileDescriptor[]::new);
            FileDescriptor file = FileDescriptor.buildFrom(proto, dependencies);
            built.put(file.getName(), file);
            files.add(file);
        }

        assertThat(ContractExtractor.extract(files).services()).containsExactly(LEDGER, PAYMENTS);
    }

    @Test
    void ignoresAServiceWithoutAnAudienceWithAWarning() {
        byte[] bytes = set(file("a/a.proto", "a", service("Plain", null, method("M", "a.read"))));

        ContractSet contracts = ContractRegistry.parse(bytes);

        assertThat(contracts.services()).isEmpty();
        assertThat(contracts.warnings()).containsExactly("service a.Plain has no lanyard.v1.audience option; ignored");
    }

    @Test
    void reportsAMethodWithoutScopesAsAWarningAndKeepsIt() {
        byte[] bytes = set(file("a/a.proto", "a", service("Svc", "a", method("Read", "a.read"), method("Open"))));

        ContractSet contracts = ContractRegistry.parse(bytes);

        assertThat(contracts.services()).containsExactly(new ServiceContract("a", "a.Svc",
                Map.of("/a.Svc/Read", Set.of("a.read"), "/a.Svc/Open", Set.of())));
        assertThat(contracts.warnings())
                .containsExactly("method /a.Svc/Open has no lanyard.v1.required_scopes option; no token can call it");
    }

    @Test
    void warnsAboutAServiceWithAnAudienceButNoMethods() {
        ContractSet contracts = ContractRegistry.parse(set(file("a/a.proto", "a", service("Svc", "a"))));

        assertThat(contracts.services()).containsExactly(new ServiceContract("a", "a.Svc", Map.of()));
        assertThat(contracts.warnings()).containsExactly("service a.Svc (audience \"a\") has no methods");
    }

    @Test
    void refusesTwoServicesClaimingOneAudience() {
        byte[] bytes = set(
                file("a/a.proto", "a", service("One", "shared", method("M", "a.read"))),
                file("b/b.proto", "b", service("Two", "shared", method("M", "b.read"))));

        assertThatThrownBy(() -> ContractRegistry.parse(bytes))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("audience \"shared\" is claimed by two services, a.One and b.Two");
    }

    @Test
    void refusesAMalformedScopeNamingTheMethod() {
        byte[] bytes = set(file("a/a.proto", "a", service("Svc", "a", method("M", "a.read", "A.Write"))));

        assertThatThrownBy(() -> ContractRegistry.parse(bytes))
                .isInstanceOf(InvalidContractException.class)
                .hasMessageStartingWith("method /a.Svc/M: scope \"A.Write\" is not well formed");
    }

    @Test
    void refusesAScopeLongerThan128Characters() {
        byte[] bytes = set(file("a/a.proto", "a", service("Svc", "a", method("M", "a".repeat(129)))));

        assertThatThrownBy(() -> ContractRegistry.parse(bytes))
                .isInstanceOf(InvalidContractException.class)
                .hasMessageEndingWith("is longer than 128 characters");
    }

    @Test
    void refusesAnInvalidAudience() {
        byte[] bytes = set(file("a/a.proto", "a", service("Svc", "spiffe://Acme/x", method("M", "a.read"))));

        assertThatThrownBy(() -> ContractRegistry.parse(bytes))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("service a.Svc: audience \"spiffe://Acme/x\" is not a valid SPIFFE ID: SPIFFE ID trust"
                        + " domain may hold only lower-case letters, digits, '.', '-' and '_'");
    }

    @Test
    void refusesAServiceDefinedInTwoFiles() {
        byte[] bytes = set(
                file("a/one.proto", "a", service("Svc", "one", method("M", "a.read"))),
                file("a/two.proto", "a", service("Svc", "two", method("M", "a.read"))));

        assertThatThrownBy(() -> ContractRegistry.parse(bytes))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("service a.Svc is defined twice, in \"a/one.proto\" and \"a/two.proto\"");
    }

    @Test
    void reportsEveryProblemAtOnce() {
        byte[] bytes = set(file("a/a.proto", "a",
                service("One", "Bad", method("M", "a.read")),
                service("Two", "two", method("M", "ok.read", "not ok"), method("N", "-"))));

        assertThatThrownBy(() -> ContractRegistry.parse(bytes))
                .isInstanceOfSatisfying(InvalidContractException.class, e -> assertThat(e.problems())
                        .hasSize(3)
                        .anySatisfy(p -> assertThat(p).startsWith("service a.One: audience \"Bad\""))
                        .anySatisfy(p -> assertThat(p).startsWith("method /a.Two/M: scope \"not ok\""))
                        .anySatisfy(p -> assertThat(p).startsWith("method /a.Two/N: scope \"-\"")));
    }
}
