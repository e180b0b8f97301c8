package dev.lanyard.server;

import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.IoHandlerFactory;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The gRPC port's listening socket and event loops, made here rather than by grpc-java so that a
 * handler of ours ({@link GrpcConnectionCap}) sees every accepted connection first: the socket's own
 * pipeline gets it before grpc-java's acceptor does. Epoll where the platform has it (as grpc-java's
 * default), else NIO. Closed after the gRPC server has terminated.
 */
final class GrpcTransport implements AutoCloseable {

    /**
     * grpc-java logs a warning with a stack trace for every request message it refuses (too large, over
     * {@link dev.lanyard.rpc.InboundBudget}'s bounds, malformed): a line per message, which any
     * caller could turn into a flood. The client gets the status; our own refusals are logged once per
     * source and minute. Held here so the level stays set (java.util.logging keeps loggers weakly).
     */
    private static final java.util.logging.Logger REFUSED_MESSAGES = java.util.logging.Logger.getLogger(
            "io.grpc.netty.shaded.io.grpc.netty.NettyServerStream");

    static {
        REFUSED_MESSAGES.setLevel(java.util.logging.Level.SEVERE);
    }

    private final EventLoopGroup accept;
    private final EventLoopGroup io;
    private final Supplier<ServerChannel> socket;
    private final ChannelHandler first;

    GrpcTransport(ChannelHandler first) {
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory handlers = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.accept = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("lanyard-grpc-accept", true), handlers);
        this.io = new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory("lanyard-grpc-io", true), handlers);
        this.socket = epoll ? EpollServerSocketChannel::new : NioServerSocketChannel::new;
        this.first = first;
    }

    NettyServerBuilder applyTo(NettyServerBuilder builder) {
        return builder.bossEventLoopGroup(accept).workerEventLoopGroup(io).channelFactory(() -> {
            ServerChannel channel = socket.get();
            channel.pipeline().addLast("lanyard-connection-cap", first); // before grpc-java's acceptor
            return channel;
        });
    }

    @Override
    public void close() {
        accept.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        io.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
