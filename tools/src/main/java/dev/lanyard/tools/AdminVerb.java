package dev.lanyard.tools;

import io.grpc.Channel;
import io.grpc.stub.AbstractStub;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * An admin verb: the admin options, one or more admin RPCs on a stub with a deadline, and what the
 * command prints. Errors are not handled here: {@link Errors} maps every failure in one place.
 */
abstract class AdminVerb implements Callable<Integer> {

    static final Duration DEADLINE = Duration.ofSeconds(60);

    @Spec
    CommandSpec spec;
    @Mixin
    AdminOptions admin;

    @FunctionalInterface
    interface Rpc<S, T> {
        T call(S stub) throws Exception;
    }

    /** What the verb does; it prints to {@code out} and returns normally on success (exit 0). */
    abstract void run(PrintWriter out) throws Exception;

    @Override
    public final Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        run(out);
        out.flush();
        return 0;
    }

    /** {@code rpc} on a stub made by {@code newStub} (e.g. {@code KeyServiceGrpc::newBlockingStub}), deadline 60 s. */
    <S extends AbstractStub<S>, T> T rpc(Function<Channel, S> newStub, Rpc<S, T> rpc) throws Exception {
        return rpc(newStub, DEADLINE, rpc);
    }

    <S extends AbstractStub<S>, T> T rpc(Function<Channel, S> newStub, Duration deadline, Rpc<S, T> rpc)
            throws Exception {
        return admin.withAdmin(a -> rpc.call(newStub.apply(a.getChannel())
                .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)));
    }
}
