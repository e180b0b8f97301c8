package dev.lanyard.client.credentials;

import com.google.protobuf.ByteString;
import dev.lanyard.v1.GetTrustBundleRequest;
import dev.lanyard.v1.TrustBundle;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.io.ByteArrayInputStream;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Finds the pinned root in the server's published trust bundle. The bundle is read over TLS without
 * checking the server — nothing secret is sent, and only the certificate whose SHA-256 equals the
 * pin is kept, so whoever answered cannot make the workload trust anything else. The join token is
 * sent afterwards over a connection verified against that root alone, to the Lanyard server of the
 * bundle's trust domain ({@link LanyardServerTrust}).
 */
final class PinnedBundleFetch {

    private PinnedBundleFetch() {
    }

    /** The pinned root, and the trust domain the bundle names: the server must be its Lanyard server. */
    record Pinned(X509Certificate root, String trustDomain) {
    }

    static Pinned pinnedRoot(String target, PinnedRoot pin, Duration timeout) throws CredentialException {
        ChannelCredentials credentials = TlsChannelCredentials.newBuilder().trustManager(new AnyServer()).build();
        ManagedChannel channel = Grpc.newChannelBuilder(target, credentials).build();
        try {
            TrustBundle bundle = TrustBundleServiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
                    .getTrustBundle(GetTrustBundleRequest.getDefaultInstance());
            List<X509Certificate> roots = new ArrayList<>();
            for (ByteString der : bundle.getX509AuthoritiesList()) {
                try {
                    roots.add((X509Certificate) CertificateFactory.getInstance("X.509")
                            .generateCertificate(new ByteArrayInputStream(der.toByteArray())));
                } catch (GeneralSecurityException e) {
                    // A certificate that does not parse cannot be the pinned one; keep looking.
                }
            }
            X509Certificate root = pin.select(roots).orElseThrow(() -> new CredentialException("no root in the trust "
                    + "bundle from " + target + " has the pinned fingerprint " + pin + " (it has " + roots.size()
                    + " roots)"));
            return new Pinned(root, bundle.getTrustDomain());
        } catch (StatusRuntimeException e) {
            throw new CredentialException("cannot read the trust bundle from " + target, e.getStatus());
        } finally {
            channel.shutdownNow();
        }
    }

    /** Accepts any server chain: used only to read the public trust bundle, see the class comment. */
    private static final class AnyServer extends X509ExtendedTrustManager {

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("a bundle fetch never authenticates clients");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("a bundle fetch never authenticates clients");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("a bundle fetch never authenticates clients");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
