package dev.lanyard.tools;

import com.google.protobuf.ByteString;
import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.v1.Attestation;
import dev.lanyard.v1.CertificateResponse;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.JoinTokenAttestation;
import dev.lanyard.v1.RenewCertificateRequest;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "cert", description = "A workload's own certificate: bootstrap and renew. Keys never leave this machine.",
        subcommands = {CertCommand.Issue.class, CertCommand.Renew.class})
final class CertCommand {

    /** How to trust the server: a bundle file or a pinned root fingerprint. */
    static final class Trust {
        @Option(names = "--bundle", description = "PEM file of the trust bundle (roots)")
        Path bundle;
        @Option(names = "--root-fingerprint", description = "sha256:HEX of the root, as `lanyard dev` prints it")
        String rootFingerprint;

        List<X509Certificate> roots(String server) throws IOException {
            return bundle != null ? Channels.bundleFile(bundle) : Channels.pinnedBundle(server, rootFingerprint);
        }
    }

    @Command(name = "issue", description = "Bootstrap with a one-time join token.")
    static final class Issue implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Option(names = "--server", defaultValue = "localhost:8443", description = "HOST:PORT (default: ${DEFAULT-VALUE})")
        String server;
        @ArgGroup(exclusive = true, multiplicity = "1")
        Trust trust;
        @Option(names = "--join-token", description = "the token (prefer LANYARD_JOIN_TOKEN or --join-token-file)")
        String joinToken;
        @Option(names = "--join-token-file", description = "a file holding the token")
        Path joinTokenFile;
        @Option(names = "--out", required = true, description = "directory for cert.pem, key.pem, bundle.pem")
        Path out;
        @Option(names = "--dns", description = "a DNS SAN to ask for (repeatable; must be registered)")
        List<String> dns = new ArrayList<>();
        @Option(names = "--ttl", converter = DurationConverter.class, description = "requested lifetime")
        Duration ttl;
        @Option(names = "--key-type", defaultValue = "ec-p256", description = "ec-p256, ec-p384, ed25519 or rsa-2048")
        String keyType;

        @Override
        public Integer call() throws Exception {
            String token = token();
            List<X509Certificate> roots = trust.roots(server);
            WorkloadKeys keys = WorkloadKeys.fromOption(keyType);
            KeyPair pair = keys.generate();
            IssueCertificateRequest.Builder request = IssueCertificateRequest.newBuilder()
                    .setAttestation(Attestation.newBuilder().setJoinToken(JoinTokenAttestation.newBuilder().setToken(token)))
                    .setCsr(ByteString.copyFrom(keys.csr(pair, dns)));
            if (ttl != null) {
                request.setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(ttl.getSeconds()));
            }
            ManagedChannel channel = Channels.open(server, roots, null);
            try {
                CertificateResponse response = CertificateServiceGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(60, TimeUnit.SECONDS).issueCertificate(request.build());
                Credential credential = credential(pair, response);
                new CredentialDirectory(out).write(credential);
                report(spec, response, out);
            } finally {
                channel.shutdownNow();
            }
            return 0;
        }

        private String token() throws IOException {
            if (joinToken != null) {
                return joinToken.trim();
            }
            if (joinTokenFile != null) {
                return Files.readString(joinTokenFile).trim();
            }
            String fromEnv = System.getenv("LANYARD_JOIN_TOKEN");
            if (fromEnv == null || fromEnv.isBlank()) {
                throw new IllegalArgumentException("no join token: set LANYARD_JOIN_TOKEN, --join-token-file or --join-token");
            }
            return fromEnv.trim();
        }
    }

    @Command(name = "renew", description = "Renew over mTLS with the current certificate; a new key replaces the old.")
    static final class Renew implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Option(names = "--server", defaultValue = "localhost:8443", description = "HOST:PORT (default: ${DEFAULT-VALUE})")
        String server;
        @ArgGroup(exclusive = true, multiplicity = "0..1")
        Trust trust;
        @Option(names = "--in", required = true, description = "the credential directory to renew in place")
        Path in;
        @Option(names = "--dns", description = "a DNS SAN to ask for (repeatable)")
        List<String> dns = new ArrayList<>();
        @Option(names = "--ttl", converter = DurationConverter.class, description = "requested lifetime")
        Duration ttl;
        @Option(names = "--key-type", defaultValue = "ec-p256", description = "ec-p256, ec-p384, ed25519 or rsa-2048")
        String keyType;

        @Override
        public Integer call() throws Exception {
            CredentialDirectory directory = new CredentialDirectory(in);
            Credential current = directory.read(CryptoProviders.bouncyCastleOnly());
            List<X509Certificate> roots = trust == null ? current.bundle() : trust.roots(server);
            WorkloadKeys keys = WorkloadKeys.fromOption(keyType);
            KeyPair pair = keys.generate();
            RenewCertificateRequest.Builder request = RenewCertificateRequest.newBuilder()
                    .setCsr(ByteString.copyFrom(keys.csr(pair, dns)));
            if (ttl != null) {
                request.setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(ttl.getSeconds()));
            }
            ManagedChannel channel = Channels.open(server, roots, current);
            try {
                CertificateResponse response = CertificateServiceGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(60, TimeUnit.SECONDS).renewCertificate(request.build());
                directory.write(credential(pair, response));
                report(spec, response, in);
            } finally {
                channel.shutdownNow();
            }
            return 0;
        }
    }

    static Credential credential(KeyPair pair, CertificateResponse response) {
        List<X509Certificate> chain = new ArrayList<>();
        response.getChainList().forEach(der -> chain.add(Channels.certificate(der.toByteArray())));
        List<X509Certificate> bundle = new ArrayList<>();
        response.getTrustBundleList().forEach(der -> bundle.add(Channels.certificate(der.toByteArray())));
        return new Credential(pair.getPrivate(), Channels.certificate(response.getCertificate().toByteArray()), chain,
                bundle);
    }

    private static void report(CommandSpec spec, CertificateResponse response, Path dir) {
        spec.commandLine().getOut().printf("%s serial %s, expires %s%n  %s%n", response.getSpiffeId(),
                response.getSerialNumber(), java.time.Instant.ofEpochSecond(response.getExpiresAt().getSeconds()),
                dir.resolve(CredentialDirectory.CERT) + ", " + dir.resolve(CredentialDirectory.KEY) + " (0600), "
                        + dir.resolve(CredentialDirectory.BUNDLE));
        spec.commandLine().getOut().flush();
    }
}
