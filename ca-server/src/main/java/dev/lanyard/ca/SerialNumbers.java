package dev.lanyard.ca;

import java.math.BigInteger;
import java.security.SecureRandom;

/** 128-bit random serial numbers: unpredictable, so certificate contents cannot be chosen by a requester. */
public final class SerialNumbers {

    private final SecureRandom random;

    public SerialNumbers(SecureRandom random) {
        this.random = random;
    }

    public BigInteger next() {
        BigInteger serial;
        do {
            serial = new BigInteger(128, random);
        } while (serial.signum() == 0);
        return serial;
    }
}
