package dev.lanyard.testing;

import dev.lanyard.ca.CaGenerator;
import dev.lanyard.ca.CertificateAuthority;
import dev.lanyard.ca.IssuingCa;
import dev.lanyard.ca.SerialNumbers;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.custody.Custodies;
import dev.lanyard.custody.KeyAlgorithm;
import dev.lanyard.custody.KeyCustody;
import dev.lanyard.custody.Signer;
import java.net.URI;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A root → intermediate CA in one line, for unit tests. */
public final class TestCa {

    public static final URI CRL = URI.create("http://localhost:8080/crl");

    /** A CA made elsewhere, with the intermediate's private key as an operator would hold it in a file. */
    public record External(IssuingCa ca, PrivateKey rootKey, PrivateKey intermediateKey) {
    }

    private TestCa() {
    }

    public static IssuingCa create(String trustDomain, Clock clock) {
        return create(trustDomain, clock, custody(clock));
    }

    public static IssuingCa create(String trustDomain, Clock clock, KeyCustody custody) {
        return new CaGenerator(custody, clock, new SerialNumbers(new SecureRandom(), clock))
                .generate(trustDomain, Duration.ofDays(3650), Duration.ofDays(365));
    }

    /** Software custody in memory. */
    public static KeyCustody custody(Clock clock) {
        return Custodies.inMemory(CryptoProviders.select(), new SecureRandom(), clock);
    }

    public static External external(String trustDomain, Clock clock) {
        Map<String, PrivateKey> exported = new ConcurrentHashMap<>();
        IssuingCa ca = create(trustDomain, clock, new ExportingCustody(custody(clock), exported));
        return new External(ca, exported.get(ca.root().signer().id()), exported.get(ca.intermediate().signer().id()));
    }

    public static CertificateAuthority authority(IssuingCa ca, Clock clock) {
        return new CertificateAuthority(ca, clock, new SerialNumbers(new SecureRandom(), clock), CRL);
    }

    /** Makes keys outside custody and imports them, keeping a copy: what "a CA made elsewhere" means. */
    private record ExportingCustody(KeyCustody inner, Map<String, PrivateKey> exported) implements KeyCustody {

        @Override
        public String name() {
            return "exporting-test";
        }

        @Override
        public Signer generate(String id, KeyAlgorithm algorithm) {
            try {
                KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
                generator.initialize(new ECGenParameterSpec(algorithm.curve().orElseThrow()));
                KeyPair keys = generator.generateKeyPair();
                exported.put(id, keys.getPrivate());
                return inner.importKey(id, algorithm, keys.getPrivate());
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public Signer importKey(String id, KeyAlgorithm algorithm, PrivateKey key) {
            return inner.importKey(id, algorithm, key);
        }

        @Override
        public Signer signer(String id) {
            return inner.signer(id);
        }

        @Override
        public List<KeyEntry> list() {
            return inner.list();
        }

        @Override
        public boolean destroy(String id) {
            return inner.destroy(id);
        }

        @Override
        public void forget(String id) {
            inner.forget(id);
        }
    }
}
