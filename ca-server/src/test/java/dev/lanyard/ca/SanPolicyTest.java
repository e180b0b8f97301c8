package dev.lanyard.ca;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.spiffe.SpiffeId;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SanPolicyTest {

    private static final SpiffeId ID = SpiffeId.parse("spiffe://example.org/web");
    private static final List<String> ALLOWED = List.of("web.example.org");

    @Test
    void allowsTheIdentityAndAllowedNames() {
        assertThatCode(() -> SanPolicy.check(csr(List.of(ID.toString()), List.of("WEB.example.org"),
                Optional.of("web.example.org")), ID, ALLOWED)).doesNotThrowAnyException();
        assertThatCode(() -> SanPolicy.check(csr(List.of(), List.of(), Optional.of(ID.toString())), ID, ALLOWED))
                .doesNotThrowAnyException();
    }

    @Test
    void refusesAnotherIdentity() {
        assertThatThrownBy(() -> SanPolicy.check(csr(List.of("spiffe://example.org/admin"), List.of(), Optional.empty()),
                ID, ALLOWED)).hasMessage("CSR asks for URI SAN spiffe://example.org/admin; this identity is " + ID);
    }

    @Test
    void refusesDnsNamesAndCommonNamesOutsideTheRegistration() {
        assertThatThrownBy(() -> SanPolicy.check(csr(List.of(), List.of("evil.example"), Optional.empty()), ID, ALLOWED))
                .isInstanceOfSatisfying(CsrRejectedException.class,
                        e -> org.assertj.core.api.Assertions.assertThat(e.reason())
                                .isEqualTo(CsrRejectedException.Reason.DISALLOWED_SAN))
                .hasMessageContaining("evil.example");
        assertThatThrownBy(() -> SanPolicy.check(csr(List.of(), List.of(), Optional.of("admin")), ID, ALLOWED))
                .hasMessageContaining("common name admin");
    }

    @Test
    void namesOnlyWhatIsAHostNameOrASpiffeId() {
        String jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
        assertThatThrownBy(() -> SanPolicy.check(csr(List.of("spiffe://" + jwt), List.of(), Optional.empty()), ID,
                ALLOWED)).hasMessage("CSR asks for URI SAN invalid URI SAN (" + (jwt.length() + 9)
                        + " characters); this identity is " + ID);
        assertThatThrownBy(() -> SanPolicy.check(csr(List.of(), List.of(jwt), Optional.empty()), ID, ALLOWED))
                .hasMessageStartingWith("CSR asks for DNS name invalid DNS name (" + jwt.length() + " characters)");
        assertThatThrownBy(() -> SanPolicy.check(csr(List.of(), List.of(), Optional.of(jwt)), ID, ALLOWED))
                .hasMessageStartingWith("CSR asks for common name invalid common name (" + jwt.length() + " characters)");
    }

    @Test
    void aHostNameIsNeitherAnIpAddressNorAWildcard() {
        for (String name : List.of("api.payments.internal", "localhost", "db-1.example", "10.example", "a1.b2.c3")) {
            assertThat(SanPolicy.isHostName(name)).as(name).isTrue();
        }
        for (String name : List.of("10.0.0.1", "127.0.0.1", "192.168.1.300", "1", "host.123", "*.example", "a..b",
                "-a.example", "::1", "")) {
            assertThat(SanPolicy.isHostName(name)).as(name).isFalse();
        }
    }

    private static ValidatedCsr csr(List<String> uris, List<String> dns, Optional<String> cn) {
        return new ValidatedCsr(dev.lanyard.testing.Csrs.ecP256().getPublic(), "ECDSA P-256", uris, dns, cn);
    }
}
