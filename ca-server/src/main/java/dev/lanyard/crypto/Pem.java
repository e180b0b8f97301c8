package dev.lanyard.crypto;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;

/** PEM in and out for certificates and private keys, and certificate fingerprints. */
public final class Pem {

    private Pem() {
    }

    public static String certificates(List<X509Certificate> certificates) {
        StringWriter out = new StringWriter();
        try (PemWriter writer = new PemWriter(out)) {
            for (X509Certificate certificate : certificates) {
                writer.writeObject(new PemObject("CERTIFICATE", certificate.getEncoded()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (CertificateEncodingException e) {
            throw new IllegalArgumentException("certificate cannot be encoded", e);
        }
        return out.toString();
    }

    /** PKCS#8 "PRIVATE KEY". Only for key files the owner asked for; never for logs. */
    public static String privateKey(PrivateKey key) {
        StringWriter out = new StringWriter();
        try (PemWriter writer = new PemWriter(out)) {
            writer.writeObject(new PemObject("PRIVATE KEY", key.getEncoded()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    public static List<X509Certificate> parseCertificates(String pem) {
        List<X509Certificate> certificates = new ArrayList<>();
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            CertificateFactory factory = CertificateFactory.getInstance("X.509");
            for (Object o = parser.readPemObject(); o != null; o = parser.readPemObject()) {
                PemObject object = (PemObject) o;
                if (!object.getType().equals("CERTIFICATE")) {
                    throw new IllegalArgumentException("expected CERTIFICATE blocks, found " + object.getType());
                }
                certificates.add((X509Certificate) factory.generateCertificate(
                        new ByteArrayInputStream(object.getContent())));
            }
        } catch (IOException | CertificateException e) {
            throw new IllegalArgumentException("not a PEM certificate list: " + e.getMessage(), e);
        }
        return certificates;
    }

    /** PKCS#8, SEC1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"); the error never quotes the input. */
    public static PrivateKey parsePrivateKey(String pem, CryptoProviders crypto) {
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object object = parser.readObject();
            PrivateKeyInfo info;
            if (object instanceof PrivateKeyInfo pkcs8) {
                info = pkcs8;
            } else if (object instanceof PEMKeyPair pair) {
                info = pair.getPrivateKeyInfo();
            } else {
                throw new IllegalArgumentException("no unencrypted private key found in the PEM input");
            }
            String algorithm = switch (info.getPrivateKeyAlgorithm().getAlgorithm().getId()) {
                case "1.2.840.10045.2.1" -> "EC";
                case "1.2.840.113549.1.1.1" -> "RSA";
                case "1.3.101.112" -> "Ed25519";
                default -> throw new IllegalArgumentException("unsupported private key algorithm "
                        + info.getPrivateKeyAlgorithm().getAlgorithm().getId());
            };
            return crypto.keyFactory(algorithm).generatePrivate(new PKCS8EncodedKeySpec(info.getEncoded()));
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("not a usable PEM private key", e);
        }
    }

    /** SHA-256 of the DER, lower-case hex without separators. */
    public static String sha256Fingerprint(X509Certificate certificate) {
        try {
            return sha256Fingerprint(certificate.getEncoded());
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException("cannot fingerprint a certificate", e);
        }
    }

    /** As {@link #sha256Fingerprint(X509Certificate)}, of a certificate's DER. */
    public static String sha256Fingerprint(byte[] der) {
        return HexFormat.of().formatHex(Sha256.digest().digest(der));
    }
}
