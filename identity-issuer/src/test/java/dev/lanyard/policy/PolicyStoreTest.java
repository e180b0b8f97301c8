package dev.lanyard.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.v1.Grant;
import dev.lanyard.v1.Policy;
import java.util.List;
import org.junit.jupiter.api.Test;

class PolicyStoreTest {

    private static final SpiffeId WEB = SpiffeId.parse("spiffe://acme.internal/ns/shop/sa/web");

    private static Policy policy(long version, String... scopes) {
        return Policy.newBuilder().setVersion(version).addGrants(Grant.newBuilder()
                .addSpiffeIds(WEB.toString()).setAudience("payments").addAllScopes(List.of(scopes))).build();
    }

    private final PolicyStore store = new PolicyStore();

    @Test
    void startsWithNothingGranted() {
        assertThat(store.current().version()).isZero();
        assertThat(store.current().missingScopes(WEB, "payments", List.of("payments.read")))
                .containsExactly("payments.read");
    }

    @Test
    void appliesANewerPolicy() {
        store.apply(policy(1, "payments.read"));

        GrantsPolicy applied = store.apply(policy(2, "payments.read", "payments.charge"));

        assertThat(store.current()).isSameAs(applied);
        assertThat(applied.version()).isEqualTo(2);
        assertThat(store.current().missingScopes(WEB, "payments", List.of("payments.charge"))).isEmpty();
    }

    @Test
    void refusesAnOlderOrEqualVersionAndKeepsThePolicyInForce() {
        store.apply(policy(5, "payments.read"));

        assertThatThrownBy(() -> store.apply(policy(5, "payments.charge")))
                .isInstanceOfSatisfying(StalePolicyException.class, e -> {
                    assertThat(e).hasMessage("policy version 5 is not greater than the version in force, 5");
                    assertThat(e.offeredVersion()).isEqualTo(5);
                    assertThat(e.currentVersion()).isEqualTo(5);
                });
        assertThatThrownBy(() -> store.apply(policy(4, "payments.charge")))
                .hasMessage("policy version 4 is not greater than the version in force, 5");
        assertThat(store.current().missingScopes(WEB, "payments", List.of("payments.charge")))
                .containsExactly("payments.charge");
    }

    @Test
    void refusesAnInvalidPolicyAndKeepsThePolicyInForce() {
        store.apply(policy(1, "payments.read"));

        assertThatThrownBy(() -> store.apply(policy(2, "Bad Scope")))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessageStartingWith("grant 0: scope \"Bad Scope\" is not well formed");
        assertThat(store.current().version()).isEqualTo(1);
    }

    @Test
    void putsACompiledPolicyInForceAsItIsAndRefusesAStaleOne() {
        GrantsPolicy compiled = GrantsPolicy.fromNew(policy(3, "payments.read"));

        assertThat(store.apply(compiled)).isSameAs(compiled);
        assertThat(store.current()).isSameAs(compiled);
        assertThatThrownBy(() -> store.apply(GrantsPolicy.fromNew(policy(3, "payments.charge"))))
                .hasMessage("policy version 3 is not greater than the version in force, 3");
        assertThat(store.current()).isSameAs(compiled);
    }

    @Test
    void canStartFromAGivenPolicy() {
        PolicyStore restored = new PolicyStore(GrantsPolicy.from(policy(7, "payments.read")));

        assertThatThrownBy(() -> restored.apply(policy(6, "payments.read"))).isInstanceOf(StalePolicyException.class);
        assertThat(restored.current().version()).isEqualTo(7);
    }
}
