package dev.lanyard.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.v1.Grant;
import dev.lanyard.v1.Policy;
import java.util.List;
import org.junit.jupiter.api.Test;

class GrantsPolicyTest {

    private static final SpiffeId WEB = SpiffeId.parse("spiffe://acme.internal/ns/shop/sa/web");
    private static final SpiffeId WORKER = SpiffeId.parse("spiffe://acme.internal/ns/shop/sa/worker");

    private static Grant grant(String audience, List<String> ids, String... scopes) {
        return Grant.newBuilder().setAudience(audience).addAllSpiffeIds(ids).addAllScopes(List.of(scopes)).build();
    }

    private static final Policy POLICY = Policy.newBuilder()
            .setVersion(4)
            .addGrants(grant("payments", List.of("spiffe://acme.internal/ns/shop/sa/web"), "payments.charge"))
            .addGrants(grant("payments", List.of("spiffe://acme.internal/ns/shop/*"), "payments.read"))
            .addGrants(grant("ledger", List.of("spiffe://acme.internal/ns/shop/sa/worker",
                    "spiffe://acme.internal/ns/billing/*"), "ledger.read", "ledger.write"))
            .build();

    private final GrantsPolicy policy = GrantsPolicy.from(POLICY);

    @Test
    void grantsAnExactIdItsScopes() {
        assertThat(policy.missingScopes(WEB, "payments", List.of("payments.charge"))).isEmpty();
        assertThat(policy.missingScopes(WORKER, "payments", List.of("payments.charge")))
                .containsExactly("payments.charge");
    }

    @Test
    void aCallerHoldsTheUnionOfEveryMatchingGrant() {
        assertThat(policy.missingScopes(WEB, "payments", List.of("payments.charge", "payments.read"))).isEmpty();
        assertThat(policy.missingScopes(WORKER, "payments", List.of("payments.read"))).isEmpty();
    }

    @Test
    void grantsAPrefixToEveryIdUnderIt() {
        SpiffeId deep = SpiffeId.parse("spiffe://acme.internal/ns/billing/team/a/sa/cron");

        assertThat(policy.missingScopes(deep, "ledger", List.of("ledger.write"))).isEmpty();
    }

    @Test
    void aPrefixStopsAtASegmentBoundary() {
        SpiffeId shopping = SpiffeId.parse("spiffe://acme.internal/ns/shopping/sa/web");
        SpiffeId shopItself = SpiffeId.parse("spiffe://acme.internal/ns/shop");

        assertThat(policy.missingScopes(shopping, "payments", List.of("payments.read"))).containsExactly("payments.read");
        assertThat(policy.missingScopes(shopItself, "payments", List.of("payments.read"))).containsExactly("payments.read");
    }

    @Test
    void anIdFromAnotherTrustDomainIsGrantedNothing() {
        SpiffeId foreign = SpiffeId.parse("spiffe://evil.internal/ns/shop/sa/web");

        assertThat(policy.missingScopes(foreign, "payments", List.of("payments.charge", "payments.read")))
                .containsExactly("payments.charge", "payments.read");
    }

    @Test
    void grantsAreScopedToTheirAudience() {
        assertThat(policy.missingScopes(WORKER, "payments", List.of("ledger.read"))).containsExactly("ledger.read");
        assertThat(policy.missingScopes(WEB, "ledger", List.of("payments.charge"))).containsExactly("payments.charge");
    }

    @Test
    void deniesByDefault() {
        GrantsPolicy empty = GrantsPolicy.empty();

        assertThat(empty.version()).isZero();
        assertThat(empty.missingScopes(WEB, "payments", List.of("payments.read", "payments.charge")))
                .containsExactly("payments.read", "payments.charge");
        assertThat(policy.missingScopes(WEB, "unknown", List.of("x.read"))).containsExactly("x.read");
        assertThat(GrantsPolicy.from(Policy.newBuilder().setVersion(1).build())
                .missingScopes(WEB, "payments", List.of("payments.read"))).containsExactly("payments.read");
    }

    @Test
    void keepsTheAppliedPolicyAndItsVersion() {
        assertThat(policy.version()).isEqualTo(4);
        assertThat(policy.toProto()).isEqualTo(POLICY);
    }

    @Test
    void refusesAVersionThatIsNotPositive() {
        assertThatThrownBy(() -> GrantsPolicy.from(Policy.getDefaultInstance()))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessage("policy version must be positive, got 0");
    }

    @Test
    void refusesBadPatternsNamingTheGrantAndTheValue() {
        Policy bad = Policy.newBuilder().setVersion(1)
                .addGrants(grant("payments", List.of("spiffe://acme.internal/ns/shop/sa/web"), "payments.read"))
                .addGrants(grant("payments", List.of("spiffe://td/*/x"), "payments.read"))
                .addGrants(grant("payments", List.of("spiffe://td/ok", "spiffe://td/a*"), "payments.read"))
                .build();

        assertThatThrownBy(() -> GrantsPolicy.from(bad))
                .isInstanceOfSatisfying(InvalidPolicyException.class, e -> assertThat(e.problems()).containsExactly(
                        "grant 1: spiffe_ids entry \"spiffe://td/*/x\" is not valid: '*' is allowed only as the whole"
                                + " last segment, as in spiffe://example.org/ns/shop/*",
                        "grant 2: spiffe_ids entry \"spiffe://td/a*\" is not valid: '*' is allowed only as the whole"
                                + " last segment, as in spiffe://example.org/ns/shop/*"));
    }

    @Test
    void refusesAnIdThatIsNotASpiffeId() {
        Policy bad = Policy.newBuilder().setVersion(1)
                .addGrants(grant("payments", List.of("acme.internal/ns/shop"), "payments.read")).build();

        assertThatThrownBy(() -> GrantsPolicy.from(bad))
                .hasMessage("grant 0: spiffe_ids entry \"acme.internal/ns/shop\" is not valid:"
                        + " SPIFFE ID must start with spiffe://");
    }

    @Test
    void refusesAGrantWithoutIdsAudienceOrScopes() {
        Policy bad = Policy.newBuilder().setVersion(1).addGrants(Grant.getDefaultInstance()).build();

        assertThatThrownBy(() -> GrantsPolicy.from(bad))
                .isInstanceOfSatisfying(InvalidPolicyException.class, e -> assertThat(e.problems()).containsExactly(
                        "grant 0 names no spiffe_ids", "grant 0: audience is empty", "grant 0 names no scopes"));
    }

    @Test
    void refusesMalformedScopesAndAudiences() {
        Policy bad = Policy.newBuilder().setVersion(1)
                .addGrants(grant("Payments", List.of("spiffe://td/a"), "payments.read"))
                .addGrants(grant("payments", List.of("spiffe://td/a"), "payments read"))
                .build();

        assertThatThrownBy(() -> GrantsPolicy.from(bad))
                .isInstanceOfSatisfying(InvalidPolicyException.class, e -> assertThat(e.problems()).satisfiesExactly(
                        p -> assertThat(p).startsWith("grant 0: audience \"Payments\" is neither a SPIFFE ID"),
                        p -> assertThat(p).startsWith("grant 1: scope \"payments read\" is not well formed")));
    }
}
