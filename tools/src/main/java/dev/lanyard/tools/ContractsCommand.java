package dev.lanyard.tools;

import com.google.protobuf.ByteString;
import dev.lanyard.v1.Contract;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.ListContractsRequest;
import dev.lanyard.v1.ListContractsResponse;
import dev.lanyard.v1.MethodContract;
import dev.lanyard.v1.PublishContractsRequest;
import dev.lanyard.v1.PublishContractsResponse;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(footer = {"%nExample:", "  ./lanyard contracts publish proto/target/classes/examples.pb", "  ./lanyard contracts list"},
        name = "contracts", description = "Audience/scope contracts from compiled .proto descriptor sets.",
        subcommands = {ContractsCommand.Publish.class, ContractsCommand.ListAll.class})
final class ContractsCommand {

    @Command(footer = {"%nExample:", "  protoc --descriptor_set_out=payments.pb --include_imports payments.proto", "  ./lanyard contracts publish payments.pb --source payments-ci"},
        name = "publish", description = "Publish a FileDescriptorSet (protoc --descriptor_set_out --include_imports).")
    static final class Publish extends AdminVerb {
        @Parameters(index = "0", description = "the descriptor set file")
        Path file;
        @Option(names = "--source", description = "who publishes it (default: the file name)")
        String source;

        @Override
        void run(PrintWriter out) throws Exception {
            LocalFile.requireReadable(file,
                    "a FileDescriptorSet made by protoc --descriptor_set_out=FILE --include_imports");
            byte[] bytes = Files.readAllBytes(file);
            String name = source != null ? source : file.getFileName().toString();
            PublishContractsResponse response = rpc(ContractServiceGrpc::newBlockingStub,
                    s -> s.publishContracts(PublishContractsRequest.newBuilder().setSource(name)
                            .setDescriptorSet(ByteString.copyFrom(bytes)).build()));
            out.println("published " + name + " as version " + response.getVersion());
            response.getWarningsList().forEach(w -> out.println("warning: " + w));
            print(out, response.getContractsList());
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard contracts list"},
        name = "list", description = "List the contracts in force.")
    static final class ListAll extends AdminVerb {

        @Override
        void run(PrintWriter out) throws Exception {
            ListContractsResponse response = rpc(ContractServiceGrpc::newBlockingStub,
                    s -> s.listContracts(ListContractsRequest.getDefaultInstance()));
            out.println("contracts version " + response.getVersion());
            print(out, response.getContractsList());
        }
    }

    static void print(PrintWriter out, List<Contract> contracts) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"AUDIENCE", "METHOD", "REQUIRED SCOPES"});
        for (Contract c : contracts) {
            for (MethodContract m : c.getMethodsList()) {
                rows.add(new String[] {c.getAudience(), m.getMethod(), String.join(" ", m.getRequiredScopesList())});
            }
        }
        Table.print(out, rows);
    }
}
