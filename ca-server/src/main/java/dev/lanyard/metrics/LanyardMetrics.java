package dev.lanyard.metrics;

import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * What Lanyard counts and measures, exposed in the Prometheus text format. Labels are bounded:
 * refusal reasons are gRPC status codes, never messages, SPIFFE IDs or serials.
 */
public final class LanyardMetrics {

    /** The published key of one kind in the state a gauge reports. */
    public record KeyClock(String kind, String keyId, Duration age, Duration untilNextRotation) {
    }

    private static final double[] LATENCY_BUCKETS = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    private final Counter certificates;
    private final Histogram certificateSeconds;
    private final Counter tokens;
    private final Histogram tokenSeconds;
    private final Counter revocations;
    private final Counter calls;
    private final Histogram callSeconds;
    private final Counter grpcRefused;
    /** Whether the store answers: the gauges read from it have no sample while it does not (a scrape never waits for it). */
    private volatile java.util.function.BooleanSupplier storeAnswers = () -> true;

    /**
     * @param watchers        open WatchRevocations streams
     * @param keys            the active JWT key and issuing CA: age and time to their next rotation
     * @param issuingHorizon  how long the active issuing CA can still issue (its remaining lifetime)
     * @param successorMissing the active issuing CA nears its hand-over and no successor is prepared
     */
    public LanyardMetrics(IntSupplier watchers, Supplier<List<KeyClock>> keys, Supplier<Duration> issuingHorizon,
            java.util.function.BooleanSupplier successorMissing) {
        certificates = Counter.builder().name("lanyard_certificates_total")
                .help("Certificate requests by operation (bootstrap, renew), outcome (issued, refused) and refusal code")
                .labelNames("operation", "outcome", "code").register(registry);
        certificateSeconds = Histogram.builder().name("lanyard_certificate_request_seconds")
                .help("Time to answer a certificate request").labelNames("operation")
                .classicOnly().classicUpperBounds(LATENCY_BUCKETS).register(registry);
        tokens = Counter.builder().name("lanyard_tokens_total")
                .help("Token requests by outcome (issued, refused) and refusal code")
                .labelNames("outcome", "code").register(registry);
        tokenSeconds = Histogram.builder().name("lanyard_token_request_seconds")
                .help("Time to answer a token request").classicOnly().classicUpperBounds(LATENCY_BUCKETS)
                .register(registry);
        revocations = Counter.builder().name("lanyard_revocations_total")
                .help("New revocations by kind (serial, spiffe_id, jti)").labelNames("kind").register(registry);
        calls = Counter.builder().name("lanyard_rpc_total")
                .help("gRPC calls answered, by full method name and status code").labelNames("method", "code")
                .register(registry);
        callSeconds = Histogram.builder().name("lanyard_rpc_seconds")
                .help("Time from a call's arrival to its answer, by full method name").labelNames("method")
                .classicOnly().classicUpperBounds(LATENCY_BUCKETS).register(registry);
        grpcRefused = Counter.builder().name("lanyard_grpc_refused_total")
                .help("Connections, streams, calls and request messages the gRPC port refused, by the limit (the setting"
                        + " without its grpc. prefix) they were over")
                .labelNames("limit").register(registry);
        GaugeWithCallback.builder().name("lanyard_revocation_watchers")
                .help("Open WatchRevocations streams")
                .callback(cb -> cb.call(watchers.getAsInt())).register(registry);
        GaugeWithCallback.builder().name("lanyard_key_age_seconds")
                .help("How long the active key of each kind (jwt, x509) has been signing").labelNames("kind", "key_id")
                .callback(cb -> keys.get().forEach(k -> cb.call(seconds(k.age()), k.kind(), k.keyId())))
                .register(registry);
        GaugeWithCallback.builder().name("lanyard_key_next_rotation_seconds")
                .help("Time until the active key of each kind (jwt, x509) is due to be replaced").labelNames("kind")
                .callback(cb -> keys.get().forEach(k -> cb.call(seconds(k.untilNextRotation()), k.kind())))
                .register(registry);
        GaugeWithCallback.builder().name("lanyard_issuing_ca_remaining_seconds")
                .help("Time until the active issuing CA expires: no certificate can outlive it")
                .callback(cb -> cb.call(seconds(issuingHorizon.get()))).register(registry);
        GaugeWithCallback.builder().name("lanyard_ca_successor_missing")
                .help("1 when the active issuing CA nears its hand-over (ca.successor-warning) and no successor is"
                        + " prepared while the root key is offline, or its hand-over is overdue; else 0")
                .callback(cb -> {
                    if (storeAnswers.getAsBoolean()) { // the intermediates are read from the store
                        cb.call(successorMissing.getAsBoolean() ? 1 : 0);
                    }
                }).register(registry);
        registerProcess();
    }

    /** The process's own CPU time and resident memory, so a benchmark can divide them by what it measured. */
    private void registerProcess() {
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean hotspot) {
            CounterWithCallback.builder().name("process_cpu_seconds_total")
                    .help("CPU time (user and system) used by this process")
                    .callback(cb -> cb.call(hotspot.getProcessCpuTime() / 1e9)).register(registry);
        }
        Path status = Path.of("/proc/self/status");
        if (Files.isReadable(status)) {
            GaugeWithCallback.builder().name("process_resident_memory_bytes").help("Resident set size of this process")
                    .callback(cb -> cb.call(residentBytes(status))).register(registry);
        }
    }

    /** VmRSS from /proc/self/status (Linux), in bytes. */
    private static double residentBytes(Path status) {
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024.0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return Double.NaN;
        }
        return Double.NaN;
    }

    /** Commits made durable by the store's own sync, and the syncs (fsync) that did it (H2). */
    public void storeSyncs(LongSupplier commits, LongSupplier syncs) {
        counter("lanyard_store_commits_total", "Commits the store made durable with its own sync (H2)", commits);
        counter("lanyard_store_syncs_total",
                "File syncs (fsync) the store made; one covers every commit finished before it (H2)", syncs);
    }

    /**
     * The audit trail's commits and the records in them, on every store: records per commit is how
     * many requests share one durable commit (group commit).
     */
    public void auditCommits(LongSupplier commits, LongSupplier records) {
        counter("lanyard_audit_commits_total",
                "Transactions that appended audit records, each durable before any of its requests was answered",
                commits);
        counter("lanyard_audit_records_total", "Audit records appended, each in one of lanyard_audit_commits_total",
                records);
    }

    /** A counter kept elsewhere, read at each scrape. */
    private void counter(String name, String help, LongSupplier value) {
        CounterWithCallback.builder().name(name).help(help).callback(cb -> cb.call(value.getAsLong()))
                .register(registry);
    }

    /** The store's size on disk, read at each scrape (the H2 file, or the PostgreSQL database). */
    public void storeBytes(LongSupplier bytes) {
        GaugeWithCallback.builder().name("lanyard_store_bytes")
                .help("Bytes the store takes on disk: the H2 file, or PostgreSQL's database size")
                .callback(cb -> {
                    if (storeAnswers.getAsBoolean()) {
                        cb.call(bytes.getAsLong());
                    }
                }).register(registry);
    }

    /**
     * 1 while the store answers (readiness, /readyz), 0 while it does not; while it does not, the gauges
     * read from the store (its size, the CA successor) have no sample.
     */
    public void storeReachable(java.util.function.BooleanSupplier reachable) {
        this.storeAnswers = reachable;
        GaugeWithCallback.builder().name("lanyard_store_reachable")
                .help("1 while the database answered within the last few seconds (the server is ready), else 0")
                .callback(cb -> cb.call(reachable.getAsBoolean() ? 1 : 0)).register(registry);
    }

    /** A certificate request answered: {@code code} is empty when issued, else the gRPC status code. */
    public void certificate(String operation, String code, long startNanos, long endNanos) {
        certificates.labelValues(operation, code.isEmpty() ? "issued" : "refused", code).inc();
        certificateSeconds.labelValues(operation).observe((endNanos - startNanos) / 1e9);
    }

    /** A token request answered: {@code code} is empty when issued, else the gRPC status code. */
    public void token(String code, long startNanos, long endNanos) {
        tokens.labelValues(code.isEmpty() ? "issued" : "refused", code).inc();
        tokenSeconds.observe((endNanos - startNanos) / 1e9);
    }

    /** A gRPC call answered with {@code code} (a status code name) after {@code nanos}. */
    public void rpc(String method, String code, long nanos) {
        calls.labelValues(method, code).inc();
        callSeconds.labelValues(method).observe(nanos / 1e9);
    }

    /** A connection or stream the gRPC port refused: {@code limit} names the setting, without its prefix. */
    public void grpcRefused(String limit) {
        grpcRefused.labelValues(limit).inc();
    }

    /** Connections the HTTP port refused, by the limit (the setting without its http. prefix), read at each scrape. */
    public void httpRefused(Supplier<java.util.Map<String, Long>> byLimit) {
        CounterWithCallback.builder().name("lanyard_http_refused_total")
                .help("Connections the HTTP port refused, by the limit (the setting without its http. prefix) they"
                        + " were over")
                .labelNames("limit")
                .callback(cb -> byLimit.get().forEach((limit, n) -> cb.call(n, limit))).register(registry);
    }

    /** Connections open on the gRPC port, read at each scrape. */
    public void grpcConnections(IntSupplier open) {
        GaugeWithCallback.builder().name("lanyard_grpc_connections").help("Connections open on the gRPC port")
                .callback(cb -> cb.call(open.getAsInt())).register(registry);
    }

    /** Bytes held by request messages to methods open without a certificate that are still arriving. */
    public void grpcAnonymousInbound(LongSupplier bytes) {
        GaugeWithCallback.builder().name("lanyard_grpc_anonymous_inbound_bytes")
                .help("Bytes held by request messages to the methods open without a certificate, still arriving")
                .callback(cb -> cb.call(bytes.getAsLong())).register(registry);
    }

    /** Bytes held by request messages to the methods that need a certificate, still arriving; read at each scrape. */
    public void grpcInbound(LongSupplier bytes) {
        GaugeWithCallback.builder().name("lanyard_grpc_inbound_bytes")
                .help("Bytes held by request messages to the methods that need a certificate, still arriving")
                .callback(cb -> cb.call(bytes.getAsLong())).register(registry);
    }

    /** A new revocation of a serial, spiffe_id or jti. */
    public void revoked(String kind) {
        revocations.labelValues(kind).inc();
    }

    /** Everything, in the Prometheus text format. */
    public byte[] scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writer.write(out, registry.scrape(), EscapingScheme.ALLOW_UTF8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    public String contentType() {
        return writer.getContentType();
    }

    private static double seconds(Duration d) {
        return d.toNanos() / 1e9;
    }
}
