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
 * The request timeout: a request (its line, headers and any body it is read with) must arrive whole
 * within a fixed time, however slowly the bytes trickle in (an idle timeout alone is reset by every
 * byte, which is what a slow client exploits, in the head or in a body). Armed when the connection
 * opens and again at the first byte of each next request on a kept-alive connection; cleared when
 * the request handler has read all it will read of the request. Sits before the HTTP codec, where it
 * sees raw bytes; the request handler tells it when a request is read and when the response is out.
 */
final class RequestDeadline extends ChannelInboundHandlerAdapter {

    private final Duration timeout;
    private ScheduledFuture<?> deadline;
    private boolean waitingForRequest = true;

    RequestDeadline(Duration timeout) {
        this.timeout = timeout;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        arm(ctx); // a client that connects and sends nothing is cut off too
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf && waitingForRequest && deadline == null) {
            arm(ctx);
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    /**
     * The request is read: its head, and its body if it is read at all (one that is not is refused and
     * the connection closed). No deadline while it is answered.
     */
    void requestRead() {
        waitingForRequest = false;
        cancel();
    }

    /** The response is out and the connection stays open: the next request's clock starts at its first byte. */
    void awaitNextRequest() {
        waitingForRequest = true;
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
        if (!waitingForRequest || !ctx.channel().isActive()) {
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
