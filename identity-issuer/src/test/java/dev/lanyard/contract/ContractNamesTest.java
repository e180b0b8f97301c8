package dev.lanyard.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ContractNamesTest {

    @Test
    void acceptsWellFormedScopes() {
        assertThat(ContractNames.scopeProblem("payments.charge")).isEmpty();
        assertThat(ContractNames.scopeProblem("payments.charge.read")).isEmpty();
        assertThat(ContractNames.scopeProblem("ledger:write_all")).isEmpty();
        assertThat(ContractNames.scopeProblem("a")).isEmpty();
        assertThat(ContractNames.scopeProblem("a".repeat(128))).isEmpty();
    }

    @Test
    void refusesMalformedScopes() {
        assertThat(ContractNames.scopeProblem("")).hasValue("scope is empty");
        for (String bad : new String[] {"Payments.charge", "1payments", "payments..charge", "payments.", ".payments",
                "payments charge", "payments.Charge", "payments-charge", "payments/charge"}) {
            assertThat(ContractNames.scopeProblem(bad)).as(bad).hasValueSatisfying(problem -> assertThat(problem)
                    .startsWith("scope " + ContractNames.quote(bad) + " is not well formed"));
        }
    }

    @Test
    void unverifiableScopeFollowsTheClientVerifiersRuleAndNamesOnlyFieldAndLength() {
        for (String good : List.of("payments.charge", "ledger:write_all", "a", "a1_b2.c3:d4", "a".repeat(128))) {
            assertThat(ContractNames.unverifiableScope("scopes[0]", good)).as(good).isEmpty();
        }
        for (String bad : List.of("foo_", "a__b", "_a", "a._b", "a_.b", "1payments", "Payments", "", "a".repeat(129))) {
            assertThat(ContractNames.unverifiableScope("scopes[0]", bad)).as(bad).hasValueSatisfying(problem ->
                    assertThat(problem).startsWith("scopes[0] (" + bad.length() + " characters) is not a scope name"));
        }
        assertThat(ContractNames.unverifiableCount(List.of("ok", "foo_", "a__b"))).isEqualTo(2);
    }

    @Test
    void refusesScopesLongerThan128Characters() {
        assertThat(ContractNames.scopeProblem("a".repeat(129)))
                .hasValueSatisfying(problem -> assertThat(problem).endsWith("is longer than 128 characters"));
    }

    @Test
    void acceptsStableNamesAndSpiffeIdsAsAudiences() {
        assertThat(ContractNames.audienceProblem("payments")).isEmpty();
        assertThat(ContractNames.audienceProblem("billing-api.v2")).isEmpty();
        assertThat(ContractNames.audienceProblem("spiffe://acme.internal/ns/payments/sa/api")).isEmpty();
    }

    @Test
    void refusesBadAudiences() {
        assertThat(ContractNames.audienceProblem("")).hasValue("audience is empty");
        assertThat(ContractNames.audienceProblem("Payments")).hasValue("audience \"Payments\" is neither a SPIFFE ID"
                + " nor a stable name (lower-case letters, digits, '.', '-' and '_', starting with a letter)");
        assertThat(ContractNames.audienceProblem("spiffe://acme.internal"))
                .hasValue("audience \"spiffe://acme.internal\" is not a valid SPIFFE ID: SPIFFE ID has no path"
                        + " (a bare trust domain names no workload)");
        assertThat(ContractNames.audienceProblem("a".repeat(256)))
                .hasValueSatisfying(problem -> assertThat(problem).endsWith("is longer than 255 characters"));
    }

    @Test
    void quoteEscapesControlCharactersAndCutsLongValues() {
        assertThat(ContractNames.quote("a\"b\\c\nd")).isEqualTo("\"a\\\"b\\\\c\\u000ad\"");
        assertThat(ContractNames.quote("x".repeat(100))).isEqualTo("\"" + "x".repeat(80) + "...\"");
    }
}
