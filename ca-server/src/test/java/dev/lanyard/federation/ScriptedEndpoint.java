package dev.lanyard.federation;

import dev.lanyard.testing.WebPki;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;

/**
 * A peer's bundle endpoint as the test scripts it, over real TLS (a web certificate for localhost):
 * it serves a good bundle document for its first {@code good} requests of /bundle, then answers 200
 * with a large Content-Length and sends one byte every 200 ms for as long as the client stays (each
 * such answer kept as a window: when it began, and when the client went away); /revocations serves
 * the document set last, or 404 while there is none (as a caching proxy could serve an old one).
 */
final class ScriptedEndpoint implements AutoCloseable {

    /** One trickled answer, in System.nanoTime(); {@code end} is 0 while the client stays. */
    static final class Window {
        final long start = System.nanoTime();
        volatile long end;
    }

    private final SSLServerSocket server;
    private volatile String document;
    private final AtomicInteger good;
    private final List<Window> windows = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile String revocations;
    private final AtomicInteger revocationAnswers = new AtomicInteger();

    ScriptedEndpoint(WebPki web, String document, int good) throws Exception {
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("web", web.keys().getPrivate(), new char[0], new Certificate[] {web.certificate()});
        KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        factory.init(keys, new char[0]);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(factory.getKeyManagers(), null, null);
        this.server = (SSLServerSocket) tls.getServerSocketFactory().createServerSocket(0, 50,
                InetAddress.getLoopbackAddress());
        this.document = document;
        this.good = new AtomicInteger(good);
        Thread accept = new Thread(this::accept, "trickling-peer");
        accept.setDaemon(true);
        accept.start();
    }

    int port() {
        return server.getLocalPort();
    }

    List<Window> windows() {
        return List.copyOf(windows);
    }

    /** What /bundle serves from now on (while it serves good answers). */
    void serveBundle(String document) {
        this.document = document;
    }

    /** What /revocations serves from now on. */
    void serveRevocations(String document) {
        this.revocations = document;
    }

    /** How many /revocations documents were served. */
    int revocationAnswers() {
        return revocationAnswers.get();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                sockets.add(socket);
                Thread serve = new Thread(() -> serve(socket), "trickling-peer-connection");
                serve.setDaemon(true);
                serve.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            while (true) {
                String path = requestPath(in);
                if (path == null) {
                    return;
                }
                String revocationDocument = revocations;
                if (path.equals("/revocations") && revocationDocument != null) {
                    answer(out, revocationDocument);
                    revocationAnswers.incrementAndGet();
                } else if (!path.equals("/bundle")) {
                    out.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } else if (good.getAndDecrement() > 0) {
                    answer(out, document);
                } else {
                    trickle(out);
                    return;
                }
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    private static void answer(OutputStream out, String document) throws IOException {
        byte[] body = document.getBytes(StandardCharsets.UTF_8);
        out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    private void trickle(OutputStream out) {
        Window window = new Window();
        windows.add(window);
        try {
            out.write("HTTP/1.1 200 OK\r\nContent-Length: 900000\r\n\r\n{".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            while (true) {
                Thread.sleep(200);
                out.write(' ');
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            window.end = System.nanoTime();
        }
    }

    /** The path of the next request on the connection (its headers read), null at its end. */
    private static String requestPath(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            head.write(b);
            String text = head.toString(StandardCharsets.US_ASCII);
            if (text.endsWith("\r\n\r\n")) {
                return text.split(" ", 3)[1];
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket socket : sockets) {
            socket.close();
        }
    }
}
