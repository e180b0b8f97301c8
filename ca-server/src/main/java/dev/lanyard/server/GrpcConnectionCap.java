package dev.lanyard.server;

import dev.lanyard.metrics.LanyardMetrics;
import dev.lanyard.rpc.ConnectionCounts;
import dev.lanyard.rpc.ThrottledLog;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import org.slf4j.LoggerFactory;

/**
 * Caps the gRPC port's open connections in total and per source address. It sits on the listening
 * socket and sees each accepted connection before anything else does: one over a cap is closed at
 * once, before its TLS handshake, so a flood from one address costs the server a socket for a moment
 * and cannot take the slots, handshakes and memory other clients need. Each refusal is counted on
 * /metrics and logged once per source and minute.
 */
@ChannelHandler.Sharable
final class GrpcConnectionCap extends ChannelInboundHandlerAdapter {

    private final ConnectionCounts counts;
    private final LanyardMetrics metrics;
    private final ThrottledLog log;

    GrpcConnectionCap(int maxTotal, int maxPerSource, LanyardMetrics metrics, Clock clock) {
        this.counts = new ConnectionCounts(maxTotal, maxPerSource);
        this.metrics = metrics;
        this.log = new ThrottledLog(LoggerFactory.getLogger(GrpcConnectionCap.class), clock);
        metrics.grpcConnections(this::open);
    }

    /** {@code msg} is a connection just accepted, not yet registered with an event loop. */
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Channel connection = (Channel) msg;
        InetAddress source = connection.remoteAddress() instanceof InetSocketAddress inet ? inet.getAddress() : null;
        String limit = counts.admit(source);
        if (limit != null) {
            connection.unsafe().closeForcibly();
            metrics.grpcRefused(limit);
            String from = source == null ? "an unknown address" : source.getHostAddress();
            log.warn(limit + " " + from, "refused a gRPC connection from " + from + ": " + (limit.equals(ConnectionCounts.TOTAL)
                    ? "the server has grpc.max-connections=" + counts.maxTotal() + " open"
                    : "it has grpc.max-connections-per-source=" + counts.maxPerSource() + " open"));
            return;
        }
        connection.closeFuture().addListener(closed -> counts.release(source));
        ctx.fireChannelRead(connection);
    }

    /** Connections open and counted now. */
    int open() {
        return counts.open();
    }
}
