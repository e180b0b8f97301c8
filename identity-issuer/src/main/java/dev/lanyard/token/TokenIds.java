package dev.lanyard.token;

import dev.lanyard.ids.TimeOrderedId;
import java.security.SecureRandom;
import java.time.Instant;

/**
 * Token ids ({@code jti}): a {@link TimeOrderedId} written as 26 characters of Crockford's base32
 * ({@code 0-9} and {@code A-Z} without I, L, O and U), as a ULID is, so they sort by time as text
 * too and the store adds a minted token at the end of its jti index.
 */
final class TokenIds {

    static final int LENGTH = 26;
    private static final char[] ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();

    private TokenIds() {
    }

    static String next(Instant now, SecureRandom random) {
        byte[] bits = TimeOrderedId.next(now, random);
        long high = 0;
        long low = 0;
        for (int i = 0; i < 8; i++) {
            high = high << 8 | (bits[i] & 0xFFL);
            low = low << 8 | (bits[i + 8] & 0xFFL);
        }
        char[] id = new char[LENGTH];
        for (int i = LENGTH - 1; i >= 0; i--) { // five bits at a time from the end of the 128
            id[i] = ALPHABET[(int) (low & 31)];
            low = (low >>> 5) | (high << 59);
            high >>>= 5;
        }
        return new String(id);
    }
}
