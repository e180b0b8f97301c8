package dev.lanyard.ids;

import java.time.Instant;
import java.util.Random;

/**
 * 128-bit ids that sort in the order they were made, a ULID's layout: the time in milliseconds
 * (48 bits), then 80 random bits. The random bits keep an id unguessable; the time puts each new id
 * at the end of the index that stores it instead of on a random page of it (a page read and written
 * per record once the index outgrows memory). Certificate serials and token ids are made this way;
 * the time is no secret, as both carry it anyway (notBefore, iat).
 */
public final class TimeOrderedId {

    /** Bytes in an id: 6 of time, 10 random. */
    public static final int BYTES = 16;
    private static final int TIME_BYTES = 6;

    private TimeOrderedId() {
    }

    /** A new id made at {@code time}, big-endian: its bytes, as an unsigned number, sort by time first. */
    public static byte[] next(Instant time, Random random) {
        byte[] bits = new byte[BYTES - TIME_BYTES];
        random.nextBytes(bits);
        byte[] id = new byte[BYTES];
        long millis = time.toEpochMilli();
        for (int i = 0; i < TIME_BYTES; i++) {
            id[i] = (byte) (millis >>> (8 * (TIME_BYTES - 1 - i)));
        }
        System.arraycopy(bits, 0, id, TIME_BYTES, bits.length);
        return id;
    }
}
