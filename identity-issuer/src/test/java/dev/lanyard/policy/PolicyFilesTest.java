package dev.lanyard.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.v1.Grant;
import dev.lanyard.v1.Policy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PolicyFilesTest {

    private static final Policy EXPECTED = Policy.newBuilder()
            .setVersion(3)
            .addGrants(Grant.newBuilder()
                    .addSpiffeIds("spiffe://acme.internal/ns/shop/sa/web")
                    .addSpiffeIds("spiffe://acme.internal/ns/billing/*")
                    .setAudience("payments")
                    .addScopes("payments.charge")
                    .addScopes("payments.read"))
            .build();

    private static final String TEXT = """
            # Who may call payments.
            version: 3
            grants {
              spiffe_ids: "spiffe://acme.internal/ns/shop/sa/web"
              spiffe_ids: "spiffe://acme.internal/ns/billing/*"
              audience: "payments"
              scopes: ["payments.charge", "payments.read"]
            }
            """;

    private static final String JSON = """
            {
              "version": "3",
              "grants": [{
                "spiffeIds": ["spiffe://acme.internal/ns/shop/sa/web", "spiffe://acme.internal/ns/billing/*"],
                "audience": "payments",
                "scopes": ["payments.charge", "payments.read"]
              }]
            }
            """;

    @Test
    void readsTextFormatUnderEveryTextExtension(@TempDir Path dir) throws Exception {
        for (String name : new String[] {"policy.txtpb", "policy.textproto", "policy.pbtxt"}) {
            Path file = Files.writeString(dir.resolve(name), TEXT);

            assertThat(PolicyFiles.read(file)).as(name).isEqualTo(EXPECTED);
        }
    }

    @Test
    void readsJson(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("policy.json"), JSON);

        assertThat(PolicyFiles.read(file)).isEqualTo(EXPECTED);
    }

    @Test
    void readsJsonWithProtoFieldNames() {
        String json = "{\"version\": 3, \"grants\": [{\"spiffe_ids\": [\"spiffe://acme.internal/ns/shop/sa/web\","
                + " \"spiffe://acme.internal/ns/billing/*\"], \"audience\": \"payments\","
                + " \"scopes\": [\"payments.charge\", \"payments.read\"]}]}";

        assertThat(PolicyFiles.parse("p.json", json.getBytes(StandardCharsets.UTF_8))).isEqualTo(EXPECTED);
    }

    @Test
    void refusesAnUnsupportedExtension(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("policy.yaml"), "version: 1");

        assertThatThrownBy(() -> PolicyFiles.read(file))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessage("policy file policy.yaml has an unsupported extension: use .txtpb, .textproto, .pbtxt or .json");
    }

    @Test
    void refusesBrokenTextFormatGivingThePositionButNotTheContent() {
        byte[] content = "version: 1\ngrants { audience: \"payments\" secret_sauce: \"hunter2\" }\n"
                .getBytes(StandardCharsets.UTF_8);

        assertThatThrownBy(() -> PolicyFiles.parse("p.txtpb", content))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessage("policy file p.txtpb is not a valid lanyard.v1.Policy in text format: field"
                        + " grants.secret_sauce is unknown (Grant has spiffe_ids, audience, scopes) at line 2, column 31")
                .hasMessageNotContaining("hunter2");
    }

    @Test
    void aMisspelledFieldIsNamedWithItsPathAndTheClosestKnownOne() {
        byte[] content = "version: 1\ngrants { audience: \"payments\" scope: \"payments.charge\" }\n"
                .getBytes(StandardCharsets.UTF_8);

        assertThatThrownBy(() -> PolicyFiles.parse("p.txtpb", content))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessage("policy file p.txtpb is not a valid lanyard.v1.Policy in text format: field grants.scope"
                        + " is unknown (did you mean scopes? Grant has spiffe_ids, audience, scopes) at line 2,"
                        + " column 31");
    }

    @Test
    void refusesAFieldSetTwiceInTextFormat() {
        byte[] content = "version: 1\nversion: 2\n".getBytes(StandardCharsets.UTF_8);

        assertThatThrownBy(() -> PolicyFiles.parse("p.txtpb", content))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessageStartingWith("policy file p.txtpb is not a valid lanyard.v1.Policy in text format:"
                        + " error at line 2");
    }

    @Test
    void refusesBrokenJsonGivingThePositionButNotTheContent() {
        byte[] content = "{\"version\": 1,\n \"grants\": [hunter2]}".getBytes(StandardCharsets.UTF_8);

        assertThatThrownBy(() -> PolicyFiles.parse("p.json", content))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessageStartingWith("policy file p.json is not a valid lanyard.v1.Policy in JSON")
                .hasMessageNotContaining("hunter2");
    }

    @Test
    void refusesUnknownJsonFieldsWithoutNamingThem() {
        byte[] content = "{\"version\": 1, \"hunter2\": true}".getBytes(StandardCharsets.UTF_8);

        assertThatThrownBy(() -> PolicyFiles.parse("p.json", content))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessage("policy file p.json is not a valid lanyard.v1.Policy in JSON");
    }

    @Test
    void refusesContentThatIsNotUtf8() {
        assertThatThrownBy(() -> PolicyFiles.parse("p.txtpb", new byte[] {'v', (byte) 0xc3, 0x28}))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessage("policy file p.txtpb is not valid UTF-8");
    }

    @Test
    void refusesAFileLargerThanOneMebibyte(@TempDir Path dir) throws Exception {
        Path file = Files.write(dir.resolve("big.txtpb"), new byte[PolicyFiles.MAX_BYTES + 1]);

        assertThatThrownBy(() -> PolicyFiles.read(file))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessage("policy file big.txtpb is larger than 1048576 bytes");
    }
}
