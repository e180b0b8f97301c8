package dev.lanyard.publication;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers one request at a time per connection (the channel reads nothing while a response is being
 * made, so pipelined or unread requests cannot pile up answers): GET and HEAD of the published
 * documents with a strong ETag, {@code Cache-Control: max-age} and conditional GET. Documents are
 * built on {@code executor}, never on the I/O threads. A request that carries a body, is malformed or
 * over a size bound is answered and its connection closed; so is one that has not arrived whole within
 * the request timeout, an application's body included ({@link RequestDeadline}).
 */
final class PublicationHandler extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(PublicationHandler.class);

    private final Routes routes;
    private final Executor executor;
    private final RequestDeadline deadline;
    /** A read was asked for and no message has come yet. Event loop only. */
    private boolean waiting;
    /** An application request whose body is still arriving, or null. Event loop only. */
    private AppExchange pending;

    PublicationHandler(Routes routes, Executor executor, RequestDeadline deadline) {
        this.routes = routes;
        this.executor = executor;
        this.deadline = deadline;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        readNext(ctx); // the channel reads only when asked: one message at a time
        ctx.fireChannelActive();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // A read that brought only part of a request satisfies the flow control handler's read():
        // ask again until a whole message is there.
        if (waiting) {
            ctx.read();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        waiting = false;
        try {
            if (msg instanceof HttpRequest request) {
                answer(ctx, request);
            } else if (pending != null && msg instanceof HttpContent content) {
                bodyPart(ctx, content);
            } else {
                readNext(ctx); // the (empty) end of a request already answered: on to the next request
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof IdleStateEvent) {
            ctx.close(); // nothing read or written for http.idle-timeout, e.g. a client that does not read
            return;
        }
        ctx.fireUserEventTriggered(event);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("HTTP connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }

    private void answer(ChannelHandlerContext ctx, HttpRequest request) {
        if (request.decoderResult().isFailure()) {
            Throwable cause = request.decoderResult().cause();
            HttpResponseStatus status = cause instanceof TooLongHttpLineException ? HttpResponseStatus.REQUEST_URI_TOO_LONG
                    : cause instanceof TooLongHttpHeaderException ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                    : HttpResponseStatus.BAD_REQUEST;
            refuse(ctx, status, cause instanceof TooLongFrameException ? cause.getMessage() : "malformed request");
            return;
        }
        boolean head = request.method().equals(HttpMethod.HEAD);
        boolean readable = head || request.method().equals(HttpMethod.GET);
        boolean hasBody;
        String path;
        try {
            hasBody = HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) != 0;
            // origin form ("/bundle?x") or absolute form ("http://host/bundle"), percent-decoded
            path = Objects.requireNonNullElse(new URI(request.uri()).getPath(), "");
        } catch (IllegalArgumentException | URISyntaxException e) { // a Content-Length or URI that does not parse
            refuse(ctx, HttpResponseStatus.BAD_REQUEST, "malformed request");
            return;
        }
        WebApp app = routes.app(path);
        if (app != null) {
            startApp(ctx, request, app, path);
            return;
        }
        deadline.requestRead(); // publication answers from the head alone
        // A body is never read: answering and closing is cheaper than draining it.
        boolean keepAlive = HttpUtil.isKeepAlive(request) && !hasBody;
        Supplier<HttpPublisher.Document> route = routes.find(path,
                ((java.net.InetSocketAddress) ctx.channel().remoteAddress()).getAddress());
        if (route == null) {
            send(ctx, text(HttpResponseStatus.NOT_FOUND, "not found", !head), keepAlive);
        } else if (!readable) {
            FullHttpResponse refused = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "method not allowed", true);
            refused.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
            send(ctx, refused, keepAlive);
        } else if (hasBody) {
            refuse(ctx, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "publication takes no request body");
        } else {
            String ifNoneMatch = request.headers().get(HttpHeaderNames.IF_NONE_MATCH);
            try {
                executor.execute(() -> send(ctx, document(route, ifNoneMatch, head), keepAlive));
            } catch (RejectedExecutionException e) {
                send(ctx, text(HttpResponseStatus.SERVICE_UNAVAILABLE, "shutting down", !head), false);
            }
        }
    }

    /**
     * An application request: its body (if any) is collected, within a bound and the request timeout,
     * before it runs.
     */
    private void startApp(ChannelHandlerContext ctx, HttpRequest request, WebApp app, String path) {
        if (HttpUtil.getContentLength(request, 0L) > AppExchange.MAX_BODY_BYTES) {
            refuse(ctx, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large");
            return;
        }
        pending = new AppExchange(app, request, path, (java.net.InetSocketAddress) ctx.channel().remoteAddress());
        readNext(ctx);
    }

    private void bodyPart(ChannelHandlerContext ctx, HttpContent content) {
        AppExchange exchange = pending;
        if (!exchange.append(content.content())) {
            pending = null;
            refuse(ctx, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large");
            return;
        }
        if (!(content instanceof LastHttpContent)) {
            readNext(ctx);
            return;
        }
        pending = null;
        deadline.requestRead(); // the whole body is in: the app's own time is not the client's
        try {
            executor.execute(() -> send(ctx, exchange.run(), exchange.keepAlive()));
        } catch (RejectedExecutionException e) {
            send(ctx, text(HttpResponseStatus.SERVICE_UNAVAILABLE, "shutting down", true), false);
        }
    }

    private static FullHttpResponse document(Supplier<HttpPublisher.Document> route, String ifNoneMatch, boolean head) {
        HttpPublisher.Document document;
        try {
            document = route.get();
        } catch (RuntimeException e) {
            LOG.error("building a published document failed", e);
            return text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error", !head);
        }
        if (document == null) {
            return text(HttpResponseStatus.NOT_FOUND, "not found", !head);
        }
        String etag = etag(document.body());
        FullHttpResponse response;
        if (etag.equals(ifNoneMatch)) {
            response = new DefaultFullHttpResponse(io.netty.handler.codec.http.HttpVersion.HTTP_1_1,
                    HttpResponseStatus.NOT_MODIFIED);
        } else {
            response = new DefaultFullHttpResponse(io.netty.handler.codec.http.HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                    head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(document.body()));
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, document.contentType())
                    .set("X-Content-Type-Options", "nosniff")
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, document.body().length);
        }
        response.headers().set(HttpHeaderNames.ETAG, etag)
                .set(HttpHeaderNames.CACHE_CONTROL, "max-age=" + document.maxAge().toSeconds());
        return response;
    }

    static FullHttpResponse text(HttpResponseStatus status, String message, boolean withBody) {
        byte[] body = (message + "\n").getBytes(StandardCharsets.US_ASCII);
        FullHttpResponse response = new DefaultFullHttpResponse(io.netty.handler.codec.http.HttpVersion.HTTP_1_1, status,
                withBody ? Unpooled.wrappedBuffer(body) : Unpooled.EMPTY_BUFFER);
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain")
                .set("X-Content-Type-Options", "nosniff")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        return response;
    }

    /** Answers and closes: nothing more of this request is read. */
    private void refuse(ChannelHandlerContext ctx, HttpResponseStatus status, String reason) {
        deadline.requestRead();
        send(ctx, text(status, reason, true), false);
    }

    /** Writes the answer; then reads the next request, or closes. */
    private void send(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive) {
        HttpHeaders headers = response.headers();
        if (!keepAlive) {
            headers.set(HttpHeaderNames.CONNECTION, "close");
        }
        ChannelFuture written = ctx.writeAndFlush(response);
        written.addListener(f -> {
            if (!f.isSuccess() || !keepAlive) {
                ctx.close();
                return;
            }
            deadline.awaitNextRequest();
            readNext(ctx);
        });
    }

    private void readNext(ChannelHandlerContext ctx) {
        waiting = true;
        ctx.read();
    }

    private static String etag(byte[] body) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(body);
            return "\"" + HexFormat.of().formatHex(hash, 0, 16) + "\"";
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }
}
