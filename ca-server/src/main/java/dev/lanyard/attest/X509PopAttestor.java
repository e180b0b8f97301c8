package dev.lanyard.attest;

import dev.lanyard.attest.AttestationException.Reason;
import dev.lanyard.crypto.KeyPairing;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * x509pop: the node holds a certificate from a PKI whose roots are configured here, fit for signing as
 * a TLS client (key usage digitalSignature, extended key usage clientAuth, when the certificate restricts
 * them), and proves it holds the key by signing a fresh server challenge. The agent ID is the SHA-1
 * fingerprint of the leaf (as SPIRE's x509pop); the selectors name the subject CN (alone, whichever
 * root the chain ends in, and under its root), the SANs and the root.
 */
public final class X509PopAttestor implements NodeAttestor {

    private static final int CHALLENGE_BYTES = 32;
    private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
    private static final String ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0";

    private final List<X509Certificate> roots;
    private final Clock clock;
    private final SecureRandom random;

    public X509PopAttestor(List<X509Certificate> roots, Clock clock, SecureRandom random) {
        this.roots = List.copyOf(roots);
        this.clock = clock;
        this.random = random;
    }

    @Override
    public String kind() {
        return "x509pop";
    }

    @Override
    public Optional<byte[]> challenge(NodeEvidence evidence) throws AttestationException {
        validatePath(chain(evidence)); // no challenge for a chain that could never pass
        byte[] nonce = new byte[CHALLENGE_BYTES];
        random.nextBytes(nonce);
        return Optional.of(nonce);
    }

    @Override
    public AttestedNode verify(NodeEvidence evidence, byte[] challenge, byte[] response) throws AttestationException {
        List<X509Certificate> chain = chain(evidence);
        X509Certificate root = validatePath(chain);
        X509Certificate leaf = chain.get(0);
        if (challenge.length != CHALLENGE_BYTES || !signatureValid(leaf.getPublicKey(), challenge, response)) {
            throw new AttestationException(Reason.UNTRUSTED,
                    "the challenge signature does not verify with the node certificate's key");
        }
        List<String> selectors = new ArrayList<>();
        String rootSelector = "x509pop:ca:fingerprint:" + sha1(root);
        Optional<String> cn = commonName(leaf);
        cn.ifPresent(name -> selectors.add("x509pop:subject:cn:" + name));
        selectors.add(rootSelector);
        // A CN is only unique within its PKI: with several roots, this names the node under one of them.
        cn.ifPresent(name -> selectors.add(rootSelector + ":subject:cn:" + name));
        try {
            if (leaf.getSubjectAlternativeNames() != null) {
                for (List<?> san : leaf.getSubjectAlternativeNames()) {
                    if (Integer.valueOf(2).equals(san.get(0))) {
                        selectors.add("x509pop:san:dns:" + san.get(1));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            throw new AttestationException(Reason.MALFORMED, "the node certificate's SANs cannot be read");
        }
        return new AttestedNode(kind(), sha1(leaf), selectors);
    }

    private static List<X509Certificate> chain(NodeEvidence evidence) throws AttestationException {
        List<X509Certificate> chain = ((NodeEvidence.X509Pop) evidence).chain();
        if (chain.isEmpty()) {
            throw new AttestationException(Reason.MISSING, "x509pop needs the node certificate chain, leaf first");
        }
        return chain;
    }

    /** PKIX validation to a configured root at the clock's time, and the leaf's usage; the root it chains to. */
    private X509Certificate validatePath(List<X509Certificate> chain) throws AttestationException {
        if (roots.isEmpty()) {
            throw new AttestationException(Reason.UNSUPPORTED_KIND,
                    "x509pop is not enabled on this server (no x509pop.roots configured)");
        }
        if (chain.get(0).getBasicConstraints() >= 0) {
            throw new AttestationException(Reason.UNTRUSTED, "the node certificate is a CA certificate");
        }
        try {
            PKIXParameters params = new PKIXParameters(
                    roots.stream().map(r -> new TrustAnchor(r, null)).collect(Collectors.toSet()));
            params.setRevocationEnabled(false);
            params.setDate(Date.from(clock.instant()));
            var path = CertificateFactory.getInstance("X.509").generateCertPath(chain);
            var result = (java.security.cert.PKIXCertPathValidatorResult)
                    CertPathValidator.getInstance("PKIX").validate(path, params);
            checkUsage(chain.get(0));
            return result.getTrustAnchor().getTrustedCert();
        } catch (CertPathValidatorException e) {
            if (e.getCause() instanceof CertificateExpiredException
                    || e.getCause() instanceof CertificateNotYetValidException
                    || e.getReason() == CertPathValidatorException.BasicReason.EXPIRED
                    || e.getReason() == CertPathValidatorException.BasicReason.NOT_YET_VALID) {
                throw new AttestationException(Reason.EXPIRED, "the node certificate (or its chain) is not valid now");
            }
            throw new AttestationException(Reason.UNTRUSTED,
                    "the node certificate does not chain to a configured x509pop root");
        } catch (GeneralSecurityException e) {
            throw new AttestationException(Reason.MALFORMED, "the node certificate chain cannot be validated");
        }
    }

    /**
     * The node signs a challenge to authenticate, as a TLS client does: a certificate whose key usage or
     * extended key usage is restricted must allow that (PKIX validation does not look at the leaf's).
     */
    private static void checkUsage(X509Certificate leaf) throws AttestationException {
        boolean[] keyUsage = leaf.getKeyUsage();
        if (keyUsage != null && !keyUsage[0]) {
            throw new AttestationException(Reason.DENIED,
                    "the node certificate's key usage does not include digitalSignature");
        }
        List<String> extended;
        try {
            extended = leaf.getExtendedKeyUsage();
        } catch (CertificateParsingException e) {
            throw new AttestationException(Reason.MALFORMED, "the node certificate's extended key usage cannot be read");
        }
        if (extended != null && !extended.contains(CLIENT_AUTH) && !extended.contains(ANY_EXTENDED_KEY_USAGE)) {
            throw new AttestationException(Reason.DENIED,
                    "the node certificate's extended key usage does not include clientAuth");
        }
    }

    private static boolean signatureValid(PublicKey key, byte[] data, byte[] signature) {
        Optional<String> algorithm = KeyPairing.signatureFor(key.getAlgorithm());
        if (algorithm.isEmpty()) {
            return false;
        }
        try {
            Signature verifier = Signature.getInstance(algorithm.get());
            verifier.initVerify(key);
            verifier.update(data);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static Optional<String> commonName(X509Certificate cert) {
        try {
            for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return Optional.of(rdn.getValue().toString());
                }
            }
        } catch (javax.naming.InvalidNameException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    private static String sha1(X509Certificate cert) throws AttestationException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(cert.getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new AttestationException(Reason.MALFORMED, "the certificate cannot be encoded");
        }
    }
}
