package dev.lanyard.tools;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * What a benchmark's timed window cost besides time: the server's CPU (process_cpu_seconds_total
 * on its /metrics, read before and after), this load generator's own CPU, the store's bytes on
 * disk (lanyard_store_bytes), how many audit records shared each commit, and the server's resident
 * memory; and how busy this machine was, and how much of its time the hypervisor took
 * ({@link HostCpu}).
 */
final class BenchWindow {

    /** One reading; a server figure is NaN or -1 when /metrics could not be read. */
    record Sample(double serverCpuSeconds, long storeBytes, long serverResidentBytes, long loaderCpuNanos,
            double commits, double syncs, double auditCommits, double auditRecords, Optional<String> problem,
            Optional<HostCpu> host) {
    }

    private final Optional<URI> metrics;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** @param metrics the server's /metrics URL, or empty to measure only this process */
    BenchWindow(Optional<URI> metrics) {
        this.metrics = metrics;
    }

    /** {@code http://HOST:8080/metrics} for {@code --server HOST:PORT}: the server's default HTTP port. */
    static URI defaultMetrics(String server) {
        int colon = server.lastIndexOf(':');
        return URI.create("http://" + (colon > 0 ? server.substring(0, colon) : server) + ":8080/metrics");
    }

    Sample sample() {
        long loader = processCpuNanos();
        Optional<HostCpu> host = HostCpu.read();
        if (metrics.isEmpty()) {
            return unread(loader, host, "no --metrics URL");
        }
        try {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(metrics.get())
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 404) {
                // A server with http.metrics=loopback answers other hosts as if it had no /metrics; off, everyone.
                return unread(loader, host, metrics.get() + " answered HTTP 404: the server does not serve /metrics"
                        + " to this host (http.metrics=loopback serves only the server's own host, off nobody): run"
                        + " bench on the server's host, or set http.metrics=public there");
            }
            if (response.statusCode() != 200) {
                return unread(loader, host, metrics.get() + " answered HTTP " + response.statusCode());
            }
            String body = response.body();
            return new Sample(value(body, "process_cpu_seconds_total"), (long) value(body, "lanyard_store_bytes"),
                    (long) value(body, "process_resident_memory_bytes"), loader,
                    value(body, "lanyard_store_commits_total"), value(body, "lanyard_store_syncs_total"),
                    value(body, "lanyard_audit_commits_total"), value(body, "lanyard_audit_records_total"),
                    Optional.empty(), host);
        } catch (IOException e) {
            return unread(loader, host, "cannot read " + metrics.get() + ": " + e
                    + " (pass --metrics http://HOST:HTTP-PORT/metrics)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return unread(loader, host, "interrupted");
        }
    }

    /** A sample without the server's figures, saying why. */
    private static Sample unread(long loaderCpuNanos, Optional<HostCpu> host, String problem) {
        return new Sample(Double.NaN, -1, -1, loaderCpuNanos, Double.NaN, Double.NaN, Double.NaN, Double.NaN,
                Optional.of(problem), host);
    }

    /** The value of an unlabelled sample in the Prometheus text format; NaN if absent. */
    static double value(String exposition, String name) {
        for (String line : exposition.split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1).trim().split(" ")[0]);
            }
        }
        return Double.NaN;
    }

    static void print(PrintWriter out, Sample before, Sample after, long operations, String unit) {
        print(out, before, after, operations, unit, after.loaderCpuNanos() - before.loaderCpuNanos(), "");
    }

    /** @param loaderCpuNanos the load generator's CPU in the window, measured by whichever process ran it */
    static void print(PrintWriter out, Sample before, Sample after, long operations, String unit,
            long loaderCpuNanos, String loader) {
        double loaderMs = loaderCpuNanos / 1e6 / operations;
        after.problem().or(before::problem).ifPresentOrElse(
                problem -> out.printf("  server CPU: not measured (%s)%n", problem),
                () -> {
                    OptionalDouble serverMs = serverCpuMs(before, after, operations);
                    if (serverMs.isEmpty()) {
                        out.println("  server CPU: not measured (the server's /metrics has no process_cpu_seconds_total)");
                        return;
                    }
                    out.printf("  server CPU %.3f ms per %s; server resident memory %,d MB%n", serverMs.getAsDouble(),
                            unit, after.serverResidentBytes() >> 20);
                    double commits = after.commits() - before.commits();
                    if (!Double.isNaN(commits)) {
                        out.printf("  store: %,.0f commits, %,.0f syncs (%.2f syncs per commit, %.2f per %s)%n",
                                commits, after.syncs() - before.syncs(), (after.syncs() - before.syncs()) / commits,
                                (after.syncs() - before.syncs()) / operations, unit);
                    }
                    double auditCommits = after.auditCommits() - before.auditCommits();
                    if (auditCommits > 0) {
                        out.printf("  audit trail: %,.0f records in %,.0f commits (%.2f records per commit)%n",
                                after.auditRecords() - before.auditRecords(), auditCommits,
                                (after.auditRecords() - before.auditRecords()) / auditCommits);
                    }
                    if (before.storeBytes() >= 0 && after.storeBytes() >= 0) {
                        long grown = after.storeBytes() - before.storeBytes();
                        out.printf("  store on disk %,d → %,d bytes (%,d bytes per %s)%n", before.storeBytes(),
                                after.storeBytes(), grown / operations, unit);
                    }
                });
        out.printf("  load generator CPU %.3f ms per %s%s%n", loaderMs, unit, loader);
        if (before.host().isPresent() && after.host().isPresent()) {
            out.printf("  this machine: %s (/proc/stat)%n", after.host().get().since(before.host().get()));
        }
        out.flush();
    }

    /** The server's CPU per operation in the window, in ms; empty when /metrics could not tell. */
    static OptionalDouble serverCpuMs(Sample before, Sample after, long operations) {
        if (before.problem().isPresent() || after.problem().isPresent() || Double.isNaN(after.serverCpuSeconds())
                || operations <= 0) {
            return OptionalDouble.empty();
        }
        return OptionalDouble.of((after.serverCpuSeconds() - before.serverCpuSeconds()) * 1e3 / operations);
    }

    /** This process's CPU time so far (the Java loader's, or the in-process comparison's). */
    static long processCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return 0;
    }
}
