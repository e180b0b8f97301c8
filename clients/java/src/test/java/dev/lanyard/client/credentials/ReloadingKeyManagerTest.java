package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.client.testing.TestPki;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReloadingKeyManagerTest {

    private static final String ID = "spiffe://lanyard.local/a";

    private final TestPki pki = new TestPki(Clock.systemUTC(), "lanyard.local");

    private Svid svid() {
        TestPki.Held held = pki.leaf(ID);
        return new Svid(ID, held.privateKey(), held.leaf(), List.of(held.intermediate()), List.of(pki.root()));
    }

    @Test
    void presentsTheCurrentSvidUnderAnAliasOfItsOwn() {
        Svid first = svid();
        ReloadingKeyManager manager = new ReloadingKeyManager(first);

        String alias = manager.chooseEngineClientAlias(new String[] {"EC"}, null, null);

        assertThat(alias).isEqualTo("lanyard-svid-" + first.serialHex());
        assertThat(manager.chooseEngineServerAlias("EC", null, null)).isEqualTo(alias);
        assertThat(manager.getCertificateChain(alias)).containsExactly(first.leaf(), first.chain().get(0));
        assertThat(manager.getPrivateKey(alias)).isEqualTo(first.privateKey());
        assertThat(manager.getClientAliases("EC", null)).containsExactly(alias);
    }

    @Test
    void switchesOnUpdateAndStillResolvesThePreviousAliasMidHandshake() {
        Svid first = svid();
        Svid second = svid();
        ReloadingKeyManager manager = new ReloadingKeyManager(first);
        String chosenBeforeSwap = manager.chooseClientAlias(new String[] {"EC"}, null, null);

        manager.update(second);

        assertThat(manager.getPrivateKey(chosenBeforeSwap)).isEqualTo(first.privateKey());
        assertThat(manager.getCertificateChain(chosenBeforeSwap)[0]).isEqualTo(first.leaf());
        String now = manager.chooseServerAlias("EC", null, null);
        assertThat(manager.getCertificateChain(now)[0]).isEqualTo(second.leaf());
        assertThat(manager.current()).isEqualTo(second);
        assertThat(manager.getPrivateKey("unknown")).isNull();
        assertThat(manager.getCertificateChain("unknown")).isNull();
    }

    @Test
    void neverShowsTheKey() {
        ReloadingKeyManager manager = new ReloadingKeyManager(svid());

        assertThat(manager.toString()).startsWith("ReloadingKeyManager[Svid[" + ID).doesNotContain("PrivateKey");
    }
}
