package dev.lanyard.tools;

import dev.lanyard.v1.AddFederationRequest;
import dev.lanyard.v1.BundleEndpointProfile;
import dev.lanyard.v1.Federation;
import dev.lanyard.v1.FederationServiceGrpc;
import dev.lanyard.v1.ListFederationsRequest;
import dev.lanyard.v1.ListFederationsResponse;
import dev.lanyard.v1.RemoveFederationRequest;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

@Command(footer = {"%nExample:", "  ./lanyard federation add partner.example --endpoint https://ca.partner.example/bundle --profile https_web",
        "  ./lanyard federation list"},
        name = "federation", description = "SPIFFE federation: the foreign trust domains this server trusts.",
        subcommands = {FederationCommand.Add.class, FederationCommand.ListAll.class, FederationCommand.Remove.class})
final class FederationCommand {

    @Command(footer = {"%nExample:", "  ./lanyard federation add partner.example --endpoint https://ca.partner.example/bundle --profile https_web",
            "  ./lanyard federation add eu.acme.internal --endpoint https://lanyard.eu.acme.internal:8080/bundle \\",
            "      --profile https_spiffe --endpoint-id spiffe://eu.acme.internal/lanyard/server --bundle eu-bundle.json"},
        name = "add", description = "Trust a foreign trust domain and fetch its bundle from its bundle endpoint"
                + " (replaces an existing relationship with it).")
    static final class Add extends AdminVerb {
        @Parameters(index = "0", description = "the foreign trust domain, e.g. partner.example")
        String trustDomain;
        @Option(names = "--endpoint", required = true, description = "its bundle endpoint URL (https://...)")
        String endpoint;
        @Option(names = "--profile", required = true, description = "https_web or https_spiffe")
        String profile;
        @Option(names = "--endpoint-id", description = "https_spiffe: the SPIFFE ID of the endpoint's certificate")
        String endpointId;
        @Option(names = "--bundle", description = "https_spiffe: a file with its current bundle (SPIFFE bundle JSON),"
                + " obtained out of band")
        Path bundle;

        @Override
        void run(PrintWriter out) throws Exception {
            BundleEndpointProfile p = switch (profile) {
                case "https_web" -> BundleEndpointProfile.HTTPS_WEB;
                case "https_spiffe" -> BundleEndpointProfile.HTTPS_SPIFFE;
                default -> throw new ParameterException(spec.commandLine(), "--profile must be https_web or https_spiffe");
            };
            AddFederationRequest.Builder request = AddFederationRequest.newBuilder().setTrustDomain(trustDomain)
                    .setBundleEndpointUrl(endpoint).setProfile(p);
            if (endpointId != null) {
                request.setEndpointSpiffeId(endpointId);
            }
            if (bundle != null) {
                LocalFile.requireReadable(bundle, "the foreign trust domain's bundle (SPIFFE bundle JSON)");
                request.setInitialBundle(Files.readString(bundle, StandardCharsets.UTF_8));
            }
            Federation added = rpc(FederationServiceGrpc::newBlockingStub, s -> s.addFederation(request.build()));
            out.println("federating with " + added.getTrustDomain() + " ("
                    + profile + " " + added.getBundleEndpointUrl() + "); its bundle is fetched within seconds"
                    + " (see `lanyard federation list`)");
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard federation list"},
        name = "list", description = "Every relationship, its bundle's sequence and when it was fetched, and the last error.")
    static final class ListAll extends AdminVerb {

        @Override
        void run(PrintWriter out) throws Exception {
            ListFederationsResponse response = rpc(FederationServiceGrpc::newBlockingStub,
                    s -> s.listFederations(ListFederationsRequest.getDefaultInstance()));
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"TRUST DOMAIN", "PROFILE", "ENDPOINT", "SEQUENCE", "FETCHED", "LAST ERROR"});
            for (Federation f : response.getFederationsList()) {
                rows.add(new String[] {f.getTrustDomain(), f.getProfile().name().toLowerCase(java.util.Locale.ROOT),
                        f.getBundleEndpointUrl(), Long.toString(f.getBundleSequence()),
                        f.hasBundleFetchedAt() ? Instant.ofEpochSecond(f.getBundleFetchedAt().getSeconds()).toString() : "-",
                        f.getLastError().isEmpty() ? "-" : f.getLastError()});
            }
            Table.print(out, rows);
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard federation remove partner.example"},
        name = "remove", description = "Stop trusting a foreign trust domain; its bundle is dropped at once.")
    static final class Remove extends AdminVerb {
        @Parameters(index = "0", description = "the foreign trust domain")
        String trustDomain;

        @Override
        void run(PrintWriter out) throws Exception {
            rpc(FederationServiceGrpc::newBlockingStub,
                    s -> s.removeFederation(RemoveFederationRequest.newBuilder().setTrustDomain(trustDomain).build()));
            out.println("no longer federating with " + trustDomain);
        }
    }
}
