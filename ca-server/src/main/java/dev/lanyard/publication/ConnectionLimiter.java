package dev.lanyard.publication;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Caps open connections in total and per source address. A connection over a cap gets a 503 at
 * once and is closed before anything is read from it, so a flood from one address cannot take the
 * slots other clients need. First in every connection's pipeline; one instance serves them all.
 */
@ChannelHandler.Sharable
final class ConnectionLimiter extends ChannelInboundHandlerAdapter {

    private static final AttributeKey<InetAddress> COUNTED = AttributeKey.valueOf("lanyard.http.counted-source");

    private final int maxTotal;
    private final int maxPerSource;
    private final Map<InetAddress, Integer> perSource = new HashMap<>();
    private int total;

    ConnectionLimiter(int maxTotal, int maxPerSource) {
        this.maxTotal = maxTotal;
        this.maxPerSource = maxPerSource;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        InetAddress source = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
        String refusal = admit(source);
        if (refusal != null) {
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

    /** Null if admitted (and counted), else why not. */
    private synchronized String admit(InetAddress source) {
        if (total >= maxTotal) {
            return "too many connections (http.max-connections=" + maxTotal + ")";
        }
        int fromSource = perSource.getOrDefault(source, 0);
        if (fromSource >= maxPerSource) {
            return "too many connections from " + source.getHostAddress()
                    + " (http.max-connections-per-source=" + maxPerSource + ")";
        }
        perSource.put(source, fromSource + 1);
        total++;
        return null;
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
