package dev.lanyard.ca;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Date;
import org.bouncycastle.asn1.ASN1UTCTime;
import org.bouncycastle.asn1.x509.Time;

/**
 * Certificate validity times as RFC 5280 encodes them: UTCTime through 2049, GeneralizedTime after.
 * Bouncy Castle's {@code Time(Date)} builds a {@code SimpleDateFormat} for every value, and its
 * {@code ASN1UTCTime(String)} parses the string back with another; together a tenth of a renewal.
 * A UTCTime is made here from its encoding instead, which Bouncy Castle takes without a parse.
 */
final class CertificateTimes {

    private static final DateTimeFormatter UTC_TIME = DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'")
            .withZone(ZoneOffset.UTC);
    private static final Instant UTC_TIME_END = Instant.parse("2050-01-01T00:00:00Z");
    private static final Instant UTC_TIME_START = Instant.parse("1950-01-01T00:00:00Z");
    private static final int UTC_TIME_TAG = 0x17;

    private CertificateTimes() {
    }

    /** {@code instant} to the second (RFC 5280 times have no fractions). */
    static Time time(Instant instant) {
        if (instant.isBefore(UTC_TIME_START) || !instant.isBefore(UTC_TIME_END)) {
            return new Time(Date.from(instant)); // GeneralizedTime: rare enough to take the slow path
        }
        byte[] text = UTC_TIME.format(instant).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] encoding = new byte[text.length + 2];
        encoding[0] = UTC_TIME_TAG;
        encoding[1] = (byte) text.length;
        System.arraycopy(text, 0, encoding, 2, text.length);
        return new Time(ASN1UTCTime.getInstance(encoding));
    }
}
