package dev.lanyard.token;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TokenIdsTest {

    private static final String CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    @Test
    void anIdIsTheTimeInMillisecondsThenEightyRandomBitsAsAUlid() {
        assertThat(TokenIds.next(Instant.EPOCH, fixed((byte) 0))).isEqualTo("0".repeat(26));
        // the largest time and all random bits set: the largest ULID
        assertThat(TokenIds.next(Instant.ofEpochMilli((1L << 48) - 1), fixed((byte) 0xFF))).isEqualTo("7" + "Z".repeat(25));

        Instant minted = Instant.parse("2026-12-01T16:04:36.123Z");
        String id = TokenIds.next(minted, new SecureRandom());
        assertThat(id).hasSize(26).matches("[0-9A-HJKMNP-TV-Z]{26}");
        assertThat(decode(id.substring(0, 10))).as("the first 10 characters are the time").isEqualTo(minted.toEpochMilli());
    }

    @Test
    void idsAreUniqueUnpredictableAndSortInTheOrderMinted() {
        SecureRandom random = new SecureRandom();
        Instant start = Instant.parse("2026-12-01T16:00:00Z");
        List<String> minted = new ArrayList<>();
        Set<String> randomParts = new HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            String id = TokenIds.next(start.plusMillis(i / 10), random); // ten in each millisecond
            minted.add(id);
            randomParts.add(id.substring(10));
        }
        assertThat(new HashSet<>(minted)).hasSize(10_000);
        assertThat(randomParts).as("no two share their random part").hasSize(10_000);
        for (int i = 10; i < minted.size(); i++) {
            if (i % 10 == 0) { // a later millisecond sorts later, as text and as bytes
                assertThat(minted.get(i)).isGreaterThan(minted.get(i - 1));
                assertThat(Arrays.compareUnsigned(minted.get(i).getBytes(), minted.get(i - 1).getBytes())).isPositive();
            }
        }
    }

    private static long decode(String base32) {
        long value = 0;
        for (char c : base32.toCharArray()) {
            value = value << 5 | CROCKFORD.indexOf(c);
        }
        return value;
    }

    /** A SecureRandom whose every byte is {@code b}. */
    private static SecureRandom fixed(byte b) {
        return new SecureRandom() {
            private static final long serialVersionUID = 1L;

            @Override
            public void nextBytes(byte[] bytes) {
                Arrays.fill(bytes, b);
            }
        };
    }
}
