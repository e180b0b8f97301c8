package dev.lanyard.server;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.ca.CertificateAuthority;
import dev.lanyard.ca.IssuedCertificateRecord;
import dev.lanyard.ca.IssuedCertificateRepository;
import dev.lanyard.ca.IssuedSvid;
import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.spiffe.SpiffeId;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * Credentials the server vouches for itself, with a key made in this process: its own TLS
 * certificate and, when configured, the admin credential of a dev server. Recorded and audited
 * like every other issuance.
 */
final class LocalCredentials {

    private final Supplier<CertificateAuthority> ca;
    private final CryptoProviders crypto;
    private final IssuedCertificateRepository issued;
    private final Clock clock;
    private final SecureRandom random;

    LocalCredentials(Supplier<CertificateAuthority> ca, CryptoProviders crypto, IssuedCertificateRepository issued,
            Clock clock, SecureRandom random) {
        this.ca = ca;
        this.crypto = crypto;
        this.issued = issued;
        this.clock = clock;
        this.random = random;
    }

    Credential issue(SpiffeId id, List<String> dnsNames, Duration ttl, List<X509Certificate> bundle) {
        KeyPair keys = newKeyPair();
        IssuedSvid svid = ca.get().issue(keys.getPublic(), id, dnsNames, ttl);
        issued.record(new IssuedCertificateRecord(svid.serialHex(), id,
                svid.notBefore(), svid.notAfter(),
                svid.sha256Fingerprint(), clock.instant(), svid.issuerKeyId()),
                new AuditEvent(clock.instant(), "lanyard", "certificate.local", id + " serial " + svid.serialHex(),
                        AuditEvent.Outcome.SUCCESS, ""));
        return new Credential(keys.getPrivate(), svid.certificate(), svid.chain(), bundle);
    }

    /** When to renew: at half of the certificate's lifetime, as every client does. */
    Duration renewalDelay(Credential credential) {
        return renewalDelay(credential.leaf());
    }

    Duration renewalDelay(X509Certificate leaf) {
        long notBefore = leaf.getNotBefore().getTime();
        long notAfter = leaf.getNotAfter().getTime();
        long halfLife = notBefore + (notAfter - notBefore) / 2;
        return Duration.ofMillis(Math.max(0, halfLife - clock.millis()));
    }

    private KeyPair newKeyPair() {
        try {
            KeyPairGenerator generator = crypto.keyPairGenerator("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"), random);
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot generate an ECDSA P-256 key", e);
        }
    }
}
