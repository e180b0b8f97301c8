package dev.lanyard.tools;

import dev.lanyard.ca.IntermediateSigner;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.v1.AddRootRequest;
import dev.lanyard.v1.AddRootResponse;
import dev.lanyard.v1.ImportIntermediateRequest;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.ListKeysResponse;
import dev.lanyard.v1.PrepareIntermediateRequest;
import dev.lanyard.v1.PrepareIntermediateResponse;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(footer = {"%nExample: (offline root, rotating intermediate)",
        "  ./lanyard ca prepare --out next.csr",
        "  ./lanyard ca sign-intermediate --root-cert root.pem --root-key root-key.pem --csr next.csr --out next.pem",
        "  ./lanyard ca import-intermediate next.pem"},
        name = "ca", description = "The issuing CA under a root kept offline, and root rotation.",
        subcommands = {CaCommand.Prepare.class, CaCommand.SignIntermediate.class, CaCommand.ImportIntermediate.class,
            CaCommand.AddRoot.class})
final class CaCommand {

    @Command(footer = {"%nExample:", "  ./lanyard ca prepare --out next.csr"},
        name = "prepare", description = "Make the next issuing CA's key (in the server's custody: software or HSM) and"
            + " write its CSR, for the offline root to sign. Run again, it writes the same CSR until the certificate"
            + " is imported.")
    static final class Prepare extends AdminVerb {
        @Option(names = "--out", description = "write the CSR (PEM) to this file; default: print it")
        Path csrFile;

        @Override
        void run(PrintWriter out) throws Exception {
            PrepareIntermediateResponse prepared = rpc(KeyServiceGrpc::newBlockingStub,
                    s -> s.prepareIntermediate(PrepareIntermediateRequest.getDefaultInstance()));
            String what = (prepared.getExisting() ? "already prepared" : "prepared") + " intermediate key "
                    + prepared.getKeyId();
            if (csrFile == null) {
                out.print(prepared.getCsrPem());
                spec.commandLine().getErr().println(what);
            } else {
                write(csrFile, prepared.getCsrPem());
                out.printf("%s; its CSR is in %s: sign it with the offline root, then"
                        + " `lanyard ca import-intermediate CERT`%n", what, csrFile);
            }
        }
    }

    @Command(footer = {"%nExample:",
            "  ./lanyard ca sign-intermediate --root-cert root.pem --root-key root-key.pem --csr next.csr --out next.pem"},
        name = "sign-intermediate", description = "Offline, for labs: sign a CSR of `ca prepare` with a root key"
            + " file, as an intermediate CA (CA:true, path length 0, keyCertSign and cRLSign, the root's SPIFFE trust"
            + " domain as URI SAN, no name constraints). No server is involved.")
    static final class SignIntermediate implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Option(names = "--root-cert", required = true, description = "the root's certificate (PEM)")
        Path rootCert;
        @Option(names = "--root-key", required = true, description = "the root's private key (PEM, unencrypted)")
        Path rootKey;
        @Option(names = "--csr", required = true, description = "the CSR `ca prepare` wrote (PEM)")
        Path csr;
        @Option(names = "--out", required = true, description = "where to write the intermediate certificate (PEM)")
        Path out;
        @Option(names = "--validity", defaultValue = "365d", converter = DurationConverter.class,
                description = "how long the intermediate is valid (default: ${DEFAULT-VALUE}; cut at the root's end)")
        Duration validity;

        @Override
        public Integer call() throws Exception {
            LocalFile.requireReadable(rootCert, "--root-cert ROOT.pem");
            LocalFile.requireReadable(rootKey, "--root-key ROOT-KEY.pem");
            LocalFile.requireReadable(csr, "--csr NEXT.csr (from `lanyard ca prepare --out`)");
            CryptoProviders crypto = CryptoProviders.bouncyCastleOnly();
            List<X509Certificate> roots = parse(rootCert, "--root-cert", () -> Pem.parseCertificates(
                    Files.readString(rootCert)));
            if (roots.size() != 1) {
                throw new CliFailure(rootCert.toString(), "holds " + roots.size() + " certificates, not one",
                        "pass the root's own certificate", ExitCodes.FAILED);
            }
            PrivateKey key = parse(rootKey, "--root-key", () -> Pem.parsePrivateKey(Files.readString(rootKey), crypto));
            String csrPem = Files.readString(csr);
            X509Certificate signed = parse(csr, "--csr", () -> IntermediateSigner.sign(roots.get(0), key, csrPem,
                    validity, Clock.systemUTC(), new SecureRandom(), crypto));
            write(out, Pem.certificates(List.of(signed)));
            spec.commandLine().getOut().printf("signed intermediate %s, valid until %s, into %s; now"
                    + " `lanyard ca import-intermediate %s`%n", signed.getSubjectX500Principal().getName(),
                    signed.getNotAfter().toInstant(), out, out);
            return 0;
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard ca import-intermediate next.pem"},
        name = "import-intermediate", description = "Give the server the certificate the offline root signed for the"
            + " prepared key. It must chain to a root in the trust bundle (add a new root first with `ca add-root`),"
            + " hold the prepared key and be a CA valid now; it is then published and takes over at the scheduled"
            + " hand-over (`keys list` says when).")
    static final class ImportIntermediate extends AdminVerb {
        @Parameters(paramLabel = "FILE", description = "the intermediate certificate (PEM; a chain file's first one)")
        Path file;

        @Override
        void run(PrintWriter out) throws Exception {
            LocalFile.requireReadable(file, "FILE, the intermediate certificate (PEM)");
            String pem = Files.readString(file);
            ListKeysResponse keys = rpc(KeyServiceGrpc::newBlockingStub,
                    s -> s.importIntermediate(ImportIntermediateRequest.newBuilder().setCertificatePem(pem).build()));
            KeysCommand.print(out, keys);
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard ca add-root new-root.pem      # an offline root's certificate",
            "  ./lanyard ca add-root --generate       # a generated CA: the server makes the new root"},
        name = "add-root", description = "Start a root rotation: publish a new root in the trust bundle before"
            + " anything chains to it. Then the next intermediate is signed by it (imported for an offline root;"
            + " prepared by the server for a generated CA). The old root leaves the bundle by itself once the last"
            + " certificate under it has expired.")
    static final class AddRoot extends AdminVerb {
        @Parameters(paramLabel = "FILE", arity = "0..1", description = "the new root's self-signed certificate (PEM)")
        Path file;
        @Option(names = "--generate", description = "let the server make the new root in its custody (a generated CA)")
        boolean generate;

        @Override
        void run(PrintWriter out) throws Exception {
            if (generate == (file != null)) {
                throw new CliFailure("ca add-root", "give either FILE or --generate", "FILE for an offline root's"
                        + " certificate, --generate when the server holds its roots' keys", ExitCodes.USAGE);
            }
            AddRootRequest.Builder request = AddRootRequest.newBuilder().setGenerate(generate);
            if (file != null) {
                LocalFile.requireReadable(file, "FILE, the new root's certificate (PEM)");
                request.setCertificatePem(Files.readString(file));
            }
            AddRootResponse added = rpc(KeyServiceGrpc::newBlockingStub, s -> s.addRoot(request.build()));
            out.printf("root %s (sha256:%s, valid until %s) is in the trust bundle; the"
                    + " bundle now holds %d roots%n", added.getKeyId(), added.getSha256Fingerprint(),
                    Instant.ofEpochSecond(added.getNotAfter().getSeconds()),
                    added.getBundlePem().split("BEGIN CERTIFICATE").length - 1);
        }
    }

    @FunctionalInterface
    private interface Reading<T> {
        T read() throws IOException;
    }

    /** Reads a local input; a bad one names the file and what is wrong with it. */
    private static <T> T parse(Path file, String option, Reading<T> reading) {
        try {
            return reading.read();
        } catch (IOException e) {
            throw new CliFailure(file.toString(), "cannot read: " + e.getMessage(), "check " + option,
                    ExitCodes.FAILED);
        } catch (IllegalArgumentException e) {
            throw new CliFailure(file.toString(), e.getMessage(), "check " + option, ExitCodes.FAILED);
        }
    }

    private static void write(Path file, String content) {
        try {
            Files.writeString(file, content);
        } catch (IOException e) {
            throw new CliFailure(file.toString(), "cannot write: " + e.getMessage(),
                    "pick a path in a writable directory", ExitCodes.FAILED);
        }
    }
}
