package dev.lanyard.custody;

import dev.lanyard.crypto.OwnerOnlyFile;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.DefaultSignatureAlgorithmIdentifierFinder;

/**
 * Keys inside a PKCS#11 token (an HSM; SoftHSM2 in tests) through the JDK's SunPKCS11 provider.
 * Keys are generated in the token, sensitive and not extractable, and stored as token objects
 * under their id (CKA_LABEL and CKA_ID): SunPKCS11's key store keeps a private key only beside a
 * certificate, so each key gets a self-signed placeholder certificate, made by the key itself, that
 * also records the key's algorithm. The database holds only ids. Signing happens in the token.
 */
public final class Pkcs11Custody implements KeyCustody {

    /**
     * Where the token is: the module (the vendor's PKCS#11 library), the slot (by id, or by its
     * index in the module's slot list), and the user PIN.
     */
    public record Settings(Path module, Optional<Long> slot, int slotIndex, char[] pin) {

        @Override
        public String toString() {
            return "Pkcs11Settings[module " + module + ", " + slot.map(s -> "slot " + s)
                    .orElse("slot index " + slotIndex) + ", PIN hidden]";
        }
    }

    private static final String PLACEHOLDER = "CN=lanyard custody key placeholder,O=Lanyard,OU=";

    private final Provider provider;
    private final KeyStore keyStore;
    private final Clock clock;
    private final Map<String, Signer> opened = new ConcurrentHashMap<>();

    private Pkcs11Custody(Provider provider, KeyStore keyStore, Clock clock) {
        this.provider = provider;
        this.keyStore = keyStore;
        this.clock = clock;
    }

    /**
     * Logs in to the token; fails with what to check if the module, slot or PIN is wrong. The PIN in
     * {@code settings} is zeroed once the login is done or failed: nothing needs it after.
     */
    public static Pkcs11Custody open(Settings settings, Clock clock) {
        try {
            return login(settings, clock);
        } finally {
            Arrays.fill(settings.pin(), '\0');
        }
    }

    private static Pkcs11Custody login(Settings settings, Clock clock) {
        if (!Files.isReadable(settings.module())) {
            throw new CustodyException("PKCS#11 module " + settings.module() + " does not exist or is not readable"
                    + " (pkcs11.module; SoftHSM2's is /usr/lib/softhsm/libsofthsm2.so from the Debian package softhsm2)");
        }
        String config = "--name=lanyard\nlibrary=" + settings.module() + "\n"
                + settings.slot().map(s -> "slot=" + s).orElse("slotListIndex=" + settings.slotIndex()) + "\n"
                // Private keys made here never leave the token in the clear, and never leave it at all.
                + "attributes(generate, CKO_PRIVATE_KEY, *) = {\n  CKA_SENSITIVE = true\n  CKA_EXTRACTABLE = false\n}\n";
        Provider provider;
        try {
            provider = Security.getProvider("SunPKCS11").configure(config);
        } catch (RuntimeException e) {
            throw new CustodyException("cannot use PKCS#11 token " + settings + ": " + rootMessage(e), e);
        }
        try {
            KeyStore keyStore = KeyStore.getInstance("PKCS11", provider);
            keyStore.load(null, settings.pin());
            return new Pkcs11Custody(provider, keyStore, clock);
        } catch (GeneralSecurityException | IOException e) {
            throw new CustodyException("cannot log in to PKCS#11 token " + settings + " (check pkcs11.pin-env or"
                    + " pkcs11.pin-file): " + rootMessage(e), e);
        }
    }

    /**
     * The PIN from an environment variable or a file (its first line), whichever is configured. What
     * was read from the file is zeroed here; {@link #open} zeroes the PIN. (An environment variable is
     * a String, which cannot be zeroed: the file is the better place for a PIN.)
     */
    public static char[] pin(Optional<String> env, Optional<Path> file) throws IOException {
        if (env.isPresent()) {
            String value = System.getenv(env.get());
            if (value == null) {
                throw new IllegalStateException("environment variable " + env.get() + " (pkcs11.pin-env) is not set");
            }
            return value.toCharArray();
        }
        if (file.isPresent()) {
            OwnerOnlyFile.require(file.get(), "PKCS#11 PIN file (pkcs11.pin-file)");
            return firstLine(Files.readAllBytes(file.get()));
        }
        throw new IllegalStateException("custody=pkcs11 needs pkcs11.pin-env or pkcs11.pin-file");
    }

    /** The first line of {@code content} (UTF-8); {@code content} and the decoded copy are zeroed. */
    static char[] firstLine(byte[] content) throws IOException {
        CharBuffer chars = null;
        try {
            chars = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(content));
            int end = 0;
            while (end < chars.limit() && chars.get(end) != '\n' && chars.get(end) != '\r') {
                end++;
            }
            char[] line = new char[end];
            chars.get(line);
            return line;
        } finally {
            Arrays.fill(content, (byte) 0);
            if (chars != null) {
                Arrays.fill(chars.array(), '\0');
            }
        }
    }

    @Override
    public String name() {
        return "pkcs11";
    }

    @Override
    public synchronized Signer generate(String id, KeyAlgorithm algorithm) {
        try {
            seeOtherProcessesKeys();
            if (keyStore.containsAlias(id)) {
                throw new CustodyException("the PKCS#11 token already holds a key with id " + id);
            }
            KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm.keyType(), provider);
            if (algorithm.curve().isPresent()) {
                generator.initialize(new ECGenParameterSpec(algorithm.curve().get()));
            } else {
                generator.initialize(algorithm.bits());
            }
            KeyPair keys = generator.generateKeyPair();
            Signer session = new JcaSigner(id, algorithm, keys.getPrivate(), keys.getPublic(), List.of(provider));
            // Storing the entry turns the session key into a token object labelled with the id.
            keyStore.setKeyEntry(id, keys.getPrivate(), null, new Certificate[] {placeholder(session)});
            Signer stored = signer(id);
            return stored;
        } catch (GeneralSecurityException e) {
            throw new CustodyException("the PKCS#11 token cannot make a " + algorithm + " key: " + rootMessage(e), e);
        }
    }

    @Override
    public Signer importKey(String id, KeyAlgorithm algorithm, PrivateKey key) {
        throw new CustodyException("PKCS#11 custody makes its keys in the token and takes none from outside: use"
                + " software custody to import a CA, or `lanyard ca prepare` to have the token make the intermediate's key");
    }

    @Override
    public Signer signer(String id) {
        return opened.computeIfAbsent(id, this::find);
    }

    @Override
    public synchronized List<KeyEntry> list() {
        try {
            seeOtherProcessesKeys();
            List<KeyEntry> keys = new ArrayList<>();
            for (String alias : Collections.list(keyStore.aliases())) {
                if (keyStore.isKeyEntry(alias) && keyStore.getCertificate(alias) instanceof X509Certificate cert) {
                    algorithmOf(cert).ifPresent(a -> keys.add(new KeyEntry(alias, a, cert.getNotBefore().toInstant())));
                }
            }
            keys.sort(java.util.Comparator.comparing(KeyEntry::createdAt).thenComparing(KeyEntry::id));
            return keys;
        } catch (GeneralSecurityException e) {
            throw new CustodyException("cannot list the PKCS#11 token's keys: " + rootMessage(e), e);
        }
    }

    @Override
    public void forget(String id) {
        opened.remove(id);
    }

    @Override
    public synchronized boolean destroy(String id) {
        opened.remove(id);
        try {
            seeOtherProcessesKeys();
            if (!keyStore.containsAlias(id)) {
                return false;
            }
            keyStore.deleteEntry(id);
            return true;
        } catch (GeneralSecurityException e) {
            throw new CustodyException("cannot destroy key " + id + " in the PKCS#11 token: " + rootMessage(e), e);
        }
    }

    private synchronized Signer find(String id) {
        try {
            seeOtherProcessesKeys();
            if (!(keyStore.getKey(id, null) instanceof PrivateKey key)
                    || !(keyStore.getCertificate(id) instanceof X509Certificate cert)) {
                throw new CustodyException("the PKCS#11 token holds no key with id " + id);
            }
            KeyAlgorithm algorithm = algorithmOf(cert).orElseThrow(() -> new CustodyException("key " + id
                    + " in the PKCS#11 token was not made by Lanyard (no algorithm recorded)"));
            return new JcaSigner(id, algorithm, key, cert.getPublicKey(), List.of(provider));
        } catch (GeneralSecurityException e) {
            throw new CustodyException("cannot find key " + id + " in the PKCS#11 token: " + rootMessage(e), e);
        }
    }

    /**
     * Reads the token's objects again: SunPKCS11's key store maps labels to objects when it loads and
     * afterwards sees only what it wrote itself, so a key another replica (or process) made or destroyed
     * since would be missing here, or found here though gone. The session stays logged in (PKCS#11
     * login is per process), so no PIN is needed.
     */
    private void seeOtherProcessesKeys() throws GeneralSecurityException {
        try {
            keyStore.load(null, null);
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot read the token's objects: " + rootMessage(e), e);
        }
    }

    /** A self-signed certificate that exists only so the key store keeps the key; it records the algorithm. */
    private X509Certificate placeholder(Signer key) throws GeneralSecurityException {
        Instant now = clock.instant();
        X500Name name = new X500Name(PLACEHOLDER + key.algorithm().name());
        X509v3CertificateBuilder builder = new X509v3CertificateBuilder(name, BigInteger.ONE, Date.from(now),
                Date.from(now.plusSeconds(100L * 365 * 86400)), name,
                SubjectPublicKeyInfo.getInstance(key.publicKey().getEncoded()));
        AlgorithmIdentifier algorithm = new DefaultSignatureAlgorithmIdentifierFinder()
                .find(key.algorithm() == KeyAlgorithm.PS256 ? "SHA256withRSAandMGF1" : key.algorithm().jcaSignature());
        java.io.ByteArrayOutputStream tbs = new java.io.ByteArrayOutputStream();
        ContentSigner signer = new ContentSigner() {
            @Override
            public AlgorithmIdentifier getAlgorithmIdentifier() {
                return algorithm;
            }

            @Override
            public java.io.OutputStream getOutputStream() {
                return tbs;
            }

            @Override
            public byte[] getSignature() {
                return key.sign(tbs.toByteArray());
            }
        };
        return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
    }

    private static Optional<KeyAlgorithm> algorithmOf(X509Certificate cert) {
        String subject = cert.getSubjectX500Principal().getName();
        for (KeyAlgorithm algorithm : KeyAlgorithm.values()) {
            if (subject.contains("OU=" + algorithm.name() + ",") || subject.startsWith("OU=" + algorithm.name())) {
                return Optional.of(algorithm);
            }
        }
        return Optional.empty();
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    }
}
