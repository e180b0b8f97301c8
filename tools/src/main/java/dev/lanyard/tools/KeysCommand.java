package dev.lanyard.tools;

import dev.lanyard.v1.KeyInfo;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.ListKeysRequest;
import dev.lanyard.v1.ListKeysResponse;
import dev.lanyard.v1.RotateKekRequest;
import dev.lanyard.v1.RotateKekResponse;
import dev.lanyard.v1.RotateKeysRequest;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(footer = {"%nExample:", "  ./lanyard keys list", "  ./lanyard keys rotate --jwt",
        "  ./lanyard keys rotate-kek /etc/lanyard/kek-2026"},
        name = "keys", description = "JWT signing keys and X.509 issuing CAs.",
        subcommands = {KeysCommand.ListAll.class, KeysCommand.Rotate.class, KeysCommand.RotateKek.class})
final class KeysCommand {

    @Command(footer = {"%nExample:", "  ./lanyard keys list"},
        name = "list", description = "Every published key with its status and its next scheduled step (when a prepared"
            + " key activates, an active one retires, a retired one is dropped).")
    static final class ListAll extends AdminVerb {

        @Override
        void run(PrintWriter out) throws Exception {
            ListKeysResponse keys = rpc(KeyServiceGrpc::newBlockingStub,
                    s -> s.listKeys(ListKeysRequest.getDefaultInstance()));
            print(out, keys);
        }
    }

    /** Exactly one of --jwt or --x509. */
    static final class Kind {
        @Option(names = "--jwt", required = true, description = "the JWT signing keys")
        boolean jwt;
        @Option(names = "--x509", required = true, description = "the X.509 issuing CA")
        boolean x509;
    }

    @Command(footer = {"%nExample:", "  ./lanyard keys rotate --jwt    # prepare the next JWT key (run again to activate it)", "  ./lanyard keys rotate --x509"},
        name = "rotate", description = "Force one rotation step: prepare the next key, or activate the prepared one.")
    static final class Rotate extends AdminVerb {
        @ArgGroup(exclusive = true, multiplicity = "1")
        Kind kind;

        @Override
        void run(PrintWriter out) throws Exception {
            KeyKind which = kind.jwt ? KeyKind.KEY_KIND_JWT : KeyKind.KEY_KIND_X509;
            ListKeysResponse keys = rpc(KeyServiceGrpc::newBlockingStub,
                    s -> s.rotateKeys(RotateKeysRequest.newBuilder().setKind(which).build()));
            print(out, keys);
        }
    }

    @Command(footer = {"%nExample:",
            "  umask 077; head -c 32 /dev/urandom | base64 > /etc/lanyard/kek-2026   # on every server host",
            "  ./lanyard keys rotate-kek /etc/lanyard/kek-2026",
            "  # then set kek.file to /etc/lanyard/kek-2026; delete the old file once every replica restarted"},
        name = "rotate-kek", description = "Re-wrap every software-custody data key under a new key-encryption key,"
            + " read by the server from FILE on its own host; signing goes on, no private key is decrypted to disk.")
    static final class RotateKek extends AdminVerb {
        @Parameters(paramLabel = "FILE", description = "the new KEK file's path on the server's host (32 random bytes,"
                + " base64, mode 0600)")
        String file;

        @Override
        void run(PrintWriter out) throws Exception {
            RotateKekResponse done = rpc(KeyServiceGrpc::newBlockingStub, java.time.Duration.ofSeconds(600),
                    s -> s.rotateKek(RotateKekRequest.newBuilder().setNewKekFile(file).build()));
            out.printf("key-encryption key %s now wraps every data key (%d re-wrapped in %d ms);"
                    + " set kek.file to %s%n", done.getKekId(), done.getRewrapped(), done.getMillis(), file);
        }
    }

    static void print(PrintWriter out, ListKeysResponse keys) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"KIND", "KEY ID", "STATUS", "ALG", "CREATED", "NEXT"});
        for (KeyInfo k : keys.getKeysList()) {
            rows.add(new String[] {k.getKind() == KeyKind.KEY_KIND_JWT ? "jwt" : "x509", k.getKeyId(), k.getStatus(),
                k.getAlgorithm(), Instant.ofEpochSecond(k.getCreatedAt().getSeconds()).toString(),
                k.getNextStep().isEmpty() ? "" : k.getNextStep() + " at "
                        + Instant.ofEpochSecond(k.getNextStepAt().getSeconds())});
        }
        Table.print(out, rows);
        for (String warning : keys.getWarningsList()) {
            out.println("warning: " + warning);
        }
    }
}
