package dev.lanyard.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AuditChainTest {

    static final Instant T = Instant.parse("2026-11-23T10:00:00.123456789Z");

    static List<AuditRecord> chain(int n) {
        List<AuditRecord> records = new ArrayList<>();
        String previous = AuditChain.GENESIS;
        for (int i = 1; i <= n; i++) {
            AuditEvent e = new AuditEvent(AuditChain.stored(T.plusSeconds(i)), "spiffe://td/admin", "registration.create",
                    "spiffe://td/w" + i, AuditEvent.Outcome.SUCCESS, "");
            String hash = AuditChain.hash(i, e, previous);
            records.add(new AuditRecord(i, e, previous, hash));
            previous = hash;
        }
        return records;
    }

    @Test
    void theHashCoversEveryFieldUnambiguously() {
        AuditEvent e = new AuditEvent(T, "a", "b", "c", AuditEvent.Outcome.SUCCESS, "");
        String h = AuditChain.hash(1, e, AuditChain.GENESIS);
        assertThat(h).hasSize(64).isEqualTo(AuditChain.hash(1, e, AuditChain.GENESIS));
        assertThat(AuditChain.hash(2, e, AuditChain.GENESIS)).isNotEqualTo(h);
        assertThat(AuditChain.hash(1, new AuditEvent(T, "ab", "", "c", AuditEvent.Outcome.SUCCESS, ""),
                AuditChain.GENESIS)).isNotEqualTo(AuditChain.hash(1, new AuditEvent(T, "a", "b", "c",
                AuditEvent.Outcome.SUCCESS, ""), AuditChain.GENESIS));
        assertThat(AuditChain.hash(1, new AuditEvent(T.plusNanos(1_000), "a", "b", "c", AuditEvent.Outcome.SUCCESS, ""),
                AuditChain.GENESIS)).isNotEqualTo(h);
        // Below a microsecond is not stored, so not hashed.
        assertThat(AuditChain.hash(1, new AuditEvent(T.plusNanos(1), "a", "b", "c", AuditEvent.Outcome.SUCCESS, ""),
                AuditChain.GENESIS)).isEqualTo(h);
    }

    @Test
    void anIntactChainVerifies() {
        AuditChain.Verifier verifier = new AuditChain.Verifier();
        for (AuditRecord r : chain(5)) {
            assertThat(verifier.accept(r)).isEmpty();
        }
        assertThat(verifier.count()).isEqualTo(5);
        assertThat(verifier.lastHash()).isEqualTo(chain(5).get(4).hash());
    }

    @Test
    void anEditedRecordIsNamed() {
        List<AuditRecord> records = chain(5);
        AuditRecord third = records.get(2);
        records.set(2, new AuditRecord(3, new AuditEvent(third.event().time(), "spiffe://td/someone-else",
                third.event().action(), third.event().target(), third.event().outcome(), ""), third.previousHash(),
                third.hash()));
        assertThat(firstProblem(records)).isEqualTo("record 3 was edited: its contents do not match its hash");
    }

    @Test
    void aRecordEditedWithARecomputedHashBreaksTheNextLink() {
        List<AuditRecord> records = chain(5);
        AuditRecord third = records.get(2);
        AuditEvent forged = new AuditEvent(third.event().time(), "x", "y", "z", AuditEvent.Outcome.SUCCESS, "");
        records.set(2, new AuditRecord(3, forged, third.previousHash(), AuditChain.hash(3, forged, third.previousHash())));
        assertThat(firstProblem(records)).isEqualTo("record 4 does not link to record 3: one of them was edited");
    }

    @Test
    void deletedRecordsAreNamed() {
        List<AuditRecord> records = chain(6);
        records.remove(3);
        assertThat(firstProblem(records)).isEqualTo("record 4 was deleted");
        records.remove(3);
        assertThat(firstProblem(records)).isEqualTo("records 4 to 5 were deleted");
        assertThat(firstProblem(chain(3).subList(1, 3))).isEqualTo("record 1 was deleted");
    }

    private static String firstProblem(List<AuditRecord> records) {
        AuditChain.Verifier verifier = new AuditChain.Verifier();
        for (AuditRecord r : records) {
            var problem = verifier.accept(r);
            if (problem.isPresent()) {
                return problem.get();
            }
        }
        return "none";
    }
}
