package dev.lanyard.token;

import java.security.SecureRandom;
import java.time.Instant;

/**
 * Token ids ({@code jti}) laid out as a ULID: the time of minting in milliseconds (48 bits), then 80
 * random bits, written as 26 characters of Crockford's base32 ({@code 0-9} and {@code A-Z} without
 * I, L, O and U). The random bits keep an id unguessable; the time makes each id sort after the
 * ones minted before it, as text and as bytes, so the store adds a minted token to the end of its
 * jti index instead of to a random page of it (a page read and written per token once the index
 * outgrows memory). The time is no secret: {@code iat} carries it to the second.
 */
final class TokenIds {

    static final int LENGTH = 26;
    private static final char[] ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();
    private static final long TIME_MASK = (1L << 48) - 1;

    private TokenIds() {
    }

    static String next(Instant now, SecureRandom random) {
        byte[] bits = new byte[10];
        random.nextBytes(bits);
        long high = (now.toEpochMilli() & TIME_MASK) << 16 | (bits[0] & 0xFFL) << 8 | (bits[1] & 0xFFL);
        long low = 0;
        for (int i = 2; i < bits.length; i++) {
            low = low << 8 | (bits[i] & 0xFFL);
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
