package dev.lanyard.testing;

import dev.lanyard.ca.CaGenerator;
import dev.lanyard.ca.CertificateAuthority;
import dev.lanyard.ca.IssuingCa;
import dev.lanyard.ca.SerialNumbers;
import dev.lanyard.crypto.CryptoProviders;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;

/** A root → intermediate CA in one line, for unit tests. */
public final class TestCa {

    public static final URI CRL = URI.create("http://localhost:8080/crl");

    private TestCa() {
    }

    public static IssuingCa create(String trustDomain, Clock clock) {
        return new CaGenerator(CryptoProviders.select(), clock, new SerialNumbers(new SecureRandom()))
                .generate(trustDomain, Duration.ofDays(3650), Duration.ofDays(365));
    }

    public static CertificateAuthority authority(IssuingCa ca, Clock clock) {
        return new CertificateAuthority(ca, CryptoProviders.select(), clock, new SerialNumbers(new SecureRandom()), CRL);
    }
}
