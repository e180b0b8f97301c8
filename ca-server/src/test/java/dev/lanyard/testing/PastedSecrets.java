package dev.lanyard.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import dev.lanyard.v1.ApplyPolicyRequest;
import dev.lanyard.v1.GetPolicyRequest;
import dev.lanyard.v1.Grant;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.Policy;
import dev.lanyard.v1.PolicyServiceGrpc;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The secrets a caller may paste into the wrong field of a request, real ones made by the server under
 * test: a JWT and a join token. A refusal and the audit trail must repeat neither, not even in part: no
 * 16 characters of it in a row (a quote cut at 80 characters still holds most of a join token's secret).
 */
public final class PastedSecrets {

    /** The workload the JWT is minted for; registered by {@link #of}. */
    public static final String HOLDER = "spiffe://lanyard.local/ns/pasted/sa/holder";

    private PastedSecrets() {
    }

    /**
     * A JWT minted for {@link #HOLDER} (the example contracts are published and a grant of payments.read
     * is added to the policy in force) and an unused join token for it.
     */
    public static List<String> of(RunningServer lanyard) {
        lanyard.publishExampleContracts();
        var policies = PolicyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
        Policy current = policies.getPolicy(GetPolicyRequest.getDefaultInstance());
        policies.applyPolicy(ApplyPolicyRequest.newBuilder().setPolicy(current.toBuilder()
                .setVersion(current.getVersion() + 1)
                .addGrants(Grant.newBuilder().addSpiffeIds(HOLDER).setAudience("payments").addScopes("payments.read")))
                .build());
        lanyard.register(HOLDER);
        String jwt = lanyard.tokens(lanyard.bootstrap(HOLDER)).issueToken(IssueTokenRequest.newBuilder()
                .setAudience("payments").addScopes("payments.read").build()).getToken();
        return List.of(jwt, lanyard.joinToken(HOLDER));
    }

    /** The call is refused with {@code code} in words that hold no part of {@code secret}; the words. */
    public static String refusedWithoutRepeating(Runnable call, Status.Code code, String secret) {
        AtomicReference<String> description = new AtomicReference<>();
        assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(code);
            assertNotRepeated(e.getStatus().getDescription(), secret);
            description.set(e.getStatus().getDescription());
        });
        return description.get();
    }

    /** {@code text} holds no 16 characters in a row of {@code secret}. */
    public static void assertNotRepeated(String text, String secret) {
        for (int i = 0; i + 16 <= secret.length(); i++) {
            if (text.contains(secret.substring(i, i + 16))) {
                throw new AssertionError("repeats characters " + i + " to " + (i + 16) + " of the secret: " + text);
            }
        }
    }

    /** No record of the audit trail holds 16 characters in a row of {@code secret}. */
    public static void assertNotInTheAuditTrail(RunningServer lanyard, String secret) {
        assertThat(trail(lanyard)).allSatisfy(e -> assertNotRepeated(e.toString(), secret));
    }

    /** The trail holds a REFUSED record of {@code action} on {@code target}. */
    public static void assertRefusedRecord(RunningServer lanyard, String action, String target) {
        assertThat(trail(lanyard)).as(action + " REFUSED with target " + target).anyMatch(e -> e.action().equals(action)
                && e.outcome() == AuditEvent.Outcome.REFUSED && e.target().equals(target));
    }

    private static List<AuditEvent> trail(RunningServer lanyard) {
        return lanyard.server().audit().list(AuditQuery.all(0, 10_000)).stream().map(AuditRecord::event).toList();
    }
}
