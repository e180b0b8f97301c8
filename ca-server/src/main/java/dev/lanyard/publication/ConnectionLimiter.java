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
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
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

    private final int maxTotal;
    private final int maxPerSource;
    private final ThrottledLog log;
    private final LongAdder refusedTotal = new LongAdder();
    private final LongAdder refusedPerSource = new LongAdder();
    private final Map<InetAddress, Integer> perSource = new HashMap<>();
    private int total;

    ConnectionLimiter(int maxTotal, int maxPerSource, Clock clock) {
        this.maxTotal = maxTotal;
        this.maxPerSource = maxPerSource;
        this.log = new ThrottledLog(LoggerFactory.getLogger(ConnectionLimiter.class), clock);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        InetAddress source = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
        String limit = admit(source);
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
            release(source);
        }
        ctx.fireChannelInactive();
    }

    /** Null if admitted (and counted), else the name of the limit it is over. */
    private synchronized String admit(InetAddress source) {
        if (total >= maxTotal) {
            return "max-connections";
        }
        int fromSource = perSource.getOrDefault(source, 0);
        if (fromSource >= maxPerSource) {
            return "max-connections-per-source";
        }
        perSource.put(source, fromSource + 1);
        total++;
        return null;
    }

    /**
     * Counts a refusal under the limit it was over and logs it (once per source and minute); returns
     * what the client is told.
     */
    private String refused(InetAddress source, String limit) {
        String from = source.getHostAddress();
        boolean overTotal = limit.equals("max-connections");
        (overTotal ? refusedTotal : refusedPerSource).increment();
        log.warn(limit + " " + from, "refused an HTTP connection from " + from + ": " + (overTotal
                ? "the server has http.max-connections=" + maxTotal + " open"
                : "it has http.max-connections-per-source=" + maxPerSource + " open"));
        return overTotal ? "too many connections (http.max-connections=" + maxTotal + ")"
                : "too many connections from " + from + " (http.max-connections-per-source=" + maxPerSource + ")";
    }

    /** Connections refused so far, by the limit (the setting without its http. prefix) they were over. */
    Map<String, Long> refused() {
        return Map.of("max-connections", refusedTotal.sum(), "max-connections-per-source", refusedPerSource.sum());
    }

    private synchronized void release(InetAddress source) {
        perSource.computeIfPresent(source, (address, n) -> n == 1 ? null : n - 1);
        total--;
    }

    /** Connections open and counted now. */
    synchronized int open() {
        return total;
    }
}
