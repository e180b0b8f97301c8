package dev.lanyard.rpc;

import dev.lanyard.metrics.LanyardMetrics;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.LoggerFactory;

/**
 * Bounds the memory that request messages to the methods open to callers without a certificate
 * (bootstrap, agent attestation, trust bundle, health, reflection) can hold while they arrive. gRPC
 * keeps a message's bytes until the whole message is in, up to grpc.max-message-bytes, and a client
 * can send all but its last byte and wait: a few connections of such streams from one address used to
 * exhaust the server's direct memory. Here each such message may be at most {@code maxMessage} bytes,
 * and the messages being received hold at most {@code maxPerSource} bytes per source address and
 * {@code maxTotal} in all; a stream over a bound is ended with RESOURCE_EXHAUSTED, counted on /metrics
 * and logged once per source and minute. A stream tracer sees each message's bytes as gRPC takes
 * them in (before the message is whole), which no interceptor does. Other methods (renewals, tokens,
 * admin calls: callers with a certificate) get a shared tracer that does nothing.
 */
public final class AnonymousInboundBudget extends ServerStreamTracer.Factory {

    private static final ServerStreamTracer NONE = new ServerStreamTracer() {
    };

    private final Set<String> methods;
    private final int maxMessage;
    private final long maxPerSource;
    private final long maxTotal;
    private final LanyardMetrics metrics;
    private final ThrottledLog log;
    private final Map<String, Long> perSource = new HashMap<>();
    private long total;

    /** @param methods full names of the methods a caller without a certificate may call */
    public AnonymousInboundBudget(Set<String> methods, int maxMessage, long maxPerSource, long maxTotal,
            LanyardMetrics metrics, Clock clock) {
        this.methods = Set.copyOf(methods);
        this.maxMessage = maxMessage;
        this.maxPerSource = maxPerSource;
        this.maxTotal = maxTotal;
        this.metrics = metrics;
        this.log = new ThrottledLog(LoggerFactory.getLogger(AnonymousInboundBudget.class), clock);
        metrics.grpcAnonymousInbound(this::held);
    }

    private synchronized long held() {
        return total;
    }

    @Override
    public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
        return methods.contains(fullMethodName) ? new Budgeted(fullMethodName) : NONE;
    }

    /** Null if {@code bytes} more fit, and are now charged, else the limit they would exceed. */
    private synchronized String charge(String source, long bytes) {
        if (total + bytes > maxTotal) {
            return "max-anonymous-inbound-bytes";
        }
        long fromSource = perSource.getOrDefault(source, 0L);
        if (fromSource + bytes > maxPerSource) {
            return "max-anonymous-inbound-bytes-per-source";
        }
        perSource.put(source, fromSource + bytes);
        total += bytes;
        return null;
    }

    private synchronized void release(String source, long bytes) {
        if (bytes > 0) {
            perSource.computeIfPresent(source, (s, n) -> n <= bytes ? null : n - bytes);
            total -= bytes;
        }
    }

    /** One stream's message being received. gRPC calls it on the stream's network thread. */
    private final class Budgeted extends ServerStreamTracer {
        private final String method;
        private volatile String source = "unknown";
        private final AtomicLong held = new AtomicLong(); // charged for the message being received
        private long message; // bytes of that message so far
        private boolean refused;

        Budgeted(String method) {
            this.method = method;
        }

        @Override
        public void serverCallStarted(ServerCallInfo<?, ?> info) { // before any message is read
            SocketAddress remote = info.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
            source = remote instanceof InetSocketAddress inet && inet.getAddress() != null
                    ? inet.getAddress().getHostAddress() : String.valueOf(remote);
        }

        @Override
        public void inboundWireSize(long bytes) {
            message += bytes;
            String limit = message > maxMessage ? "max-anonymous-message-bytes" : charge(source, bytes);
            if (limit != null) {
                refuse(limit);
            }
            held.addAndGet(bytes);
        }

        @Override
        public void inboundMessageRead(int seqNo, long wireSize, long uncompressedSize) {
            message = 0;
            release(source, held.getAndSet(0));
        }

        @Override
        public void streamClosed(Status status) {
            release(source, held.getAndSet(0));
        }

        /** Thrown where gRPC reads the message: it ends the stream with this status, as for an oversized one. */
        private void refuse(String limit) {
            if (refused) { // bytes read before gRPC ended the stream
                throw Status.RESOURCE_EXHAUSTED.asRuntimeException();
            }
            refused = true;
            metrics.grpcRefused(limit);
            String why = switch (limit) {
                case "max-anonymous-message-bytes" -> "a request to " + method + " is larger than "
                        + "grpc.max-anonymous-message-bytes=" + maxMessage;
                case "max-anonymous-inbound-bytes-per-source" -> "requests from " + source + " being received hold "
                        + "grpc.max-anonymous-inbound-bytes-per-source=" + maxPerSource + " bytes already";
                default -> "requests being received hold grpc.max-anonymous-inbound-bytes=" + maxTotal
                        + " bytes already";
            };
            log.warn(limit + " " + source, "refused a request to " + method + " from " + source + ": " + why);
            throw Status.RESOURCE_EXHAUSTED.withDescription(why).asRuntimeException();
        }
    }
}
