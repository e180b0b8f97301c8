package dev.lanyard.ca;

import java.math.BigInteger;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;

/**
 * 128-bit serial numbers: the time of issue in milliseconds in the top 48 bits, then 80 random bits.
 * The random bits keep a serial unpredictable, so a requester cannot choose a certificate's contents
 * (the CA/Browser Forum asks for at least 64). The time makes each serial sort after the ones issued
 * before it, so recording a certificate adds to the end of the store's serial index instead of to a
 * random page of it: with a million certificates stored, a random page per renewal was one more page
 * read and written each time.
 */
public final class SerialNumbers {

    private static final int RANDOM_BITS = 80;
    private static final long TIME_MASK = (1L << 48) - 1;

    private final SecureRandom random;
    private final Clock clock;

    public SerialNumbers(SecureRandom random, Clock clock) {
        this.random = random;
        this.clock = clock;
    }

    public BigInteger next() {
        BigInteger serial;
        do {
            serial = of(clock.instant(), new BigInteger(RANDOM_BITS, random));
        } while (serial.signum() == 0);
        return serial;
    }

    /** The serial of a certificate issued at {@code time}, with {@code randomBits} (80 of them) below the time. */
    public static BigInteger of(Instant time, BigInteger randomBits) {
        return BigInteger.valueOf(time.toEpochMilli() & TIME_MASK).shiftLeft(RANDOM_BITS)
                .or(randomBits.and(BigInteger.ONE.shiftLeft(RANDOM_BITS).subtract(BigInteger.ONE)));
    }

    /** How many random bits a serial has below its time. */
    public static int randomBits() {
        return RANDOM_BITS;
    }
}
