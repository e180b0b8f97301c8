package dev.lanyard.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.testing.LogCapture;
import dev.lanyard.testing.RunningServer;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests to methods open without a certificate, sent as a client that wants to hold the server's
 * memory would: over real TLS, raw HTTP/2 frames, each message declared whole but sent without its
 * last bytes. gRPC keeps such a message's bytes until it is whole; the budget bounds them.
 */
class AnonymousInboundBudgetTest {

    static final String BUNDLE = "/lanyard.v1.TrustBundleService/GetTrustBundle";
    static final int MESSAGE = 60_000; // declared size of each message: under the per-message bound
    static final int PART = 50_000; // what is sent of it before the test decides

    @TempDir
    Path dir;
    RunningServer lanyard;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir, Map.of("grpc.max-anonymous-message-bytes", "65536",
                "grpc.max-anonymous-inbound-bytes-per-source", "131072", "grpc.max-anonymous-inbound-bytes", "196608"));
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void partlySentMessagesHoldAtMostTheBudgetPerSourceAndInAll() throws Exception {
        java.util.List<String> grpcWarnings = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Logger julRoot = java.util.logging.Logger.getLogger("");
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord record) {
                if (record.getLoggerName() != null && record.getLoggerName().startsWith("io.grpc")) {
                    grpcWarnings.add(record.getLoggerName() + " " + record.getMessage());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        julRoot.addHandler(capture);
        try (LogCapture logs = new LogCapture(); Http2 a = connect("127.0.0.1"); Http2 b = connect("127.0.0.2")) {
            a.startMessage(1, MESSAGE, PART);
            a.startMessage(3, MESSAGE, PART);
            awaitHeld(2 * PART);
            a.startMessage(5, MESSAGE, PART); // 150,000 bytes held from one address: over 131,072
            assertThat(a.outcome(5)).isEqualTo("refused");

            a.finishMessage(1, MESSAGE - PART); // a whole message is answered, and frees what it held
            assertThat(a.outcome(1)).isEqualTo("served");
            a.startMessage(7, MESSAGE, PART);
            a.finishMessage(7, MESSAGE - PART);
            assertThat(a.outcome(7)).isEqualTo("served");
            awaitHeld(PART); // stream 3's

            b.startMessage(1, MESSAGE, PART); // another address: 100,000 held in all now
            b.startMessage(3, MESSAGE, PART); // 150,000 ...
            awaitHeld(3 * PART);
            a.startMessage(9, MESSAGE, PART); // ... 200,000: over 196,608 in all
            assertThat(a.outcome(9)).isEqualTo("refused");
            b.finishMessage(1, MESSAGE - PART);
            assertThat(b.outcome(1)).isEqualTo("served");

            String metrics = scrape();
            assertThat(metrics).contains("lanyard_grpc_refused_total{limit=\"max-anonymous-inbound-bytes-per-source\"} 1.0")
                    .contains("lanyard_grpc_refused_total{limit=\"max-anonymous-inbound-bytes\"} 1.0");
            assertThat(logs.lines()).filteredOn(l -> l.contains("refused a request to lanyard.v1.TrustBundleService"))
                    .hasSize(2).anySatisfy(l -> assertThat(l).contains("from 127.0.0.1")
                            .contains("grpc.max-anonymous-inbound-bytes-per-source=131072"));
            assertThat(grpcWarnings).as("grpc-java's own line per refused message (java.util.logging) is not logged")
                    .isEmpty();
        } finally {
            julRoot.removeHandler(capture);
        }
    }

    @Test
    void aMessageOverTheAnonymousBoundIsRefusedBeforeItIsWhole() throws Exception {
        try (Http2 a = connect("127.0.0.1")) {
            a.startMessage(1, 1_000_000, 70_000); // under grpc.max-message-bytes, over 65,536
            assertThat(a.outcome(1)).isEqualTo("refused");
            a.startMessage(3, MESSAGE, PART);
            a.finishMessage(3, MESSAGE - PART);
            assertThat(a.outcome(3)).as("the refused message holds nothing").isEqualTo("served");
        }
        assertThat(scrape()).contains("lanyard_grpc_refused_total{limit=\"max-anonymous-message-bytes\"} 1.0");
    }

    /** Waits until the messages still arriving hold {@code bytes} (the server has read what was sent). */
    private void awaitHeld(long bytes) throws Exception {
        String series = "lanyard_grpc_anonymous_inbound_bytes " + (double) bytes;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!scrape().lines().anyMatch(series::equals)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + series + " in /metrics");
            }
            Thread.sleep(20);
        }
    }

    private String scrape() throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(lanyard.httpUrl("/metrics"))).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    private Http2 connect(String source) throws Exception {
        KeyStore roots = KeyStore.getInstance("PKCS12");
        roots.load(null, null);
        int i = 0;
        for (X509Certificate root : lanyard.server().trustBundle()) {
            roots.setCertificateEntry("root-" + i++, root);
        }
        TrustManagerFactory trust = TrustManagerFactory.getInstance("PKIX");
        trust.init(roots);
        SSLContext tls = SSLContext.getInstance("TLSv1.3");
        tls.init(null, trust.getTrustManagers(), null);
        SSLSocket socket = (SSLSocket) tls.getSocketFactory().createSocket(InetAddress.getByName("127.0.0.1"),
                lanyard.server().grpcPort(), InetAddress.getByName(source), 0);
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setApplicationProtocols(new String[] {"h2"});
        socket.setSSLParameters(parameters);
        socket.startHandshake();
        return new Http2(socket);
    }

    /** Just enough HTTP/2 to start gRPC calls, send their messages in parts and see how they end. */
    static final class Http2 implements AutoCloseable {
        private final SSLSocket socket;
        private final OutputStream out;
        private final BlockingQueue<String> outcomes = new LinkedBlockingQueue<>();
        private final Thread reader;
        private final java.util.concurrent.CountDownLatch window = new java.util.concurrent.CountDownLatch(1);

        Http2(SSLSocket socket) throws IOException, InterruptedException {
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

        /** Opens stream {@code id} and sends the message header declaring {@code size} bytes, then {@code sent} of them. */
        void startMessage(int id, int size, int sent) throws IOException {
            ByteArrayOutputStream headers = new ByteArrayOutputStream();
            for (String[] h : new String[][] {{":method", "POST"}, {":scheme", "https"}, {":path", BUNDLE},
                    {":authority", "localhost"}, {"content-type", "application/grpc"}, {"te", "trailers"}}) {
                headers.write(0); // literal without indexing, new name
                literal(headers, h[0]);
                literal(headers, h[1]);
            }
            synchronized (this) {
                frame(0x1, 0x4, id, headers.toByteArray()); // HEADERS, END_HEADERS
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

        /** Sends the last {@code rest} bytes of stream {@code id}'s message and ends the stream. */
        synchronized void finishMessage(int id, int rest) throws IOException {
            sendZeros(id, rest, true);
        }

        /** "served" (a response message came), or "refused" (the stream ended without one). */
        String outcome(int id) throws InterruptedException {
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
            out.write(new byte[] {(byte) (payload.length >>> 16), (byte) (payload.length >>> 8), (byte) payload.length,
                    (byte) type, (byte) flags, (byte) (stream >>> 24), (byte) (stream >>> 16), (byte) (stream >>> 8),
                    (byte) stream});
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
                    if (type == 0x8 && stream == 0) {
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
}
