package dev.lanyard.publication;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import dev.lanyard.rpc.ConnectionCounts;
import dev.lanyard.rpc.ThrottledLog;
import org.slf4j.LoggerFactory;

/**
 * Caps open connections in total and per source address. A connection over a cap gets a 503 at
 * once and is closed before anything is read from it, so a flood from one address cannot take the
 * slots other clients need. First in every connection's pipeline; one instance serves them all.
 * Each refusal is counted (by the limit it was over) and logged once per source and minute.
 */
@ChannelHandler.Sharable
final class ConnectionLimiter extends ChannelInboundHandlerAdapter {

    private static final AttributeKey<InetAddress> COUNTED = AttributeKey.valueOf("lanyard.http.counted-source");

    private final ConnectionCounts counts;
    private final ThrottledLog log;
    private final LongAdder refusedTotal = new LongAdder();
    private final LongAdder refusedPerSource = new LongAdder();

    ConnectionLimiter(int maxTotal, int maxPerSource, Clock clock) {
        this.counts = new ConnectionCounts(maxTotal, maxPerSource);
        this.log = new ThrottledLog(LoggerFactory.getLogger(ConnectionLimiter.class), clock);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        InetAddress source = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
        String limit = counts.admit(source);
        if (limit != null) {
            String refusal = refused(source, limit);
            byte[] body = (refusal + "\n").getBytes(StandardCharsets.US_ASCII);
            String head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: " + body.length
                    + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";
            ctx.writeAndFlush(Unpooled.wrappedBuffer(head.getBytes(StandardCharsets.US_ASCII), body));
            ctx.close();
            return; // the rest of the pipeline never sees this connection
        }
        ctx.channel().attr(COUNTED).set(source);
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        InetAddress source = ctx.channel().attr(COUNTED).getAndSet(null);
        if (source != null) {
            counts.release(source);
        }
        ctx.fireChannelInactive();
    }

    /**
     * Counts a refusal under the limit it was over and logs it (once per source and minute); returns
     * what the client is told.
     */
    private String refused(InetAddress source, String limit) {
        String from = source.getHostAddress();
        boolean overTotal = limit.equals(ConnectionCounts.TOTAL);
        (overTotal ? refusedTotal : refusedPerSource).increment();
        log.warn(limit + " " + from, "refused an HTTP connection from " + from + ": " + (overTotal
                ? "the server has http.max-connections=" + counts.maxTotal() + " open"
                : "it has http.max-connections-per-source=" + counts.maxPerSource() + " open"));
        return overTotal ? "too many connections (http.max-connections=" + counts.maxTotal() + ")"
                : "too many connections from " + from + " (http.max-connections-per-source=" + counts.maxPerSource() + ")";
    }

    /** Connections refused so far, by the limit (the setting without its http. prefix) they were over. */
    Map<String, Long> refused() {
        return Map.of(ConnectionCounts.TOTAL, refusedTotal.sum(), ConnectionCounts.PER_SOURCE, refusedPerSource.sum());
    }

    /** Connections open and counted now. */
    int open() {
        return counts.open();
    }
}
