package dev.lanyard.tools;

import com.google.protobuf.ByteString;
import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
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

@Command(footer = {"%nExample:", "  LANYARD_JOIN_TOKEN=$TOKEN ./lanyard cert issue --out ./payments-creds --root-fingerprint sha256:<hex>", "  ./lanyard cert renew --in ./payments-creds"},
        name = "cert", description = "A workload's own certificate: bootstrap and renew. Keys never leave this machine.",
        subcommands = {CertCommand.Issue.class, CertCommand.Renew.class})
final class CertCommand {

    /** How to trust the server: a bundle file or a pinned root fingerprint. */
    static final class Trust {
        @Option(names = "--bundle", description = "PEM file of the trust bundle (roots)")
        Path bundle;
        @Option(names = "--root-fingerprint", description = "sha256:HEX of the root, as `lanyard dev` prints it")
        String rootFingerprint;

        List<X509Certificate> roots(String server) throws IOException {
            if (bundle != null) {
                LocalFile.requireReadable(bundle, "the trust bundle: bundle.pem of a credential, or the server's"
                        + " /bundle.pem");
            }
            return bundle != null ? Channels.bundleFile(bundle) : Channels.pinnedBundle(server, rootFingerprint);
        }

        String source() {
            return bundle != null ? "the roots in " + bundle : "the pinned root " + rootFingerprint;
        }
    }

    @Command(name = "issue", description = {"Bootstrap with a one-time join token: generate a key here, send a CSR,"
            + " write cert.pem, key.pem (0600) and bundle.pem to --out.",
        "The certificate carries every DNS name the registration allows, or only those --dns names."},
            footer = {"%nExample:",
                "  TOKEN=$(./lanyard join-token create --spiffe-id spiffe://lanyard.local/ns/payments/sa/api)",
                "  LANYARD_JOIN_TOKEN=$TOKEN ./lanyard cert issue --out ./payments-creds \\",
                "      --root-fingerprint sha256:<hex printed by `lanyard dev`>"})
    static final class Issue implements Callable<Integer> {
        /** Said when the token is an argument (as the Go command line's joinTokenWarning). */
        static final String JOIN_TOKEN_WARNING = "warning: --join-token puts the token in the process list"
                + " (/proc/PID/cmdline), where other users of this machine can read it; set LANYARD_JOIN_TOKEN or use"
                + " --join-token-file FILE instead";

        @Spec
        CommandSpec spec;
        @Option(names = "--server", defaultValue = "${env:LANYARD_SERVER:-localhost:8443}",
                description = "the server's gRPC address HOST:PORT (default: ${DEFAULT-VALUE}; env LANYARD_SERVER)")
        String server;
        @ArgGroup(exclusive = true, multiplicity = "1")
        Trust trust;
        @Option(names = "--join-token", description = "the token (prefer LANYARD_JOIN_TOKEN or --join-token-file)")
        String joinToken;
        @Option(names = "--join-token-file", description = "a file holding the token")
        Path joinTokenFile;
        @Option(names = "--out", required = true, description = "directory for cert.pem, key.pem, bundle.pem")
        Path out;
        @Option(names = "--dns", description = "only this DNS name of those registered (repeatable; default: all of them)")
        List<String> dns = new ArrayList<>();
        @Option(names = "--ttl", converter = DurationConverter.class, description = "requested lifetime")
        Duration ttl;
        @Option(names = "--key-type", defaultValue = "ec-p256", description = "ec-p256, ec-p384 or rsa-2048")
        String keyType;

        @Override
        public Integer call() throws Exception {
            String token = token();
            WorkloadKeys keys = WorkloadKeys.fromOption(keyType);
            if (Files.exists(out)) { // before the join token is spent; the write checks again
                CredentialFiles.requirePrivate(out);
            }
            List<X509Certificate> roots = trust.roots(server);
            KeyPair pair = keys.generate();
            IssueCertificateRequest.Builder request = IssueCertificateRequest.newBuilder()
                    .setAttestation(Attestation.newBuilder().setJoinToken(JoinTokenAttestation.newBuilder().setToken(token)))
                    .setCsr(ByteString.copyFrom(keys.csr(pair, dns)));
            if (ttl != null) {
                request.setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(ttl.getSeconds()));
            }
            ManagedChannel channel = Channels.open(server, roots, trust.source(), null);
            try {
                CertificateResponse response = CertificateServiceGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(60, TimeUnit.SECONDS).issueCertificate(request.build());
                Credential credential = credential(pair, response);
                CredentialFiles.write(out, credential);
                report(spec, response, out);
            } finally {
                channel.shutdownNow();
            }
            return 0;
        }

        private String token() throws IOException {
            if (joinToken != null) {
                spec.commandLine().getErr().println(JOIN_TOKEN_WARNING);
                spec.commandLine().getErr().flush();
                return joinToken.trim();
            }
            if (joinTokenFile != null) {
                if (!Files.isRegularFile(joinTokenFile)) {
                    throw new CliFailure("--join-token-file " + joinTokenFile, "no such file",
                            "write the output of `lanyard join-token create` there, or set LANYARD_JOIN_TOKEN",
                            ExitCodes.FAILED);
                }
                return Files.readString(joinTokenFile).trim();
            }
            String fromEnv = System.getenv("LANYARD_JOIN_TOKEN");
            if (fromEnv == null || fromEnv.isBlank()) {
                throw new CliFailure("cert issue", "no join token",
                        "set LANYARD_JOIN_TOKEN (or --join-token-file FILE) to the output of"
                                + " `lanyard join-token create --spiffe-id ID`", ExitCodes.USAGE);
            }
            return fromEnv.trim();
        }
    }

    @Command(name = "renew", description = {"Renew over mTLS with the current certificate; a new key replaces the old.",
        "The new certificate keeps the DNS names the current one has, unless --dns names others."},
            footer = {"%nExample:", "  ./lanyard cert renew --in ./payments-creds"})
    static final class Renew implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Option(names = "--server", defaultValue = "${env:LANYARD_SERVER:-localhost:8443}",
                description = "the server's gRPC address HOST:PORT (default: ${DEFAULT-VALUE}; env LANYARD_SERVER)")
        String server;
        @ArgGroup(exclusive = true, multiplicity = "0..1")
        Trust trust;
        @Option(names = "--in", required = true, description = "the credential directory to renew in place")
        Path in;
        @Option(names = "--dns", description = "a DNS name to ask for instead of the current ones (repeatable)")
        List<String> dns = new ArrayList<>();
        @Option(names = "--ttl", converter = DurationConverter.class, description = "requested lifetime")
        Duration ttl;
        @Option(names = "--key-type", defaultValue = "ec-p256", description = "ec-p256, ec-p384 or rsa-2048")
        String keyType;

        @Override
        public Integer call() throws Exception {
            WorkloadKeys keys = WorkloadKeys.fromOption(keyType);
            Credential current = CredentialFiles.read(in, "--in", "`lanyard cert issue --out DIR`");
            List<X509Certificate> roots = trust == null ? current.bundle() : trust.roots(server);
            KeyPair pair = keys.generate();
            List<String> names = dns.isEmpty() ? dnsNames(current.leaf()) : dns;
            RenewCertificateRequest.Builder request = RenewCertificateRequest.newBuilder()
                    .setCsr(ByteString.copyFrom(keys.csr(pair, names)));
            if (ttl != null) {
                request.setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(ttl.getSeconds()));
            }
            ManagedChannel channel = Channels.open(server, roots,
                    trust == null ? "the roots in " + in.resolve(CredentialDirectory.BUNDLE) : trust.source(), current);
            try {
                CertificateResponse response = CertificateServiceGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(60, TimeUnit.SECONDS).renewCertificate(request.build());
                CredentialFiles.write(in, credential(pair, response));
                report(spec, response, in);
            } finally {
                channel.shutdownNow();
            }
            return 0;
        }
    }

    /** The DNS names a certificate carries, so a renewal keeps them. */
    static List<String> dnsNames(X509Certificate certificate) {
        List<String> names = new ArrayList<>();
        try {
            var sans = certificate.getSubjectAlternativeNames();
            if (sans != null) {
                sans.stream().filter(san -> (Integer) san.get(0) == 2).forEach(san -> names.add((String) san.get(1)));
            }
        } catch (java.security.cert.CertificateParsingException e) {
            // unreadable SANs: ask for none, the server then gives what the registration allows
        }
        return names;
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
        List<String> names = dnsNames(Channels.certificate(response.getCertificate().toByteArray()));
        spec.commandLine().getOut().printf("%s serial %s%s, expires %s%n  %s%n", response.getSpiffeId(),
                Serials.display(response.getSerialNumber()), names.isEmpty() ? "" : ", DNS " + String.join(", ", names),
                java.time.Instant.ofEpochSecond(response.getExpiresAt().getSeconds()),
                dir.resolve(CredentialDirectory.CERT) + ", " + dir.resolve(CredentialDirectory.KEY) + " (0600), "
                        + dir.resolve(CredentialDirectory.BUNDLE));
        spec.commandLine().getOut().flush();
    }
}
