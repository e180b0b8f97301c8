package dev.lanyard.tools;

import dev.lanyard.audit.AuditText;
import dev.lanyard.credential.Credential;
import dev.lanyard.revocation.RevocationReason;
import dev.lanyard.v1.ListRevocationsRequest;
import dev.lanyard.v1.ListRevocationsResponse;
import dev.lanyard.v1.ReinstateRequest;
import dev.lanyard.v1.Revocation;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.RevokeResponse;
import dev.lanyard.v1.WatchRevocationsRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** `lanyard revoke`, `lanyard reinstate` and `lanyard revocations list|watch`. */
final class RevocationCommands {

    private RevocationCommands() {
    }

    /** Exactly one thing to revoke. */
    static final class What {
        @Option(names = "--serial", required = true,
                description = "a certificate serial in hex, as `lanyard certs list` or `openssl x509 -noout -serial` print it")
        String serial;
        @Option(names = "--spiffe-id", required = true,
                description = "an identity: all its certificates and tokens, and no new ones until reinstated")
        String spiffeId;
        @Option(names = "--jti", required = true, description = "a token id")
        String jti;

        RevocationTarget target() {
            RevocationTarget.Builder b = RevocationTarget.newBuilder();
            if (serial != null) {
                b.setSerial(Serials.parse("--serial", serial));
            } else if (spiffeId != null) {
                b.setSpiffeId(spiffeId);
            } else {
                b.setJti(jti);
            }
            return b.build();
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard revoke --spiffe-id spiffe://lanyard.local/ns/payments/sa/api --reason keyCompromise --note \"laptop stolen\"", "  ./lanyard revoke --serial 0A1B2C...   # as `lanyard certs list` or `openssl x509 -noout -serial` print it",
            "  ./lanyard revoke --spiffe-id spiffe://lanyard.local/ns/old/sa/app --force   # never registered: keep it out"},
        name = "revoke", description = "Revoke a certificate, an identity or a token; verifiers hear of it at once.")
    static final class Revoke implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @ArgGroup(exclusive = true, multiplicity = "1")
        What what;
        @Option(names = "--reason", defaultValue = "unspecified",
                description = "RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged,"
                        + " superseded, cessationOfOperation, certificateHold, privilegeWithdrawn (default: ${DEFAULT-VALUE})")
        String reason;
        @Option(names = "--note", defaultValue = "", description = "free text for the audit trail and listings")
        String note;
        @Option(names = "--force", description = "with --spiffe-id: revoke an identity that was never registered and"
                + " holds no certificate, so that it cannot be registered or enrolled until reinstated")
        boolean force;

        @Override
        public Integer call() throws Exception {
            if (force && what.spiffeId == null) {
                throw new ParameterException(spec.commandLine(), "--force goes with --spiffe-id only (a serial or a"
                        + " jti is revoked whether or not this server knows it)");
            }
            RevocationReason parsed = RevocationReason.parse(reason).orElseThrow(() -> new ParameterException(
                    spec.commandLine(), "unknown " + AuditText.unnamed("--reason", reason) + "; one of "
                            + Arrays.stream(RevocationReason.values()).map(RevocationReason::rfcName)
                                    .collect(Collectors.joining(", "))));
            RevocationTarget target = what.target();
            RevokeResponse response;
            try {
                response = withRevocations(admin, r -> r.revoke(RevokeRequest.newBuilder()
                        .setTarget(target).setReasonValue(parsed.code()).setNote(note).setForce(force).build()));
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.NOT_FOUND && what.spiffeId != null) {
                    throw new CliFailure(admin.server, "refused: NOT_FOUND: " + e.getStatus().getDescription(),
                            "check the SPIFFE ID (`lanyard registration list`); to refuse an identity before it exists,"
                                    + " run the same command with --force", ExitCodes.REFUSED);
                }
                throw e;
            }
            PrintWriter out = spec.commandLine().getOut();
            Revocation revocation = response.getRevocation();
            out.printf("%s %s (%s), sequence %d%n", response.getCreated() ? "revoked" : "already revoked:",
                    target(revocation.getTarget()), reasonName(revocation.getReasonValue()), revocation.getSequence());
            if (!response.getRevokedSerialsList().isEmpty()) {
                out.println("with its certificates: " + response.getRevokedSerialsList().stream().map(Serials::display)
                        .collect(Collectors.joining(", ")));
            }
            out.flush();
            return 0;
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard reinstate --spiffe-id spiffe://lanyard.local/ns/payments/sa/api --note \"laptop recovered\""},
        name = "reinstate", description = "Lift an identity's revocation: it may bootstrap again with a new join"
            + " token (its revoked certificates and tokens stay revoked).")
    static final class Reinstate implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @Option(names = "--spiffe-id", required = true, description = "the revoked identity")
        String spiffeId;
        @Option(names = "--note", defaultValue = "", description = "free text for the audit trail")
        String note;

        @Override
        public Integer call() throws Exception {
            long sequence = withRevocations(admin, r -> r.reinstate(ReinstateRequest.newBuilder()
                    .setSpiffeId(spiffeId).setNote(note).build())).getSequence();
            spec.commandLine().getOut().printf("reinstated %s, sequence %d%n", spiffeId, sequence);
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard revocations list", "  ./lanyard revocations watch"},
        name = "revocations", description = "The revocations in force, and the live stream of them.",
            subcommands = {ListAll.class, Watch.class})
    static final class Revocations {
    }

    @Command(footer = {"%nExample:", "  ./lanyard revocations list --kind serial"},
        name = "list", description = "Revocations in force, oldest first.")
    static final class ListAll implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @Option(names = "--spiffe-id", defaultValue = "", description = "only this identity and its certificates")
        String spiffeId;
        @Option(names = "--kind", defaultValue = "", description = "only serial, spiffe_id or jti")
        String kind;

        @Override
        public Integer call() throws Exception {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"SEQ", "KIND", "TARGET", "REASON", "REVOKED AT", "BY", "EXPIRES", "NOTE"});
            withRevocations(admin, r -> {
                String token = "";
                do {
                    ListRevocationsResponse page = r.listRevocations(ListRevocationsRequest.newBuilder()
                            .setSpiffeId(spiffeId).setKind(kind).setPageSize(1000).setPageToken(token).build());
                    for (Revocation v : page.getRevocationsList()) {
                        rows.add(new String[] {Long.toString(v.getSequence()), kind(v.getTarget()),
                            value(v.getTarget()), reasonName(v.getReasonValue()), instant(v.getRevokedAt()).toString(),
                            v.getRevokedBy(), v.hasExpiresAt() ? instant(v.getExpiresAt()).toString() : "never",
                            v.getNote().replace('\n', ' ')});
                    }
                    token = page.getNextPageToken();
                } while (!token.isEmpty());
                return null;
            });
            Table.print(spec.commandLine().getOut(), rows);
            return 0;
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard revocations watch --after 41 --heartbeats"},
        name = "watch", description = "Print every revocation as it happens; reconnects and resumes by itself.")
    static final class Watch implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @Option(names = "--in", description = "watch with this workload credential instead of the admin one")
        Path in;
        @Option(names = "--after", defaultValue = "0", description = "the last sequence already seen (default: all)")
        long after;
        @Option(names = "--count", defaultValue = "0", description = "exit after this many events (default: never)")
        int count;
        @Option(names = "--heartbeats", description = "print heartbeats too")
        boolean heartbeats;

        @Override
        public Integer call() throws Exception {
            Credential credential = in != null
                    ? CredentialFiles.read(in, "--in", "`lanyard cert issue --out DIR`") : admin.credential();
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            long last = after;
            int seen = 0;
            Duration backoff = Duration.ofMillis(500);
            while (true) {
                ManagedChannel channel = admin.channel(credential);
                try {
                    Iterator<RevocationEvent> events = RevocationServiceGrpc.newBlockingStub(channel)
                            .watchRevocations(WatchRevocationsRequest.newBuilder().setAfterSequence(last).build());
                    while (events.hasNext()) {
                        RevocationEvent event = events.next();
                        backoff = Duration.ofMillis(500);
                        if (event.hasHeartbeat()) {
                            if (heartbeats) {
                                out.printf("%d heartbeat %s%n", event.getSequence(), instant(event.getHeartbeat().getServerTime()));
                                out.flush();
                            }
                            continue;
                        }
                        out.println(describe(event));
                        out.flush();
                        last = event.getSequence();
                        if (count > 0 && ++seen >= count) {
                            return 0;
                        }
                    }
                } catch (StatusRuntimeException e) {
                    if (e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
                        throw e;
                    }
                    err.printf("stream lost (%s); resuming after sequence %d in %d ms%n",
                            e.getStatus().getDescription(), last, backoff.toMillis());
                    err.flush();
                } finally {
                    channel.shutdownNow();
                }
                Thread.sleep(backoff.toMillis());
                backoff = backoff.multipliedBy(2).compareTo(Duration.ofSeconds(10)) > 0
                        ? Duration.ofSeconds(10) : backoff.multipliedBy(2);
            }
        }
    }

    static String describe(RevocationEvent event) {
        if (event.hasReinstated()) {
            return event.getSequence() + " reinstated " + event.getReinstated().getSpiffeId() + " by "
                    + event.getReinstated().getReinstatedBy();
        }
        Revocation r = event.getRevoked();
        return event.getSequence() + " revoked " + target(r.getTarget()) + " (" + reasonName(r.getReasonValue())
                + ") by " + r.getRevokedBy() + (r.getSpiffeId().isEmpty() ? "" : " [" + r.getSpiffeId() + "]");
    }

    @FunctionalInterface
    interface RevocationCall<T> {
        T call(RevocationServiceGrpc.RevocationServiceBlockingStub revocations) throws Exception;
    }

    static <T> T withRevocations(AdminOptions admin, RevocationCall<T> body) throws Exception {
        Credential credential = admin.credential();
        ManagedChannel channel = admin.channel(credential);
        try {
            return body.call(RevocationServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS));
        } finally {
            channel.shutdownNow();
        }
    }

    private static String target(RevocationTarget t) {
        return kind(t).equals("spiffe_id") ? value(t) : kind(t) + " " + value(t);
    }

    private static String kind(RevocationTarget t) {
        return switch (t.getTargetCase()) {
            case SERIAL -> "serial";
            case SPIFFE_ID -> "spiffe_id";
            case JTI -> "jti";
            case TARGET_NOT_SET -> "?";
        };
    }

    private static String value(RevocationTarget t) {
        return switch (t.getTargetCase()) {
            case SERIAL -> Serials.display(t.getSerial());
            case SPIFFE_ID -> t.getSpiffeId();
            case JTI -> t.getJti();
            case TARGET_NOT_SET -> "";
        };
    }

    private static String reasonName(int code) {
        return RevocationReason.ofCode(code).map(RevocationReason::rfcName).orElse("reason " + code);
    }

    private static Instant instant(com.google.protobuf.Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }
}
