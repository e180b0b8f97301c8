package dev.lanyard.client.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Modifier;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class VerifiedTokenTest {

    private final VerifiedToken token = new VerifiedToken("spiffe://lanyard.local/ns/shop/sa/frontend",
            "payments", Set.of("payments.charge", "payments.read"), "jti-1",
            Instant.parse("2030-01-01T12:05:00Z"), "k1");

    @Test
    void namesTheScopesItLacks() {
        assertThat(token.missingScopes(List.of("payments.read"))).isEmpty();
        assertThat(token.missingScopes(List.of("payments.refund", "payments.read", "admin.all")))
                .containsExactly("admin.all", "payments.refund");
    }

    @Test
    void onlyTheVerifierCanMakeOne() {
        assertThat(VerifiedToken.class.getDeclaredConstructors())
                .allSatisfy(c -> assertThat(Modifier.isPublic(c.getModifiers()) || Modifier.isProtected(c.getModifiers()))
                        .isFalse());
        assertThat(Modifier.isFinal(VerifiedToken.class.getModifiers())).isTrue();
    }

    @Test
    void scopesCannotBeChanged() {
        assertThatThrownBy(() -> token.scopes().add("admin.all")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void showsItsClaims() {
        assertThat(token.toString()).isEqualTo("VerifiedToken[sub=spiffe://lanyard.local/ns/shop/sa/frontend, "
                + "aud=payments, scopes=[payments.charge, payments.read], jti=jti-1, exp=2030-01-01T12:05:00Z, kid=k1]");
    }
}
