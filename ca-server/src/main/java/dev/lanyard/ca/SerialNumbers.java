package dev.lanyard.ca;

import dev.lanyard.ids.TimeOrderedId;
import java.math.BigInteger;
import java.security.SecureRandom;
import java.time.Clock;

/**
 * 128-bit serial numbers laid out as a {@link TimeOrderedId}: the time of issue in milliseconds,
 * then 80 random bits. The random bits keep a serial unpredictable, so a requester cannot choose a
 * certificate's contents (the CA/Browser Forum asks for at least 64); the time makes each serial sort
 * after the ones issued before it, as a number and as the hex the store keeps, so recording a
 * certificate adds to the end of the serial index.
 */
public final class SerialNumbers {

    private final SecureRandom random;
    private final Clock clock;

    public SerialNumbers(SecureRandom random, Clock clock) {
        this.random = random;
        this.clock = clock;
    }

    public BigInteger next() {
        BigInteger serial;
        do {
            serial = new BigInteger(1, TimeOrderedId.next(clock.instant(), random));
        } while (serial.signum() == 0);
        return serial;
    }
}
