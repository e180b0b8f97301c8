package dev.lanyard.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.spiffe.SpiffeId;
import org.junit.jupiter.api.Test;

class IdPatternTest {

    private static boolean matches(String pattern, String id) {
        return IdPattern.parse(pattern).matches(SpiffeId.parse(id));
    }

    @Test
    void anExactIdMatchesOnlyItself() {
        assertThat(matches("spiffe://acme.internal/ns/shop/sa/web", "spiffe://acme.internal/ns/shop/sa/web")).isTrue();
        assertThat(matches("spiffe://acme.internal/ns/shop/sa/web", "spiffe://acme.internal/ns/shop/sa/web2")).isFalse();
        assertThat(matches("spiffe://acme.internal/ns/shop/sa/web", "spiffe://acme.internal/ns/shop/sa/web/x")).isFalse();
    }

    @Test
    void aPrefixMatchesEveryIdStrictlyUnderItByWholeSegments() {
        assertThat(matches("spiffe://acme.internal/ns/shop/*", "spiffe://acme.internal/ns/shop/sa/web")).isTrue();
        assertThat(matches("spiffe://acme.internal/ns/shop/*", "spiffe://acme.internal/ns/shop/x")).isTrue();
        assertThat(matches("spiffe://acme.internal/ns/shop/*", "spiffe://acme.internal/ns/shopping/x")).isFalse();
        assertThat(matches("spiffe://acme.internal/ns/shop/*", "spiffe://acme.internal/ns/shop")).isFalse();
    }

    @Test
    void aTrustDomainWildcardMatchesEveryWorkloadOfThatDomainOnly() {
        assertThat(matches("spiffe://acme.internal/*", "spiffe://acme.internal/anything/at/all")).isTrue();
        assertThat(matches("spiffe://acme.internal/*", "spiffe://other.internal/anything")).isFalse();
    }

    @Test
    void neverMatchesAcrossTrustDomains() {
        assertThat(matches("spiffe://acme.internal/ns/shop/sa/web", "spiffe://evil.internal/ns/shop/sa/web")).isFalse();
        assertThat(matches("spiffe://acme.internal/ns/shop/*", "spiffe://evil.internal/ns/shop/sa/web")).isFalse();
    }

    @Test
    void refusesAWildcardAnywhereButTheWholeLastSegment() {
        for (String bad : new String[] {"spiffe://td/*/x", "spiffe://td/a*", "spiffe://td/a/**", "spiffe://*/a",
                "spiffe://td/a/*b"}) {
            assertThatThrownBy(() -> IdPattern.parse(bad)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("'*' is allowed only as the whole last segment, as in spiffe://example.org/ns/shop/*");
        }
    }

    @Test
    void refusesWhatIsNotASpiffeId() {
        assertThatThrownBy(() -> IdPattern.parse("https://td/a"))
                .hasMessage("SPIFFE ID must start with spiffe://");
        assertThatThrownBy(() -> IdPattern.parse("spiffe://TD/*"))
                .hasMessage("SPIFFE ID trust domain may hold only lower-case letters, digits, '.', '-' and '_'");
        assertThatThrownBy(() -> IdPattern.parse("spiffe://td/a//*"))
                .hasMessage("SPIFFE ID path must not end with '/'");
    }
}
