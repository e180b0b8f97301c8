package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.testing.WebPki;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReloadingKeyManagerTest {

    private static Credential credential() {
        WebPki pki = WebPki.selfSigned("lanyard.local");
        return new Credential(pki.keys().getPrivate(), pki.certificate(), List.of(), List.of(pki.certificate()));
    }

    @Test
    void aHandshakeThatChoseAnAliasBeforeASwapGetsTheKeyAndChainThatBelongTogether() {
        Credential first = credential();
        Credential second = credential();
        ReloadingKeyManager manager = new ReloadingKeyManager(first);
        String chosen = manager.chooseEngineServerAlias("EC", null, null);
        X509Certificate[] chainBeforeSwap = manager.getCertificateChain(chosen);

        manager.update(second);

        // The TLS stack reads the chain and then the key (or the other way round) for the alias it chose.
        assertThat(chainBeforeSwap[0]).isEqualTo(first.leaf());
        assertThat(manager.getPrivateKey(chosen)).isEqualTo(first.privateKey());
        String now = manager.chooseEngineServerAlias("EC", null, null);
        assertThat(now).isNotEqualTo(chosen);
        assertThat(manager.getCertificateChain(now)[0]).isEqualTo(second.leaf());
        assertThat(manager.getPrivateKey(now)).isEqualTo(second.privateKey());
        assertThat(manager.credential()).isEqualTo(second);
    }

    @Test
    void anAliasTwoSwapsOldOrUnknownResolvesToNothingRatherThanToAnotherKey() {
        Credential first = credential();
        ReloadingKeyManager manager = new ReloadingKeyManager(first);
        String chosen = manager.chooseServerAlias("EC", null, null);

        manager.update(credential());
        manager.update(credential());

        assertThat(manager.getCertificateChain(chosen)).isNull();
        assertThat(manager.getPrivateKey(chosen)).isNull();
        assertThat(manager.getPrivateKey("unknown")).isNull();
        assertThat(manager.getServerAliases("EC", null)).containsExactly(manager.chooseServerAlias("EC", null, null));
    }
}
