package dev.lanyard.crypto;

import com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JCA providers for every signature, verification and key generation, chosen once at start:
 * Amazon Corretto Crypto Provider (AWS-LC) where its native library loads, Bouncy Castle
 * otherwise. Never the JDK's SunEC on a hot path, and never installed globally, so nothing else in
 * the process changes behaviour because of us.
 */
public final class CryptoProviders {

    private static final Logger LOG = LoggerFactory.getLogger(CryptoProviders.class);

    private final Provider primary;
    private final Provider bouncyCastle;
    private final String description;

    private CryptoProviders(Provider primary, Provider bouncyCastle, String description) {
        this.primary = primary;
        this.bouncyCastle = bouncyCastle;
        this.description = description;
    }

    /** ACCP if it is healthy on this platform, else Bouncy Castle; logs which. */
    public static CryptoProviders select() {
        Provider bc = new BouncyCastleProvider();
        CryptoProviders chosen;
        try {
            AmazonCorrettoCryptoProvider accp = AmazonCorrettoCryptoProvider.INSTANCE;
            if (accp.getLoadingError() != null) {
                throw accp.getLoadingError();
            }
            accp.assertHealthy();
            chosen = new CryptoProviders(accp, bc,
                    "Amazon Corretto Crypto Provider " + accp.getVersionStr() + " (AWS-LC)");
        } catch (Throwable e) { // an UnsatisfiedLinkError is an Error: any failure means "fall back"
            LOG.warn("Amazon Corretto Crypto Provider is not usable here ({}); using Bouncy Castle", e.toString());
            chosen = bouncyCastleOnly(bc);
        }
        LOG.info("crypto provider: {}", chosen.description);
        return chosen;
    }

    /** Bouncy Castle for everything (tests, and platforms without ACCP). */
    public static CryptoProviders bouncyCastleOnly() {
        return bouncyCastleOnly(new BouncyCastleProvider());
    }

    private static CryptoProviders bouncyCastleOnly(Provider bc) {
        return new CryptoProviders(bc, bc, "Bouncy Castle " + bc.getVersionStr());
    }

    public Provider primary() {
        return primary;
    }

    public Provider bouncyCastle() {
        return bouncyCastle;
    }

    public String description() {
        return description;
    }

    public Signature signature(String algorithm) throws NoSuchAlgorithmException {
        try {
            return Signature.getInstance(algorithm, primary);
        } catch (NoSuchAlgorithmException e) {
            return Signature.getInstance(algorithm, bouncyCastle);
        }
    }

    public KeyFactory keyFactory(String algorithm) throws NoSuchAlgorithmException {
        try {
            return KeyFactory.getInstance(algorithm, primary);
        } catch (NoSuchAlgorithmException e) {
            return KeyFactory.getInstance(algorithm, bouncyCastle);
        }
    }

    public KeyPairGenerator keyPairGenerator(String algorithm) throws NoSuchAlgorithmException {
        try {
            return KeyPairGenerator.getInstance(algorithm, primary);
        } catch (NoSuchAlgorithmException e) {
            return KeyPairGenerator.getInstance(algorithm, bouncyCastle);
        }
    }

    /**
     * A public key from its SubjectPublicKeyInfo DER, as an object of the provider that will verify
     * with it (a key of another provider would make ACCP fall back to slow conversions).
     */
    public PublicKey publicKey(String keyAlgorithm, byte[] subjectPublicKeyInfo) throws GeneralSecurityException {
        return keyFactory(keyAlgorithm).generatePublic(new X509EncodedKeySpec(subjectPublicKeyInfo));
    }
}
