package dev.lanyard.contract;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.contract.ContractUnion.Published;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ContractUnionTest {

    private static ServiceContract contract(String audience, String service, String... scopes) {
        return new ServiceContract(audience, service, Map.of("/" + service + "/M", Set.of(scopes)));
    }

    private static Published published(String source, long version, ServiceContract... services) {
        return new Published(source, version, source + version, new ContractSet(List.of(services), List.of()));
    }

    @Test
    void isTheUnionOfEverySourceOrderedByAudience() {
        ContractUnion union = ContractUnion.of(List.of(
                published("b", 2, contract("zeta", "z.Z", "z.read")),
                published("a", 1, contract("alpha", "a.A", "a.read"))));

        assertThat(union.version()).isEqualTo(2);
        assertThat(union.byAudience().keySet()).containsExactly("alpha", "zeta");
        assertThat(union.declaredByAudience()).containsEntry("zeta", Set.of("z.read"));
        assertThat(union.conflicts()).isEmpty();
    }

    @Test
    void theNewestDeclarationOfAServiceIsInForce() {
        ContractUnion union = ContractUnion.of(List.of(
                published("ledger-repo", 1, contract("ledger", "l.Ledger", "ledger.read")),
                published("payments-repo", 2, contract("ledger", "l.Ledger", "ledger.read", "ledger.write"))));

        assertThat(union.byAudience().get("ledger").declaredScopes()).containsExactly("ledger.read", "ledger.write");
        assertThat(union.replacements()).containsExactly("service l.Ledger from source \"payments-repo\" replaces"
                + " its different declaration from source \"ledger-repo\"");
        assertThat(union.conflicts()).isEmpty();
    }

    @Test
    void anIdenticalDeclarationInTwoSourcesIsNoNews() {
        ContractUnion union = ContractUnion.of(List.of(
                published("a", 1, contract("ledger", "l.Ledger", "ledger.read")),
                published("b", 2, contract("ledger", "l.Ledger", "ledger.read"))));

        assertThat(union.replacements()).isEmpty();
        assertThat(union.byAudience()).hasSize(1);
    }

    @Test
    void twoServicesClaimingOneAudienceConflictAndTheEarlierClaimKeepsIt() {
        ContractUnion union = ContractUnion.of(List.of(
                published("late", 5, contract("shared", "b.B", "b.read")),
                published("early", 3, contract("shared", "a.A", "a.read"))));

        assertThat(union.conflicts()).containsExactly("audience \"shared\" is claimed by service a.A (source"
                + " \"early\") and by service b.B (source \"late\")");
        assertThat(union.byAudience().get("shared").serviceName()).isEqualTo("a.A");
    }

    @Test
    void withReplacesTheSetOfOneSourceOnly() {
        ContractUnion union = ContractUnion.of(List.of(
                published("a", 1, contract("alpha", "a.A", "a.read")),
                published("b", 2, contract("beta", "b.B", "b.read"))));

        ContractUnion next = union.with(published("a", 3, contract("gamma", "g.G", "g.read")));

        assertThat(next.byAudience().keySet()).containsExactly("beta", "gamma");
        assertThat(next.version()).isEqualTo(3);
        assertThat(union.byAudience().keySet()).containsExactly("alpha", "beta");
    }

    @Test
    void theEmptyUnionHasVersionZero() {
        assertThat(ContractUnion.EMPTY.version()).isZero();
        assertThat(ContractUnion.EMPTY.byAudience()).isEmpty();
    }
}
