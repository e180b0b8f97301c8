package dev.lanyard.contract;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.v1.Contract;
import dev.lanyard.v1.MethodContract;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ServiceContractTest {

    private final ServiceContract payments = new ServiceContract("payments", "examples.payments.v1.PaymentsService",
            Map.of("/examples.payments.v1.PaymentsService/Refund", Set.of("payments.refund", "payments.charge.read"),
                    "/examples.payments.v1.PaymentsService/Charge", Set.of("payments.charge"),
                    "/examples.payments.v1.PaymentsService/Ping", Set.of()));

    @Test
    void declaredScopesIsTheSortedUnionOfEveryMethodsScopes() {
        assertThat(payments.declaredScopes())
                .containsExactly("payments.charge", "payments.charge.read", "payments.refund");
    }

    @Test
    void isImmutableAndKeepsMethodOrder() {
        Map<String, Set<String>> methods = new LinkedHashMap<>();
        methods.put("/s.S/B", new LinkedHashSet<>(List.of("b")));
        methods.put("/s.S/A", new LinkedHashSet<>(List.of("a")));
        ServiceContract contract = new ServiceContract("s", "s.S", methods);
        methods.get("/s.S/B").add("sneaky");
        methods.put("/s.S/C", Set.of("c"));

        assertThat(contract.requiredScopes().keySet()).containsExactly("/s.S/B", "/s.S/A");
        assertThat(contract.requiredScopes().get("/s.S/B")).containsExactly("b");
        assertThatThrownBy(() -> contract.requiredScopes().get("/s.S/A").add("x"))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void convertsToTheAdminWireForm() {
        ServiceContract contract = new ServiceContract("ledger", "examples.ledger.v1.LedgerService",
                Map.of("/examples.ledger.v1.LedgerService/PostEntry", Set.of("ledger.write")));

        assertThat(contract.toProto()).isEqualTo(Contract.newBuilder()
                .setAudience("ledger")
                .setService("examples.ledger.v1.LedgerService")
                .addMethods(MethodContract.newBuilder()
                        .setMethod("/examples.ledger.v1.LedgerService/PostEntry")
                        .addRequiredScopes("ledger.write"))
                .build());
    }
}
