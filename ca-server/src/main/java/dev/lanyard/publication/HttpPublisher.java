package dev.lanyard.publication;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The HTTP(S) publication endpoints (trust bundle, JWKS, CRLs, metrics) on Netty: GET and HEAD only, a
 * strong ETag over the body, {@code Cache-Control: max-age} and conditional GET, within
 * {@link HttpLimits}. A slow or idle client costs a socket and a few small objects, never a thread.
 *
 * <p>The port is bound by the constructor (so {@link #port()} is known, also with port 0), but no
 * connection is accepted before {@link #start()}.
 */
public final class HttpPublisher implements AutoCloseable {

    /**
     * A published document: its media type, its bytes, and how long caches may keep it; {@code status} is
     * 200, or an error a probe reads (503 from /readyz), which is never cached.
     */
    public record Document(String contentType, byte[] body, Duration maxAge, int status) {

        public Document(String contentType, byte[] body, Duration maxAge) {
            this(contentType, body, maxAge, 200);
        }
    }

    private final HttpLimits limits;
    private final ExecutorService documents;
    private final ConnectionLimiter limiter;
    private final EventLoopGroup acceptor;
    private final EventLoopGroup io;
    private final ChannelGroup open = new DefaultChannelGroup("lanyard-http", GlobalEventExecutor.INSTANCE);
    private final Channel server;
    private final Map<String, Supplier<Document>> exact = new LinkedHashMap<>();
    private final Map<String, Predicate<InetAddress>> audiences = new LinkedHashMap<>();
    private final Map<String, Function<String, Optional<Document>>> prefixes = new LinkedHashMap<>();
    private final Map<String, WebApp> apps = new LinkedHashMap<>();
    private volatile Routes routes;
    private volatile SslContext tls;

    /**
     * @param documents builds the documents (the suppliers run there); owned by the caller
     * @param clock     times the once-a-minute log of refused connections
     */
    public HttpPublisher(String host, int port, HttpLimits limits, ExecutorService documents, Clock clock)
            throws IOException {
        this.limits = limits;
        this.documents = documents;
        this.limiter = new ConnectionLimiter(limits.maxConnections(), limits.maxConnectionsPerSource(), clock);
        this.acceptor = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("lanyard-http-accept", true),
                NioIoHandler.newFactory());
        this.io = new MultiThreadIoEventLoopGroup(2, new DefaultThreadFactory("lanyard-http-io", true),
                NioIoHandler.newFactory());
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(acceptor, io)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 128)
                .option(ChannelOption.AUTO_READ, false) // accept nothing before start()
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.AUTO_READ, false) // each connection reads only when asked
                .childOption(ChannelOption.MAX_MESSAGES_PER_READ, 1)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(64, 1024, 16 * 1024))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        pipeline(channel);
                    }
                });
        ChannelFuture bound = bootstrap.bind(new InetSocketAddress(host, port)).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            shutdownGroups();
            Throwable cause = bound.cause();
            // keep the exception's type (BindException: the port is taken) and name the address
            BindException named = new BindException("cannot bind HTTP to " + host + ":" + port + ": " + cause.getMessage());
            named.initCause(cause);
            throw named;
        }
        this.server = bound.channel();
    }

    /**
     * Documents under a path prefix, e.g. "/crl/" for "/crl/{issuer}": {@code documents} gets the rest
     * of the path and answers empty for "not found". Added before {@link #start()}.
     */
    public HttpPublisher routePrefix(String prefix, Function<String, Optional<Document>> documents) {
        prefixes.put(prefix, documents);
        return this;
    }

    /** Routes must be added before {@link #start()}. */
    public HttpPublisher route(String path, Supplier<Document> document) {
        return route(path, client -> true, document);
    }

    /**
     * A document only clients whose address {@code audience} accepts may read: to the others the path is
     * absent (404), and no prefix route answers it either. Added before {@link #start()}.
     */
    public HttpPublisher route(String path, Predicate<InetAddress> audience, Supplier<Document> document) {
        exact.put(path, document);
        audiences.put(path, audience);
        return this;
    }

    /**
     * An application under a path prefix (e.g. "/console"): GET, HEAD and POST, with a form body of
     * at most 16 KiB. Added before {@link #start()}.
     */
    public HttpPublisher application(String prefix, WebApp app) {
        apps.put(prefix, app);
        return this;
    }

    /** Serves TLS with {@code context} (HTTPS); without this call, plain HTTP. Set before {@link #start()}. */
    public HttpPublisher tls(SslContext context) {
        this.tls = context;
        return this;
    }

    /** Fixes the routes and starts accepting connections. */
    public void start() {
        routes = new Routes(exact, audiences, prefixes, apps);
        server.config().setAutoRead(true);
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** Connections open now (within the caps). */
    public int openConnections() {
        return limiter.open();
    }

    /** Connections refused so far, by the limit (the setting without its http. prefix) they were over. */
    public Map<String, Long> refusedConnections() {
        return limiter.refused();
    }

    private void pipeline(SocketChannel channel) {
        open.add(channel);
        RequestDeadline deadline = new RequestDeadline(limits.headerTimeout());
        channel.pipeline()
                .addLast("limit", limiter)
                .addLast("idle", new IdleStateHandler(0, 0, limits.idleTimeout().toMillis(), TimeUnit.MILLISECONDS));
        SslContext context = tls;
        if (context != null) {
            // Before the request deadline, which then sees plaintext and, armed at connection open, also
            // bounds a handshake that trickles in; the handler's own timeout says the same.
            SslHandler ssl = context.newHandler(channel.alloc());
            ssl.setHandshakeTimeoutMillis(limits.headerTimeout().toMillis());
            channel.pipeline().addLast("tls", ssl);
        }
        channel.pipeline()
                .addLast("request-deadline", deadline)
                .addLast("http", new HttpServerCodec(new HttpDecoderConfig()
                        .setMaxInitialLineLength(limits.maxRequestLineBytes())
                        .setMaxHeaderSize(limits.maxHeaderBytes())
                        .setMaxChunkSize(8192)))
                .addLast("one-at-a-time", new FlowControlHandler())
                .addLast("publish", new PublicationHandler(routes, documents, deadline));
    }

    @Override
    public void close() {
        server.close().awaitUninterruptibly();
        open.close().awaitUninterruptibly();
        shutdownGroups();
    }

    private void shutdownGroups() {
        acceptor.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        io.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
