package dev.lanyard.rpc;

import dev.lanyard.metrics.LanyardMetrics;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Predicate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.slf4j.LoggerFactory;

/**
 * Bounds the memory that request messages can hold while they arrive. gRPC keeps a message's bytes until
 * the whole message is in, up to grpc.max-message-bytes, and a client can send all but its last byte and
 * wait, on every stream of every connection it may open: without a bound a few connections of such
 * streams exhaust the server's direct memory. Here each message may be at most {@code message} bytes, and
 * the messages being received hold at most {@code perCaller} bytes per caller and {@code total} in all; a
 * stream over a bound is ended with RESOURCE_EXHAUSTED, counted on /metrics and logged once per caller
 * and minute. A stream tracer sees each message's bytes as gRPC takes them in (before the message is
 * whole), which no interceptor does. Two budgets are installed: {@link #anonymous} for the methods open
 * without a certificate, by source address, and {@link #perIdentity} for the others, by SPIFFE ID.
 */
public final class InboundBudget extends ServerStreamTracer.Factory {

    /** A bound, named by its setting without the grpc. prefix (as in refusals, /metrics and logs). */
    public record Bound(String setting, long bytes) {
    }

    private static final ServerStreamTracer NONE = new ServerStreamTracer() {
    };
    private static final String SESSION_KEY = "lanyard.inbound-identity";

    private final Predicate<String> methods;
    private final Function<ServerStreamTracer.ServerCallInfo<?, ?>, String> callerOf;
    private final Bound message;
    private final Bound perCaller;
    private final Bound total;
    private final LanyardMetrics metrics;
    private final ThrottledLog log;
    private final Map<String, Long> perCallerHeld = new HashMap<>();
    private long held;

    private InboundBudget(Predicate<String> methods, Function<ServerStreamTracer.ServerCallInfo<?, ?>, String> callerOf,
            Bound message, Bound perCaller, Bound total, LanyardMetrics metrics, Clock clock) {
        this.methods = methods;
        this.callerOf = callerOf;
        this.message = message;
        this.perCaller = perCaller;
        this.total = total;
        this.metrics = metrics;
        this.log = new ThrottledLog(LoggerFactory.getLogger(InboundBudget.class), clock);
    }

    /**
     * Requests to {@code openToAnyone} (bootstrap, agent attestation, trust bundle, health, reflection), by
     * source address: anyone can send them, so their bounds are tight (lanyard_grpc_anonymous_inbound_bytes).
     */
    public static InboundBudget anonymous(Set<String> openToAnyone, int maxMessage, long maxPerSource, long maxTotal,
            LanyardMetrics metrics, Clock clock) {
        Set<String> methods = Set.copyOf(openToAnyone);
        InboundBudget budget = new InboundBudget(methods::contains, InboundBudget::sourceAddress,
                new Bound("max-anonymous-message-bytes", maxMessage),
                new Bound("max-anonymous-inbound-bytes-per-source", maxPerSource),
                new Bound("max-anonymous-inbound-bytes", maxTotal), metrics, clock);
        metrics.grpcAnonymousInbound(budget::held);
        return budget;
    }

    /**
     * Requests to every other method (renewals, tokens, admin calls), by the SPIFFE ID of the client
     * certificate (by source address for a caller without one, whom the request chain refuses anyway):
     * one workload cannot make the server hold more than {@code maxPerIdentity} however many streams and
     * connections it opens (lanyard_grpc_inbound_bytes).
     */
    public static InboundBudget perIdentity(Set<String> openToAnyone, int maxMessage, long maxPerIdentity,
            long maxTotal, LanyardMetrics metrics, Clock clock) {
        Set<String> open = Set.copyOf(openToAnyone);
        InboundBudget budget = new InboundBudget(m -> !open.contains(m), InboundBudget::identity,
                new Bound("max-message-bytes", maxMessage),
                new Bound("max-inbound-bytes-per-identity", maxPerIdentity),
                new Bound("max-inbound-bytes", maxTotal), metrics, clock);
        metrics.grpcInbound(budget::held);
        return budget;
    }

    private synchronized long held() {
        return held;
    }

    @Override
    public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
        return methods.test(fullMethodName) ? new Budgeted(fullMethodName) : NONE;
    }

    /** Null if {@code bytes} more fit, and are now charged, else the bound they would exceed. */
    private synchronized Bound charge(String caller, long bytes) {
        if (held + bytes > total.bytes()) {
            return total;
        }
        long fromCaller = perCallerHeld.getOrDefault(caller, 0L);
        if (fromCaller + bytes > perCaller.bytes()) {
            return perCaller;
        }
        perCallerHeld.put(caller, fromCaller + bytes);
        held += bytes;
        return null;
    }

    private synchronized void release(String caller, long bytes) {
        if (bytes > 0) {
            perCallerHeld.computeIfPresent(caller, (c, n) -> n <= bytes ? null : n - bytes);
            held -= bytes;
        }
    }

    private static String sourceAddress(ServerStreamTracer.ServerCallInfo<?, ?> info) {
        SocketAddress remote = info.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        return remote instanceof InetSocketAddress inet && inet.getAddress() != null
                ? inet.getAddress().getHostAddress() : String.valueOf(remote);
    }

    /**
     * The URI SAN of the client certificate TLS verified; the request chain checks the rest (revocation,
     * expiry) before any handler runs, and a certificate it refuses only ever holds its own share here.
     */
    private static String identity(ServerStreamTracer.ServerCallInfo<?, ?> info) {
        SSLSession session = info.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        try {
            // Read once per TLS session, as the request chain reads its peer: parsing the SANs costs more
            // than the rest of this budget's work on a call.
            if (session != null && session.getValue(SESSION_KEY) instanceof String known) {
                return known;
            }
            Certificate[] chain = session == null ? new Certificate[0] : session.getPeerCertificates();
            if (chain.length > 0 && chain[0] instanceof X509Certificate leaf) {
                List<String> uris = ClientCertificateVerifier.uriSans(leaf);
                if (uris.size() == 1) {
                    session.putValue(SESSION_KEY, uris.get(0));
                    return uris.get(0);
                }
            }
        } catch (SSLPeerUnverifiedException | CertificateParsingException noIdentity) {
            // charged to the address instead
        }
        return sourceAddress(info);
    }

    /** One stream's message being received. gRPC calls it on the stream's network thread. */
    private final class Budgeted extends ServerStreamTracer {
        private final String method;
        private volatile String caller = "unknown";
        private final AtomicLong charged = new AtomicLong(); // for the message being received
        private long received; // bytes of that message so far
        private boolean refused;

        Budgeted(String method) {
            this.method = method;
        }

        @Override
        public void serverCallStarted(ServerCallInfo<?, ?> info) { // before any message is read
            caller = callerOf.apply(info);
        }

        @Override
        public void inboundWireSize(long bytes) {
            received += bytes;
            Bound over = received > message.bytes() ? message : charge(caller, bytes);
            if (over != null) {
                refuse(over);
            }
            charged.addAndGet(bytes);
        }

        @Override
        public void inboundMessageRead(int seqNo, long wireSize, long uncompressedSize) {
            received = 0;
            release(caller, charged.getAndSet(0));
        }

        @Override
        public void streamClosed(Status status) { // also when cancelled, or the connection dropped
            release(caller, charged.getAndSet(0));
        }

        /** Thrown where gRPC reads the message: it ends the stream with this status, as for an oversized one. */
        private void refuse(Bound over) {
            if (refused) { // bytes read before gRPC ended the stream
                throw Status.RESOURCE_EXHAUSTED.asRuntimeException();
            }
            refused = true;
            metrics.grpcRefused(over.setting());
            String setting = "grpc." + over.setting() + "=" + over.bytes();
            String why = over == message ? "a request to " + method + " is larger than " + setting
                    : over == perCaller ? "requests from " + caller + " being received hold " + setting
                            + " bytes already"
                    : "requests being received hold " + setting + " bytes already";
            log.warn(over.setting() + " " + caller, "refused a request to " + method + " from " + caller + ": " + why);
            throw Status.RESOURCE_EXHAUSTED.withDescription(why).asRuntimeException();
        }
    }
}
