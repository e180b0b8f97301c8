package dev.lanyard.audit;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class AuditTextTest {

    @Test
    void aSpiffeIdIsNamedOnlyWhenItParses() {
        assertThat(AuditText.spiffeId("spiffe://lanyard.local/ns/shop/sa/web")).isEqualTo("spiffe://lanyard.local/ns/shop/sa/web");
        String jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        assertThat(AuditText.spiffeId(jwt)).isEqualTo("invalid spiffe_id (" + jwt.length() + " characters)");
        assertThat(AuditText.spiffeId("spiffe://lanyard.local/x?token=" + jwt)).startsWith("invalid spiffe_id (");
        assertThat(AuditText.spiffeId("")).isEmpty();
    }

    @Test
    void textThatFailedItsCheckIsNamedByFieldAndLengthOnly() {
        String joinToken = "lyjt_0123456789abcdef0123456789abcdef.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdE";
        assertThat(AuditText.unnamed("dns_names[2]", joinToken)).isEqualTo("dns_names[2] (81 characters)");
        assertThat(AuditText.invalid("audience", joinToken)).isEqualTo("invalid audience (81 characters)");
        assertThat(AuditText.trustDomain("b.test")).isEqualTo("b.test");
        assertThat(AuditText.trustDomain(joinToken)).isEqualTo("invalid trust_domain (81 characters)");
        assertThat(AuditText.trustDomain("")).isEmpty();
    }

    @Test
    void aJwtOrAJoinTokenIsFoundInFreeText() {
        assertThat(AuditText.holdsToken("see eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln, sorry")).isTrue();
        assertThat(AuditText.holdsToken("lyjt_0123456789abcdef0123456789abcdef.AbCdEfGh")).isTrue();
        assertThat(AuditText.holdsToken("laptop stolen; ticket OPS-1234, see eyJ in the runbook")).isFalse();
        assertThat(AuditText.holdsToken("github.com/acme/payments@v1.2.3")).isFalse();
    }

    @Test
    void controlCharactersAreStoredEscapedSoNoRecordCanForgeALine() {
        String forged = "api.shop.internal\n2026-11-30T00:00:00Z lanyard certificate.issue SUCCESS \u001b[2K";
        AuditEvent stored = AuditText.stored(new AuditEvent(java.time.Instant.EPOCH, "spiffe://td/a", "x.y", "t",
                AuditEvent.Outcome.REFUSED, forged));
        assertThat(stored.reason()).isEqualTo("api.shop.internal\\u000a2026-11-30T00:00:00Z lanyard certificate.issue"
                + " SUCCESS \\u001b[2K");
        assertThat(AuditText.escape("plain text stays")).isEqualTo("plain text stays");
    }
}
