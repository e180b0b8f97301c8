package dev.lanyard.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class StoredContractSetTest {

    private static final Instant AT = Instant.parse("2030-01-01T00:00:00Z");

    @Test
    void copiesTheBytesInAndOut() {
        byte[] bytes = {1, 2, 3};
        StoredContractSet stored = new StoredContractSet("ci", 7, bytes, AT);
        bytes[0] = 9;
        stored.descriptorSet()[1] = 9;

        assertThat(stored.descriptorSet()).containsExactly(1, 2, 3);
    }

    @Test
    void comparesByContentAndPrintsOnlyTheSize() {
        StoredContractSet one = new StoredContractSet("ci", 7, new byte[] {1, 2, 3}, AT);

        assertThat(one).isEqualTo(new StoredContractSet("ci", 7, new byte[] {1, 2, 3}, AT))
                .hasSameHashCodeAs(new StoredContractSet("ci", 7, new byte[] {1, 2, 3}, AT))
                .isNotEqualTo(new StoredContractSet("ci", 7, new byte[] {1, 2, 4}, AT));
        assertThat(one).hasToString(
                "StoredContractSet[source=ci, version=7, descriptorSet=3 bytes, publishedAt=2030-01-01T00:00:00Z]");
    }
}
