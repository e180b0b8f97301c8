package dev.lanyard.tools;

import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.Pem;
import dev.lanyard.server.ReloadingKeyManager;
import dev.lanyard.v1.GetTrustBundleRequest;
import dev.lanyard.v1.TrustBundle;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/** gRPC channels to a Lanyard server over TLS, trusting its bundle, optionally presenting a client credential. */
final class Channels {

    private Channels() {
    }

    static ManagedChannel open(String hostPort, List<X509Certificate> roots, Credential client) {
        try {
            TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder().trustManager(trusting(roots));
            if (client != null) {
                tls.keyManager(new ReloadingKeyManager(client));
            }
            HostPort target = HostPort.parse(hostPort);
            return Grpc.newChannelBuilderForAddress(target.host(), target.port(), tls.build()).build();
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot set up TLS: " + e.getMessage(), e);
        }
    }

    /** Roots from a PEM bundle file. */
    static List<X509Certificate> bundleFile(Path file) throws IOException {
        List<X509Certificate> roots = Pem.parseCertificates(Files.readString(file));
        if (roots.isEmpty()) {
            throw new IOException(file + " holds no certificate");
        }
        return roots;
    }

    /**
     * Fetches the trust bundle from a server not yet trusted, and accepts it only if one of its roots
     * has the pinned fingerprint and the chain the server presented validates against that root.
     * Nothing secret is sent on this connection.
     */
    static List<X509Certificate> pinnedBundle(String hostPort, String pin) {
        String expected = pin.toLowerCase(Locale.ROOT).replace(":", "");
        if (!expected.startsWith("sha256")) {
            throw new IllegalArgumentException("--root-fingerprint must look like sha256:<64 hex digits>");
        }
        expected = expected.substring("sha256".length());
        AtomicReference<X509Certificate[]> presented = new AtomicReference<>();
        X509TrustManager recorder = new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                throw new CertificateException("this trust manager only ever sees server certificates");
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
                presented.set(chain.clone()); // judged below, once the bundle is known
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        HostPort target = HostPort.parse(hostPort);
        ManagedChannel channel = Grpc.newChannelBuilderForAddress(target.host(), target.port(),
                TlsChannelCredentials.newBuilder().trustManager(recorder).build()).build();
        try {
            TrustBundle bundle = TrustBundleServiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .getTrustBundle(GetTrustBundleRequest.getDefaultInstance());
            List<X509Certificate> roots = new ArrayList<>();
            for (var der : bundle.getX509AuthoritiesList()) {
                roots.add(certificate(der.toByteArray()));
            }
            String want = expected;
            X509Certificate pinned = roots.stream().filter(r -> Pem.sha256Fingerprint(r).equals(want)).findFirst()
                    .orElseThrow(() -> new IllegalStateException(
                            "no root in the server's trust bundle matches the pinned fingerprint; refusing to continue"));
            validate(presented.get(), pinned);
            return roots;
        } finally {
            channel.shutdownNow();
        }
    }

    private static void validate(X509Certificate[] chain, X509Certificate root) {
        try {
            if (chain == null) {
                throw new GeneralSecurityException("the server presented no certificate");
            }
            PKIXParameters parameters = new PKIXParameters(Set.of(new TrustAnchor(root, null)));
            parameters.setRevocationEnabled(false);
            CertPathValidator.getInstance("PKIX").validate(
                    CertificateFactory.getInstance("X.509").generateCertPath(Arrays.asList(chain)), parameters);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the server's certificate does not chain to the pinned root: "
                    + e.getMessage(), e);
        }
    }

    private static X509TrustManager trusting(List<X509Certificate> roots) throws GeneralSecurityException, IOException {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        for (int i = 0; i < roots.size(); i++) {
            store.setCertificateEntry("root-" + i, roots.get(i));
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX");
        factory.init(store);
        return (X509TrustManager) factory.getTrustManagers()[0];
    }

    static X509Certificate certificate(byte[] der) {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(der));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the server sent an unreadable certificate", e);
        }
    }

    record HostPort(String host, int port) {
        static HostPort parse(String text) {
            int colon = text.lastIndexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("--server must be HOST:PORT, not '" + text + "'");
            }
            try {
                return new HostPort(text.substring(0, colon), Integer.parseInt(text.substring(colon + 1)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--server must be HOST:PORT, not '" + text + "'");
            }
        }
    }
}
