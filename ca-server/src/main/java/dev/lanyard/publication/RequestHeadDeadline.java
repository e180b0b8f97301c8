package dev.lanyard.publication;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The header timeout: a request line and its headers must arrive whole within a fixed time, however
 * slowly the bytes trickle in (an idle timeout alone is reset by every byte, which is what a slow
 * client exploits). Armed when the connection opens and again at the first byte of each next request
 * on a kept-alive connection; cleared when the request head is decoded. Sits before the HTTP codec,
 * where it sees raw bytes; the request handler tells it when a head arrived and when the response is out.
 */
final class RequestHeadDeadline extends ChannelInboundHandlerAdapter {

    private final Duration timeout;
    private ScheduledFuture<?> deadline;
    private boolean waitingForHead = true;

    RequestHeadDeadline(Duration timeout) {
        this.timeout = timeout;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        arm(ctx); // a client that connects and sends nothing is cut off too
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf && waitingForHead && deadline == null) {
            arm(ctx);
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    /** The head of a request was decoded: no deadline while it is answered. */
    void headArrived() {
        waitingForHead = false;
        cancel();
    }

    /** The response is out and the connection stays open: the next head's clock starts at its first byte. */
    void awaitNextHead() {
        waitingForHead = true;
    }

    private void arm(ChannelHandlerContext ctx) {
        deadline = ctx.executor().schedule(() -> expire(ctx), timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void cancel() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }

    private void expire(ChannelHandlerContext ctx) {
        deadline = null;
        if (!waitingForHead || !ctx.channel().isActive()) {
            return;
        }
        FullHttpResponse timedOut = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.REQUEST_TIMEOUT);
        timedOut.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        // through the whole pipeline, so the HTTP encoder writes it; closed at once even if the client
        // does not read (the answer is small enough to reach the socket buffer in the flush)
        ctx.channel().writeAndFlush(timedOut);
        ctx.channel().close();
    }
}
