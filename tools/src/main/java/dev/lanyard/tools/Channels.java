package dev.lanyard.tools;

import dev.lanyard.audit.AuditText;
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
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/** gRPC channels to a Lanyard server over TLS, trusting its bundle, optionally presenting a client credential. */
final class Channels {

    private Channels() {
    }

    static ManagedChannel open(String hostPort, List<X509Certificate> roots, Credential client) {
        return open(hostPort, roots, "the trusted roots", client);
    }

    /**
     * A channel to {@code hostPort} that trusts the Lanyard server by its SPIFFE ID on a chain to
     * {@code roots} ({@code rootsSource} says where they came from, for error messages).
     */
    static ManagedChannel open(String hostPort, List<X509Certificate> roots, String rootsSource, Credential client) {
        try {
            Optional<String> trustDomain = client == null ? Optional.empty() : ServerTrust.trustDomainOf(client.leaf());
            TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder()
                    .trustManager(new ServerTrust(roots, trustDomain, rootsSource));
            if (client != null) {
                tls.keyManager(new ReloadingKeyManager(client));
            }
            HostPort target = HostPort.parse(hostPort);
            return Grpc.newChannelBuilderForAddress(target.host(), target.port(), tls.build()).build();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot set up TLS: " + e.getMessage(), e);
        }
    }

    /** Roots from a PEM bundle file. */
    static List<X509Certificate> bundleFile(Path file) throws IOException {
        List<X509Certificate> roots = Pem.parseCertificates(Files.readString(file));
        if (roots.isEmpty()) {
            throw new CliFailure(file.toString(), "the file holds no PEM certificate",
                    "pass the trust bundle (bundle.pem) that `lanyard cert issue` wrote, or the server's /bundle.pem",
                    ExitCodes.FAILED);
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
            throw new CliFailure(AuditText.unnamed("--root-fingerprint", pin), "this is not a sha256 fingerprint",
                    "pass it as `lanyard dev` prints it: sha256:<64 hex digits>", ExitCodes.USAGE);
        }
        expected = expected.substring("sha256".length());
        if (!expected.matches("[0-9a-f]{64}")) {
            throw new CliFailure(AuditText.unnamed("--root-fingerprint", pin),
                    "this is not a sha256 fingerprint (64 hex digits)",
                    "pass it as `lanyard dev` prints it: sha256:<64 hex digits>", ExitCodes.USAGE);
        }
        AtomicReference<X509Certificate[]> presented = new AtomicReference<>();
        // Extended, so that JSSE adds no host name check of its own: the chain is judged below, once the bundle is known.
        X509ExtendedTrustManager recorder = new X509ExtendedTrustManager() {
            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
                presented.set(chain.clone());
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
                checkServerTrusted(chain, authType);
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
                checkServerTrusted(chain, authType);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                throw new CertificateException("this trust manager only ever sees server certificates");
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                    throws CertificateException {
                checkClientTrusted(chain, authType);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                    throws CertificateException {
                checkClientTrusted(chain, authType);
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
                    .orElseThrow(() -> new CliFailure(hostPort, "TLS: no root in the server's trust bundle matches"
                            + " the pinned fingerprint sha256:" + want + "; nothing was sent",
                            "check --root-fingerprint against the one `lanyard dev` printed, and --server",
                            ExitCodes.CONNECTION));
            validate(hostPort, presented.get(), pinned);
            return roots;
        } finally {
            channel.shutdownNow();
        }
    }

    /** The chain the server presented must lead to the pinned root and name the Lanyard server. */
    private static void validate(String hostPort, X509Certificate[] chain, X509Certificate root) {
        if (chain == null || chain.length == 0) {
            throw new CliFailure(hostPort, "TLS: the server presented no certificate", "check --server",
                    ExitCodes.CONNECTION);
        }
        try {
            new ServerTrust(List.of(root), Optional.empty(), "the pinned root").checkServerTrusted(chain, "UNKNOWN");
        } catch (GeneralSecurityException e) {
            throw new CliFailure(hostPort, "TLS: " + e.getMessage(), "check --server and --root-fingerprint",
                    ExitCodes.CONNECTION);
        }
    }

    static X509Certificate certificate(byte[] der) {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(der));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the server sent an unreadable certificate", e);
        }
    }

    /** HOST:PORT, with an IPv6 address in brackets ([::1]:8443). */
    record HostPort(String host, int port) {
        static HostPort parse(String text) {
            int colon = text.lastIndexOf(':');
            CliFailure bad = new CliFailure(AuditText.unnamed("--server", text), "this is not HOST:PORT",
                    "pass the server's gRPC address, e.g. --server localhost:8443 or --server [::1]:8443",
                    ExitCodes.USAGE);
            if (colon <= 0) {
                throw bad;
            }
            String host = text.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            try {
                int port = Integer.parseInt(text.substring(colon + 1));
                if (port < 1 || port > 65535 || host.isEmpty()) {
                    throw bad;
                }
                return new HostPort(host, port);
            } catch (NumberFormatException e) {
                throw bad;
            }
        }
    }
}
