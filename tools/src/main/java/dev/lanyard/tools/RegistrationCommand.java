package dev.lanyard.tools;

import dev.lanyard.server.Durations;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.DeleteRegistrationRequest;
import dev.lanyard.v1.ListRegistrationsRequest;
import dev.lanyard.v1.ListRegistrationsResponse;
import dev.lanyard.v1.Registration;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(footer = {"%nExample:", "  ./lanyard registration create --spiffe-id spiffe://lanyard.local/ns/payments/sa/api --dns api.payments.internal", "  ./lanyard registration list"},
        name = "registration", description = "Which SPIFFE IDs may exist.",
        subcommands = {RegistrationCommand.Create.class, RegistrationCommand.ListAll.class,
            RegistrationCommand.Delete.class})
final class RegistrationCommand {

    @Command(footer = {"%nExample:", "  ./lanyard registration create --spiffe-id spiffe://lanyard.local/ns/payments/sa/api \\", "      --dns api.payments.internal --max-ttl 2h"},
        name = "create", description = "Register a SPIFFE ID.")
    static final class Create extends AdminVerb {
        @Option(names = "--spiffe-id", required = true)
        String spiffeId;
        @Option(names = "--dns", description = "an allowed DNS SAN (repeatable)")
        List<String> dns = new ArrayList<>();
        @Option(names = "--max-ttl", converter = DurationConverter.class, description = "longest certificate lifetime")
        Duration maxTtl;
        @Option(names = "--parent", description = "the node agent that serves it: an agent SPIFFE ID or a node selector"
                + " (x509pop:subject:cn:NAME, k8s_psat:cluster:NAME)")
        String parent;
        @Option(names = "--selector", description = "a workload selector the local process must match (repeatable):"
                + " unix:uid:N, unix:gid:N, unix:user:NAME, unix:path:/abs/path, unix:sha256:HEX")
        List<String> selectors = new ArrayList<>();
        @Option(names = "--federates-with", description = "a foreign trust domain whose workloads it trusts (repeatable;"
                + " add the trust domain with `lanyard federation add`)")
        List<String> federatesWith = new ArrayList<>();

        @Override
        void run(PrintWriter out) throws Exception {
            CreateRegistrationRequest.Builder request = CreateRegistrationRequest.newBuilder()
                    .setSpiffeId(spiffeId).addAllDnsNames(dns).addAllSelectors(selectors)
                    .addAllFederatesWith(federatesWith);
            if (parent != null) {
                request.setParentId(parent);
            }
            if (maxTtl != null) {
                request.setMaxTtl(com.google.protobuf.Duration.newBuilder().setSeconds(maxTtl.getSeconds()));
            }
            Registration created = rpc(AdminServiceGrpc::newBlockingStub, a -> a.createRegistration(request.build()));
            out.println("registered " + created.getSpiffeId());
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard registration list --data ./lanyard-data"},
        name = "list", description = "List registrations.")
    static final class ListAll extends AdminVerb {

        @Override
        void run(PrintWriter out) throws Exception {
            List<Registration> all = rpc(AdminServiceGrpc::newBlockingStub, a -> {
                List<Registration> result = new ArrayList<>();
                String token = "";
                do {
                    ListRegistrationsResponse page = a.listRegistrations(
                            ListRegistrationsRequest.newBuilder().setPageToken(token).build());
                    result.addAll(page.getRegistrationsList());
                    token = page.getNextPageToken();
                } while (!token.isEmpty());
                return result;
            });
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"SPIFFE ID", "MAX TTL", "DNS NAMES", "PARENT", "SELECTORS", "FEDERATES WITH"});
            for (Registration r : all) {
                rows.add(new String[] {r.getSpiffeId(),
                    Durations.format(Duration.ofSeconds(r.getMaxTtl().getSeconds())),
                    String.join(",", r.getDnsNamesList()), r.getParentId(), String.join(",", r.getSelectorsList()),
                    String.join(",", r.getFederatesWithList())});
            }
            Table.print(out, rows);
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard registration delete --spiffe-id spiffe://lanyard.local/ns/payments/sa/api"},
        name = "delete", description = "Delete a registration (its certificates can no longer renew).")
    static final class Delete extends AdminVerb {
        @Option(names = "--spiffe-id", required = true)
        String spiffeId;

        @Override
        void run(PrintWriter out) throws Exception {
            rpc(AdminServiceGrpc::newBlockingStub, a -> a.deleteRegistration(DeleteRegistrationRequest.newBuilder().setSpiffeId(spiffeId).build()));
            out.println("deleted " + spiffeId);
        }
    }
}
