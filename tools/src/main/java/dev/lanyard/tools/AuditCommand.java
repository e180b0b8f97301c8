package dev.lanyard.tools;

import dev.lanyard.audit.AuditChain;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditRecord;
import dev.lanyard.audit.AuditText;
import dev.lanyard.v1.AuditServiceGrpc;
import dev.lanyard.v1.ListAuditRequest;
import dev.lanyard.v1.ListAuditResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(footer = {"%nExample:", "  ./lanyard audit tail --follow", "  ./lanyard audit verify"},
        name = "audit", description = "The hash-chained audit trail: read it, follow it, verify it.",
        subcommands = {AuditCommand.Tail.class, AuditCommand.Verify.class, AuditArchiveCommand.class})
final class AuditCommand {

    @FunctionalInterface
    interface AuditCall<T> {
        T call(AuditServiceGrpc.AuditServiceBlockingStub audit) throws Exception;
    }

    static <T> T withAudit(AdminOptions admin, AuditCall<T> body) throws Exception {
        var credential = admin.credential();
        ManagedChannel channel = admin.channel(credential);
        try {
            return body.call(AuditServiceGrpc.newBlockingStub(channel));
        } finally {
            channel.shutdownNow();
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard audit tail --action revocation. -n 50", "  ./lanyard audit tail --follow --outcome REFUSED"},
        name = "tail", description = "The newest records, oldest of them first; --follow keeps printing new ones.")
    static final class Tail implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @Option(names = {"-n", "--lines"}, defaultValue = "20", description = "how many (default: ${DEFAULT-VALUE})")
        int lines;
        @Option(names = {"-f", "--follow"}, description = "keep printing records as they are written (one server"
                + " stream, audited once)")
        boolean follow;
        @Option(names = "--count", defaultValue = "0", description = "with --follow: exit after this many new records"
                + " (default: never)")
        int count;
        @Option(names = "--actor", defaultValue = "", description = "only this actor")
        String actor;
        @Option(names = "--action", defaultValue = "", description = "only actions starting with this")
        String action;
        @Option(names = "--target", defaultValue = "", description = "only this target")
        String target;
        @Option(names = "--outcome", defaultValue = "", description = "only SUCCESS, REFUSED or FAILED")
        String outcome;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            return withAudit(admin, audit -> {
                ListAuditResponse newest = audit.withDeadlineAfter(60, TimeUnit.SECONDS)
                        .listAudit(filters().setNewestFirst(true).setPageSize(Math.min(Math.max(lines, 1), 1000)).build());
                List<dev.lanyard.v1.AuditRecord> records = new ArrayList<>(newest.getRecordsList());
                java.util.Collections.reverse(records);
                long last = 0;
                for (dev.lanyard.v1.AuditRecord r : records) {
                    out.println(line(r));
                    last = r.getId();
                }
                out.flush();
                if (follow) {
                    follow(audit, last, out);
                }
                return 0;
            });
        }

        /** One server stream (audited once), resumed after the last record printed if the connection drops. */
        private void follow(AuditServiceGrpc.AuditServiceBlockingStub audit, long after, PrintWriter out)
                throws InterruptedException {
            long last = after;
            int seen = 0;
            long backoffMillis = 500;
            while (true) {
                try {
                    Iterator<dev.lanyard.v1.AuditRecord> records = audit.followAudit(filters().setAfterId(last).build());
                    while (records.hasNext()) {
                        dev.lanyard.v1.AuditRecord r = records.next();
                        out.println(line(r));
                        out.flush();
                        last = r.getId();
                        backoffMillis = 500;
                        if (count > 0 && ++seen >= count) {
                            return;
                        }
                    }
                } catch (StatusRuntimeException e) {
                    if (e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
                        throw e;
                    }
                    spec.commandLine().getErr().printf("audit stream lost (%s); resuming after record %d%n",
                            e.getStatus().getDescription(), last);
                    spec.commandLine().getErr().flush();
                }
                Thread.sleep(backoffMillis);
                backoffMillis = Math.min(backoffMillis * 2, 10_000);
            }
        }

        private ListAuditRequest.Builder filters() {
            return ListAuditRequest.newBuilder().setActor(actor).setActionPrefix(action).setTarget(target)
                    .setOutcome(outcome);
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard audit verify", "  ./lanyard audit verify --anchor 1234:9f2c...   # a head printed by an earlier verify"},
        name = "verify", description = "Recompute the hash chain over the whole trail and name the first record"
            + " that was edited or deleted. Note the head it prints somewhere else: a chain rewritten from some record"
            + " onwards verifies again, but no longer ends in the head you noted (check it with --anchor).")
    static final class Verify implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @Option(names = "--anchor", description = "ID:HASH of a record noted earlier (a head verify printed); it must"
                + " still have that hash (repeatable)")
        List<String> anchors = new ArrayList<>();
        @Option(names = "--archive", description = "a file `lanyard audit archive` wrote; checked first, with the live"
                + " chain after it (repeat for several, oldest first)")
        List<java.nio.file.Path> archives = new ArrayList<>();

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            java.util.Map<Long, String> expected = new java.util.TreeMap<>();
            for (String anchor : anchors) {
                String[] parts = anchor.trim().replaceFirst("^#", "").split(":", 2);
                if (parts.length != 2 || !parts[0].matches("[0-9]{1,18}") || !parts[1].matches("[0-9a-fA-F]{64}")) {
                    throw new CliFailure(AuditText.unnamed("--anchor", anchor), "the anchor is malformed (nothing was checked)",
                            "give ID:HASH as `lanyard audit verify` printed the head: a record id, a colon and the"
                                    + " record's 64 hex digit hash, e.g. 1234:9f2c...(64 digits)", ExitCodes.USAGE);
                }
                expected.put(Long.parseLong(parts[0]), parts[1].toLowerCase(java.util.Locale.ROOT));
            }
            AuditChain.Verifier verifier = new AuditChain.Verifier();
            Optional<String> problem = Optional.empty();
            for (java.nio.file.Path file : archives) {
                for (AuditRecord r : dev.lanyard.audit.AuditArchiveFile.read(file)) {
                    Optional<String> broken = verifier.accept(r).map(p -> p + " (in the archive " + file + ")");
                    if (broken.isEmpty()) {
                        broken = anchored(expected, r.id(), r.hash());
                    }
                    if (broken.isPresent()) {
                        problem = broken;
                        break;
                    }
                }
                if (problem.isPresent()) {
                    break;
                }
            }
            long archivedUpTo = verifier.lastId();
            Optional<String> archiveProblem = problem;
            problem = archiveProblem.isPresent() ? archiveProblem : withAudit(admin, audit -> {
                long after = archivedUpTo;
                while (true) {
                    ListAuditResponse page = audit.withDeadlineAfter(60, TimeUnit.SECONDS)
                            .listAudit(ListAuditRequest.newBuilder().setAfterId(after).setPageSize(1000).build());
                    for (dev.lanyard.v1.AuditRecord r : page.getRecordsList()) {
                        Optional<String> broken = verifier.accept(record(r));
                        if (broken.isPresent()) {
                            return broken.map(p -> verifier.count() == 0 && r.getId() > 1 ? p + " (if they were"
                                    + " archived with `lanyard audit archive`, pass --archive FILE)" : p);
                        }
                        broken = anchored(expected, r.getId(), r.getHash());
                        if (broken.isPresent()) {
                            return broken;
                        }
                    }
                    if (page.getNextAfterId() == 0) {
                        return Optional.empty();
                    }
                    after = page.getNextAfterId();
                }
            });
            if (problem.isEmpty() && !expected.isEmpty()) {
                problem = Optional.of("no record " + expected.keySet().iterator().next() + ": the trail ends at #"
                        + verifier.lastId() + "; either the anchor's id was mistyped or the trail was cut after #"
                        + verifier.lastId());
            }
            if (problem.isPresent()) {
                boolean anchor = problem.get().startsWith("record ") && problem.get().contains(", not the anchored ")
                        || problem.get().startsWith("no record ");
                err.println((anchor ? "audit trail does NOT MATCH the anchor (" + verifier.count()
                        + " records chain correctly): " : "audit trail BROKEN after " + verifier.count()
                        + " good records: ") + problem.get());
                err.flush();
                return ExitCodes.VERIFICATION;
            }
            out.printf("audit trail intact: %,d records; head %d:%s%n", verifier.count(), verifier.lastId(),
                    verifier.lastHash());
            out.flush();
            return 0;
        }
    }

    private static Optional<String> anchored(java.util.Map<Long, String> expected, long id, String hash) {
        String anchored = expected.remove(id);
        if (anchored != null && !anchored.equals(hash)) {
            return Optional.of("record " + id + " has hash " + hash + ", not the anchored " + anchored + ": either the"
                    + " anchor was mistyped (compare the two) or the chain was rewritten at or before record " + id);
        }
        return Optional.empty();
    }

    static AuditRecord record(dev.lanyard.v1.AuditRecord r) {
        return new AuditRecord(r.getId(), new AuditEvent(
                Instant.ofEpochSecond(r.getTime().getSeconds(), r.getTime().getNanos()), r.getActor(), r.getAction(),
                r.getTarget(), AuditEvent.Outcome.valueOf(r.getOutcome()), r.getReason()),
                r.getPreviousHash(), r.getHash());
    }

    static String line(dev.lanyard.v1.AuditRecord r) {
        return String.format("%d %s %s %s %s %s%s", r.getId(),
                Instant.ofEpochSecond(r.getTime().getSeconds(), r.getTime().getNanos()), r.getOutcome(), r.getActor(),
                r.getAction(), r.getTarget(), r.getReason().isEmpty() ? "" : " (" + r.getReason() + ")");
    }
}
