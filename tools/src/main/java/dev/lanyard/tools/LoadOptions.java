package dev.lanyard.tools;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/** How `bench issue` and `bench token` load the server: how hard, how long, measured how, by whom. */
final class LoadOptions {

    @Option(names = "--concurrency", defaultValue = "4", description = "parallel channels (default: ${DEFAULT-VALUE})")
    int concurrency;
    @Option(names = "--duration", defaultValue = "20s", converter = DurationConverter.class,
            description = "how long to measure (default: ${DEFAULT-VALUE})")
    Duration duration;
    @Option(names = "--warmup", defaultValue = "30s", converter = DurationConverter.class,
            description = "load before the timed window, not measured (default: ${DEFAULT-VALUE})")
    Duration warmup;
    @Option(names = "--metrics", description = "the server's /metrics URL, read before and after the window for"
            + " its CPU, memory and store size (default: http://HOST:8080/metrics for --server HOST:PORT)")
    URI metrics;
    @Option(names = "--loader", defaultValue = "go", description = "go: the Go load generator"
            + " (clients/go/cmd/lanyard-loadgen), light on CPU; java: a loop in this JVM (default: ${DEFAULT-VALUE})")
    BenchCommand.Loader loader;
    @Option(names = "--loader-binary", description = "the Go load generator (default: $LANYARD_LOADGEN, else"
            + " clients/go/target/lanyard-loadgen under the current directory or its parents)")
    Path loaderBinary;

    /** Refuses a load that cannot run: no channels, no window, a negative warm-up. */
    void check() {
        if (concurrency < 1 || duration.isNegative() || duration.isZero() || warmup.isNegative()) {
            throw new IllegalArgumentException("--concurrency and --duration must be positive, --warmup not negative");
        }
    }

    /** {@code --metrics}, or the server's default HTTP port on the {@code --server} host. */
    URI metricsUrl(AdminOptions admin) {
        return metrics != null ? metrics : BenchWindow.defaultMetrics(admin.server);
    }
}
