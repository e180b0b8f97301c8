package dev.lanyard.publication;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One request to a {@link WebApp}: its head, its body as it arrives (bounded), then the app's answer. */
final class AppExchange {

    static final int MAX_BODY_BYTES = 16 * 1024;
    private static final Logger LOG = LoggerFactory.getLogger(AppExchange.class);

    private final WebApp app;
    private final String method;
    private final String path;
    private final String query;
    private final Map<String, String> headers = new HashMap<>();
    private final InetSocketAddress remote;
    private final boolean keepAlive;
    private final ByteArrayOutputStream body = new ByteArrayOutputStream();

    AppExchange(WebApp app, HttpRequest request, String path, InetSocketAddress remote) {
        this.app = app;
        this.method = request.method().name();
        this.path = path;
        this.query = Objects.requireNonNullElse(URI.create(request.uri()).getRawQuery(), "");
        request.headers().forEach(h -> headers.merge(h.getKey().toLowerCase(Locale.ROOT), h.getValue(),
                (a, b) -> a + "; " + b)); // repeated Cookie headers join as one
        this.remote = remote;
        this.keepAlive = HttpUtil.isKeepAlive(request);
    }

    /** False once the body is over its bound. */
    boolean append(ByteBuf part) {
        if (body.size() + part.readableBytes() > MAX_BODY_BYTES) {
            return false;
        }
        byte[] bytes = new byte[part.readableBytes()];
        part.readBytes(bytes);
        body.writeBytes(bytes);
        return true;
    }

    boolean keepAlive() {
        return keepAlive;
    }

    FullHttpResponse run() {
        WebApp.Response answer;
        try {
            answer = app.handle(new WebApp.Request(method, path, query, headers, body.toByteArray(), remote));
        } catch (RuntimeException e) {
            LOG.error("{} {} failed", method, path, e);
            return PublicationHandler.text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error", true);
        }
        boolean head = method.equals("HEAD");
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(answer.status()),
                head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(answer.body()));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, answer.contentType())
                .setInt(HttpHeaderNames.CONTENT_LENGTH, answer.body().length)
                .set("X-Content-Type-Options", "nosniff");
        answer.headers().forEach(h -> response.headers().add(h.getKey(), h.getValue()));
        return response;
    }
}
