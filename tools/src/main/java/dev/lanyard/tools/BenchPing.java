package dev.lanyard.tools;

import dev.lanyard.credential.Credential;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The floor under every call: what the server spends on a call that does no work (TLS, HTTP/2, gRPC
 * and the request chain), so that `bench issue` and `bench token` can be read as floor plus work.
 */
@Command(name = "ping", description = "The floor under every call: gRPC health checks over persistent mTLS channels,"
        + " through the server's request chain, with nothing issued or stored. Its server CPU per call is what a"
        + " renewal or a token costs before its own work.")
final class BenchPing implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Mixin
    AdminOptions admin;
    @Mixin
    LoadOptions load;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        load.check();
        GoLoader go = load.loader == BenchCommand.Loader.go ? BenchCommand.locate(load.loaderBinary) : null;
        Credential workload = BenchCommand.bootstrapBenchIdentity(admin);
        String what = "gRPC health checks over mTLS against " + admin.server + ", concurrency " + load.concurrency
                + ", after " + dev.lanyard.server.Durations.format(load.warmup) + " warm-up";
        if (go != null) {
            BenchCommand.runGo(out, go, admin, workload, List.of("-kind", "ping"), load, what, "calls", "call");
            return 0;
        }
        HealthCheckRequest request = HealthCheckRequest.getDefaultInstance();
        BenchCommand.runJava(out, admin, workload, load, what, "calls", "call", (channel, worker) -> {
            var stub = HealthGrpc.newBlockingStub(channel);
            return () -> stub.withDeadlineAfter(30, TimeUnit.SECONDS).check(request);
        });
        return 0;
    }
}
