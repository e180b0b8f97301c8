package dev.lanyard.server;

import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * What one client may take of the gRPC port.
 *
 * @param maxConcurrentStreams        calls open at once on one connection (HTTP/2 MAX_CONCURRENT_STREAMS)
 * @param keepAliveTime               the server pings a connection quiet for this long ...
 * @param keepAliveTimeout            ... and closes it if the ping is not answered within this
 * @param permitKeepAliveTime         clients may ping at most this often; more often ends the connection
 * @param maxConnectionIdle           a connection with no call open for this long is closed (gracefully)
 * @param maxMessageBytes             largest request message (a contract descriptor set is the biggest)
 * @param maxMetadataBytes            all request headers of a call together
 * @param handshakeTimeout            a TLS handshake must finish within this
 * @param maxWatchStreamsPerIdentity  open streams of each long-lived kind (WatchRevocations, WatchTrustBundle,
 *                                    health Watch, reflection) per SPIFFE ID (per source address for a caller
 *                                    without a certificate)
 * @param maxConnections              open connections in total; one more is closed before its TLS handshake
 * @param maxConnectionsPerSource     open connections from one IP address; likewise
 * @param maxResetsPerWindow          streams a client may reset (RST_STREAM) on one connection within
 *                                    {@code resetWindow}; one more ends the connection (ENHANCE_YOUR_CALM)
 * @param resetWindow                 that window, in whole seconds
 * @param anonymousInbound            what requests to the methods open without a certificate may hold while
 *                                    they arrive (see {@link dev.lanyard.rpc.InboundBudget})
 * @param inbound                     what requests to the other methods may hold while they arrive
 * @param maxBlockingCalls            threads for the calls that may block (admin calls, bootstrap, streams;
 *                                    see {@link CallExecutors}) ...
 * @param maxQueuedBlockingCalls      ... and such calls waiting for one; one more is refused with
 *                                    RESOURCE_EXHAUSTED
 */
public record GrpcLimits(int maxConcurrentStreams, Duration keepAliveTime, Duration keepAliveTimeout,
        Duration permitKeepAliveTime, Duration maxConnectionIdle, int maxMessageBytes, int maxMetadataBytes,
        Duration handshakeTimeout, int maxWatchStreamsPerIdentity, int maxConnections, int maxConnectionsPerSource,
        int maxResetsPerWindow, Duration resetWindow, AnonymousInbound anonymousInbound,
        Inbound inbound, int maxBlockingCalls, int maxQueuedBlockingCalls) {

    /**
     * @param maxMessageBytes    one request message (the largest such request the .proto bounds allow is
     *                           an x509pop attestation: 8 certificates of at most 16 KiB, and a CSR); a
     *                           smaller grpc.max-message-bytes bounds it too
     * @param maxPerSourceBytes  the messages being received from one IP address together
     * @param maxTotalBytes      the messages being received from everyone together
     */
    public record AnonymousInbound(int maxMessageBytes, long maxPerSourceBytes, long maxTotalBytes) {

        public AnonymousInbound {
            if (maxMessageBytes < 16 * 1024) {
                throw new IllegalArgumentException("grpc.max-anonymous-message-bytes must be at least 16384");
            }
            if (maxPerSourceBytes < maxMessageBytes || maxTotalBytes < maxPerSourceBytes) {
                throw new IllegalArgumentException("grpc.max-anonymous-inbound-bytes-per-source must be between "
                        + "grpc.max-anonymous-message-bytes and grpc.max-anonymous-inbound-bytes");
            }
        }
    }

    /**
     * @param maxPerIdentityBytes  the messages being received from one SPIFFE ID together, on all its streams
     *                             and connections
     * @param maxTotalBytes        the messages being received from every caller with a certificate together
     */
    public record Inbound(long maxPerIdentityBytes, long maxTotalBytes) {

        public Inbound {
            if (maxTotalBytes < maxPerIdentityBytes) {
                throw new IllegalArgumentException(
                        "grpc.max-inbound-bytes must be at least grpc.max-inbound-bytes-per-identity");
            }
        }
    }

    public GrpcLimits {
        if (maxConcurrentStreams < 1) {
            throw new IllegalArgumentException("grpc.max-concurrent-streams must be at least 1");
        }
        if (maxMessageBytes < 64 * 1024) {
            throw new IllegalArgumentException("grpc.max-message-bytes must be at least 65536");
        }
        if (maxMetadataBytes < 1024) {
            throw new IllegalArgumentException("grpc.max-metadata-bytes must be at least 1024");
        }
        if (keepAliveTime.compareTo(Duration.ofSeconds(10)) < 0) {
            throw new IllegalArgumentException("grpc.keepalive-time must be at least 10s");
        }
        if (maxWatchStreamsPerIdentity < 1) {
            throw new IllegalArgumentException("grpc.max-watch-streams-per-identity must be at least 1");
        }
        if (maxConnections < 1 || maxConnectionsPerSource < 1 || maxConnectionsPerSource > maxConnections) {
            throw new IllegalArgumentException(
                    "grpc.max-connections-per-source must be between 1 and grpc.max-connections");
        }
        if (maxResetsPerWindow < 1 || resetWindow.toSeconds() < 1 || resetWindow.toSeconds() > Integer.MAX_VALUE
                || resetWindow.toNanosPart() != 0) {
            throw new IllegalArgumentException("grpc.max-resets-per-window must be at least 1 and grpc.reset-window "
                    + "whole seconds, at least 1s");
        }
        if (inbound.maxPerIdentityBytes() < maxMessageBytes) { // else the largest admin call could never be sent
            throw new IllegalArgumentException(
                    "grpc.max-inbound-bytes-per-identity must be at least grpc.max-message-bytes");
        }
        if (maxBlockingCalls < 1 || maxQueuedBlockingCalls < 0) {
            throw new IllegalArgumentException("grpc.max-blocking-calls must be at least 1 and "
                    + "grpc.max-queued-blocking-calls at least 0");
        }
    }

    /** The defaults documented in docs/server.properties. */
    public static GrpcLimits defaults() {
        return new GrpcLimits(100, Duration.ofMinutes(1), Duration.ofSeconds(20), Duration.ofSeconds(30),
                Duration.ofMinutes(5), 4 * 1024 * 1024, 8 * 1024, Duration.ofSeconds(10), 8, 4096, 128, 200, Duration.ofSeconds(30),
                new AnonymousInbound(256 * 1024, 1024 * 1024, 16 * 1024 * 1024),
                new Inbound(16 * 1024 * 1024, 256 * 1024 * 1024), 64, 1024);
    }

    /**
     * Sets every transport limit on {@code builder}. (The watch cap is {@link dev.lanyard.rpc.WatchStreamCap}'s,
     * the connection caps {@link GrpcConnectionCap}'s, the
     * blocking-call bounds {@link CallExecutors}'.)
     */
    NettyServerBuilder applyTo(NettyServerBuilder builder) {
        return builder
                .maxConcurrentCallsPerConnection(maxConcurrentStreams)
                .keepAliveTime(keepAliveTime.toMillis(), TimeUnit.MILLISECONDS)
                .keepAliveTimeout(keepAliveTimeout.toMillis(), TimeUnit.MILLISECONDS)
                // agents ping to keep streams through NATs; pings without a call are fine at this rate
                .permitKeepAliveTime(permitKeepAliveTime.toMillis(), TimeUnit.MILLISECONDS)
                .permitKeepAliveWithoutCalls(true)
                .maxConnectionIdle(maxConnectionIdle.toMillis(), TimeUnit.MILLISECONDS)
                .maxInboundMessageSize(maxMessageBytes)
                .maxInboundMetadataSize(maxMetadataBytes)
                .handshakeTimeout(handshakeTimeout.toMillis(), TimeUnit.MILLISECONDS)
                // HTTP/2 "rapid reset" (CVE-2023-44487): a reset stream frees its slot at once, so without
                // this max-concurrent-streams does not bound the calls one connection starts (grpc-java: off)
                .maxRstFramesPerWindow(maxResetsPerWindow, (int) resetWindow.toSeconds());
    }
}
