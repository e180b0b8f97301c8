package dev.lanyard.tools;

import dev.lanyard.v1.IssuedCertificate;
import dev.lanyard.v1.ListCertificatesRequest;
import dev.lanyard.v1.ListCertificatesResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(footer = {"%nExample:", "  ./lanyard certs list --spiffe-id spiffe://lanyard.local/ns/payments/sa/api"},
        name = "certs", description = "Issued certificates.", subcommands = CertsCommand.ListAll.class)
final class CertsCommand {

    @Command(footer = {"%nExample:", "  ./lanyard certs list --spiffe-id spiffe://lanyard.local/ns/payments/sa/api --limit 10"},
        name = "list", description = "List issued certificates, newest first.")
    static final class ListAll implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @Option(names = "--spiffe-id", description = "only this identity")
        String spiffeId;
        @Option(names = "--limit", defaultValue = "1000", description = "at most this many (default: ${DEFAULT-VALUE})")
        int limit;

        @Override
        public Integer call() throws Exception {
            List<IssuedCertificate> all = admin.withAdmin(a -> {
                List<IssuedCertificate> result = new ArrayList<>();
                String token = "";
                do {
                    ListCertificatesResponse page = a.listCertificates(ListCertificatesRequest.newBuilder()
                            .setSpiffeId(spiffeId == null ? "" : spiffeId).setPageToken(token).build());
                    result.addAll(page.getCertificatesList());
                    token = page.getNextPageToken();
                } while (!token.isEmpty() && result.size() < limit);
                return result;
            });
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"SERIAL", "SPIFFE ID", "NOT AFTER", "SHA-256"});
            for (IssuedCertificate c : all.subList(0, Math.min(limit, all.size()))) {
                rows.add(new String[] {Serials.display(c.getSerialNumber()), c.getSpiffeId(),
                    Instant.ofEpochSecond(c.getNotAfter().getSeconds()).toString(),
                    c.getSha256Fingerprint().substring(0, 16) + "…"});
            }
            Table.print(spec.commandLine().getOut(), rows);
            return 0;
        }
    }
}
