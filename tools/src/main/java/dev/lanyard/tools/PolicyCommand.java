package dev.lanyard.tools;

import com.google.protobuf.TextFormat;
import dev.lanyard.policy.PolicyFiles;
import dev.lanyard.v1.ApplyPolicyRequest;
import dev.lanyard.v1.ApplyPolicyResponse;
import dev.lanyard.v1.GetPolicyRequest;
import dev.lanyard.v1.Policy;
import dev.lanyard.v1.PolicyServiceGrpc;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(footer = {"%nExample:", "  ./lanyard policy apply policy.txtpb", "  ./lanyard policy show"},
        name = "policy", description = "The grants policy: who may hold which scopes on which audience.",
        subcommands = {PolicyCommand.Apply.class, PolicyCommand.Show.class})
final class PolicyCommand {

    @Command(footer = {"%nExample:", "  cat > policy.txtpb <<'TXT'", "  version: 2", "  grants { spiffe_ids: \"spiffe://lanyard.local/ns/shop/*\" audience: \"payments\" scopes: \"payments.charge\" }", "  TXT", "  ./lanyard policy apply policy.txtpb"},
        name = "apply", description = "Apply a policy file (.txtpb/.textproto/.pbtxt or .json); its version must increase.")
    static final class Apply implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @Parameters(index = "0", description = "the policy file")
        Path file;

        @Override
        public Integer call() throws Exception {
            LocalFile.requireReadable(file, "a policy file in protobuf text (.txtpb) or JSON (.json)");
            Policy policy = PolicyFiles.read(file);
            ApplyPolicyResponse response = admin.withAdmin(a -> PolicyServiceGrpc.newBlockingStub(a.getChannel())
                    .withDeadlineAfter(60, TimeUnit.SECONDS)
                    .applyPolicy(ApplyPolicyRequest.newBuilder().setPolicy(policy).build()));
            spec.commandLine().getOut().println("applied policy version " + response.getVersion());
            return 0;
        }
    }

    @Command(footer = {"%nExample:", "  ./lanyard policy show > policy.txtpb   # edit, raise the version, apply again"},
        name = "show", description = "Print the policy in force (protobuf text format).")
    static final class Show implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;

        @Override
        public Integer call() throws Exception {
            Policy policy = admin.withAdmin(a -> PolicyServiceGrpc.newBlockingStub(a.getChannel())
                    .withDeadlineAfter(60, TimeUnit.SECONDS).getPolicy(GetPolicyRequest.getDefaultInstance()));
            spec.commandLine().getOut().print(TextFormat.printer().printToString(policy));
            spec.commandLine().getOut().flush();
            return 0;
        }
    }
}
