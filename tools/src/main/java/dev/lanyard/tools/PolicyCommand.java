package dev.lanyard.tools;

import com.google.protobuf.TextFormat;
import dev.lanyard.policy.PolicyFiles;
import dev.lanyard.v1.ApplyPolicyRequest;
import dev.lanyard.v1.ApplyPolicyResponse;
import dev.lanyard.v1.GetPolicyRequest;
import dev.lanyard.v1.Policy;
import dev.lanyard.v1.PolicyServiceGrpc;
import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(footer = {"%nExample:", "  ./lanyard policy apply policy.txtpb", "  ./lanyard policy show"},
        name = "policy", description = "The grants policy: who may hold which scopes on which audience.",
        subcommands = {PolicyCommand.Apply.class, PolicyCommand.Show.class})
final class PolicyCommand {

    @Command(footer = {"%nExample:", "  cat > policy.txtpb <<'TXT'", "  version: 2", "  grants { spiffe_ids: \"spiffe://lanyard.local/ns/shop/*\" audience: \"payments\" scopes: \"payments.charge\" }", "  TXT", "  ./lanyard policy apply policy.txtpb"},
        name = "apply", description = "Apply a policy file (.txtpb/.textproto/.pbtxt or .json); its version must increase.")
    static final class Apply extends AdminVerb {
        @Parameters(index = "0", description = "the policy file")
        Path file;

        @Override
        void run(PrintWriter out) throws Exception {
            LocalFile.requireReadable(file, "a policy file in protobuf text (.txtpb) or JSON (.json)");
            Policy policy = PolicyFiles.read(file);
            ApplyPolicyResponse response = rpc(PolicyServiceGrpc::newBlockingStub,
                    s -> s.applyPolicy(ApplyPolicyRequest.newBuilder().setPolicy(policy).build()));
            out.println("applied policy version " + response.getVersion());
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard policy show > policy.txtpb   # edit, raise the version, apply again"},
        name = "show", description = "Print the policy in force (protobuf text format).")
    static final class Show extends AdminVerb {

        @Override
        void run(PrintWriter out) throws Exception {
            Policy policy = rpc(PolicyServiceGrpc::newBlockingStub,
                    s -> s.getPolicy(GetPolicyRequest.getDefaultInstance()));
            out.print(TextFormat.printer().printToString(policy));
        }
    }
}
