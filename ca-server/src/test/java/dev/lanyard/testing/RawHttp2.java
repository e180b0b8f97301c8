package dev.lanyard.testing;

import dev.lanyard.server.LanyardServer;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * Just enough HTTP/2, over real TLS, to do what a gRPC library will not: start gRPC calls, send their
 * messages in parts, reset streams, and see how each stream and the connection end.
 */
public final class RawHttp2 implements AutoCloseable {
    private final SSLSocket socket;
    private final OutputStream out;
    private final BlockingQueue<String> outcomes = new LinkedBlockingQueue<>();
    private final Thread reader;
    private final java.util.concurrent.CountDownLatch window = new java.util.concurrent.CountDownLatch(1);
    private final CompletableFuture<Integer> goAway = new CompletableFuture<>();

    private RawHttp2(SSLSocket socket) throws IOException, InterruptedException {
        this.socket = socket;
        this.out = socket.getOutputStream();
        out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        frame(0x4, 0, 0, new byte[0]); // SETTINGS, none changed
        out.flush();
        this.reader = new Thread(this::read, "http2-reader");
        reader.setDaemon(true);
        reader.start();
        if (!window.await(30, TimeUnit.SECONDS)) { // the server widens the connection's window to 1 MiB
            throw new IOException("no WINDOW_UPDATE from the server");
        }
    }

    /** A connection to {@code server}'s gRPC port from the loopback address {@code source} (127.0.0.x). */
    public static RawHttp2 connect(LanyardServer server, String source)
            throws IOException, GeneralSecurityException, InterruptedException {
        return connect(server, source, null);
    }

    /** Likewise, presenting {@code client}'s certificate if not null. */
    public static RawHttp2 connect(LanyardServer server, String source, dev.lanyard.credential.Credential client)
            throws IOException, GeneralSecurityException, InterruptedException {
        KeyStore roots = KeyStore.getInstance("PKCS12");
        roots.load(null, null);
        int i = 0;
        for (X509Certificate root : server.trustBundle()) {
            roots.setCertificateEntry("root-" + i++, root);
        }
        TrustManagerFactory trust = TrustManagerFactory.getInstance("PKIX");
        trust.init(roots);
        SSLContext tls = SSLContext.getInstance("TLSv1.3");
        tls.init(client == null ? null : new javax.net.ssl.KeyManager[] {new dev.lanyard.server.ReloadingKeyManager(client)},
                trust.getTrustManagers(), null);
        SSLSocket socket = (SSLSocket) tls.getSocketFactory().createSocket(InetAddress.getByName("127.0.0.1"),
                server.grpcPort(), InetAddress.getByName(source), 0);
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setApplicationProtocols(new String[] {"h2"});
        socket.setSSLParameters(parameters);
        socket.startHandshake();
        return new RawHttp2(socket);
    }

    /** Opens stream {@code id} and sends the message header declaring {@code size} bytes, then {@code sent} of them. */
    public void startMessage(String path, int id, int size, int sent) throws IOException {
        synchronized (this) {
            frame(0x1, 0x4, id, headers(path)); // HEADERS, END_HEADERS
            // the message: an unknown field 1000 (GetTrustBundleRequest has no fields to fill)
            ByteArrayOutputStream message = new ByteArrayOutputStream();
            message.write(0);
            message.write(new byte[] {(byte) (size >>> 24), (byte) (size >>> 16), (byte) (size >>> 8), (byte) size});
            message.write(new byte[] {(byte) 0xC2, 0x3E}); // field 1000, length-delimited
            int length = size - 2 - varintSize(size - 2 - 3);
            varint(message, length);
            data(id, message.toByteArray(), false);
            sendZeros(id, sent - (size - length), false);
        }
    }

    /**
     * Opens {@code count} streams from {@code firstId} on, each calling {@code path} and reset (CANCEL) at
     * once, as a "rapid reset" client does; all in one write, so the server reads them together.
     */
    public synchronized void startAndReset(String path, int firstId, int count) throws IOException {
        ByteArrayOutputStream frames = new ByteArrayOutputStream();
        byte[] headers = headers(path);
        for (int id = firstId; id < firstId + 2 * count; id += 2) {
            frames.write(header(headers.length, 0x1, 0x4, id));
            frames.write(headers);
            frames.write(header(4, 0x3, 0, id));
            frames.write(new byte[] {0, 0, 0, 0x8});
        }
        out.write(frames.toByteArray());
        out.flush();
    }

    /** Resets (CANCEL) stream {@code id}, as a client cancelling its call does. */
    public void reset(int id) throws IOException {
        frame(0x3, 0, id, new byte[] {0, 0, 0, 0x8});
    }

    /** The error code of the GOAWAY the server sent, once it sent one. */
    public CompletableFuture<Integer> goAway() {
        return goAway;
    }

    private static byte[] header(int length, int type, int flags, int stream) {
        return new byte[] {(byte) (length >>> 16), (byte) (length >>> 8), (byte) length, (byte) type, (byte) flags,
                (byte) (stream >>> 24), (byte) (stream >>> 16), (byte) (stream >>> 8), (byte) stream};
    }

    private static byte[] headers(String path) {
        ByteArrayOutputStream headers = new ByteArrayOutputStream();
        for (String[] h : new String[][] {{":method", "POST"}, {":scheme", "https"}, {":path", path},
                {":authority", "localhost"}, {"content-type", "application/grpc"}, {"te", "trailers"}}) {
            headers.write(0); // literal without indexing, new name
            literal(headers, h[0]);
            literal(headers, h[1]);
        }
        return headers.toByteArray();
    }

    /** Sends the last {@code rest} bytes of stream {@code id}'s message and ends the stream. */
    public synchronized void finishMessage(int id, int rest) throws IOException {
        sendZeros(id, rest, true);
    }

    /** "served" (a response message came), or "refused" (the stream ended without one). */
    public String outcome(int id) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String next = outcomes.poll(1, TimeUnit.SECONDS);
            if (next != null && next.startsWith(id + " ")) {
                return next.substring(next.indexOf(' ') + 1);
            }
        }
        return "no answer";
    }

    private void sendZeros(int id, int count, boolean end) throws IOException {
        byte[] chunk = new byte[16_384];
        if (count == 0 && end) {
            data(id, new byte[0], true);
        }
        while (count > 0) {
            int n = Math.min(count, chunk.length);
            count -= n;
            data(id, java.util.Arrays.copyOf(chunk, n), end && count == 0);
        }
        out.flush();
    }

    private void data(int id, byte[] payload, boolean end) throws IOException {
        frame(0x0, end ? 0x1 : 0, id, payload);
    }

    private synchronized void frame(int type, int flags, int stream, byte[] payload) throws IOException {
        out.write(header(payload.length, type, flags, stream));
        out.write(payload);
        out.flush();
    }

    private void read() {
        java.util.Set<Integer> answered = new java.util.HashSet<>();
        try {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            while (true) {
                int length = (in.readUnsignedByte() << 16) | in.readUnsignedShort();
                int type = in.readUnsignedByte();
                int flags = in.readUnsignedByte();
                int stream = in.readInt() & 0x7fffffff;
                byte[] payload = in.readNBytes(length);
                if (type == 0x7) {
                    goAway.complete(((payload[4] & 0xff) << 24) | ((payload[5] & 0xff) << 16)
                            | ((payload[6] & 0xff) << 8) | (payload[7] & 0xff));
                } else if (type == 0x8 && stream == 0) {
                    window.countDown();
                } else if (type == 0x4 && (flags & 0x1) == 0) {
                    frame(0x4, 0x1, 0, new byte[0]); // SETTINGS ACK
                } else if (type == 0x6 && (flags & 0x1) == 0) {
                    frame(0x6, 0x1, 0, payload); // PING ACK
                } else if (type == 0x0 && stream != 0 && answered.add(stream)) {
                    outcomes.add(stream + " served");
                } else if (((type == 0x1 && (flags & 0x1) != 0) || type == 0x3) && answered.add(stream)) {
                    outcomes.add(stream + " refused"); // trailers only, or RST_STREAM, before any message
                }
            }
        } catch (IOException closed) {
            // the test is over, or the server closed the connection: outcome() says "no answer"
            goAway.completeExceptionally(closed);
        }
    }

    private static void literal(ByteArrayOutputStream out, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.US_ASCII);
        out.write(bytes.length); // all shorter than 127, no Huffman
        out.writeBytes(bytes);
    }

    private static void varint(ByteArrayOutputStream out, int value) {
        while ((value & ~0x7f) != 0) {
            out.write((value & 0x7f) | 0x80);
            value >>>= 7;
        }
        out.write(value);
    }

    private static int varintSize(int value) {
        return value < 1 << 7 ? 1 : value < 1 << 14 ? 2 : value < 1 << 21 ? 3 : 4;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
