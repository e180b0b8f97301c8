package dev.lanyard.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The HTTP publication endpoints (trust bundle, JWKS, CRLs, metrics): GET and
 * HEAD only, a strong ETag over the body, {@code Cache-Control: max-age} and conditional GET.
 */
public final class HttpPublisher implements AutoCloseable {

    /** A published document: its media type, its bytes, and how long caches may keep it. */
    public record Document(String contentType, byte[] body, Duration maxAge) {
    }

    private final HttpServer server;
    private final Map<String, Supplier<Document>> routes = new LinkedHashMap<>();
    private final Map<String, Function<String, Optional<Document>>> prefixes = new LinkedHashMap<>();

    public HttpPublisher(String host, int port, ExecutorService executor) throws IOException {
        // Headers and body go out as separate writes; without TCP_NODELAY every keep-alive response
        // waits ~40 ms for the peer's delayed ACK. The JDK server reads this once, at first use.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        server = HttpServer.create(new InetSocketAddress(host, port), 128);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
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
        routes.put(path, document);
        return this;
    }

    public void start() {
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            Supplier<Document> route = find(exchange.getRequestURI().getPath());
            if (route == null) {
                send(exchange, 404, "text/plain", "not found\n".getBytes(StandardCharsets.US_ASCII), !method.equals("HEAD"));
                return;
            }
            if (!method.equals("GET") && !method.equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                send(exchange, 405, "text/plain", "method not allowed\n".getBytes(StandardCharsets.US_ASCII), true);
                return;
            }
            Document document = route.get();
            if (document == null) {
                send(exchange, 404, "text/plain", "not found\n".getBytes(StandardCharsets.US_ASCII), !method.equals("HEAD"));
                return;
            }
            String etag = etag(document.body());
            exchange.getResponseHeaders().set("ETag", etag);
            exchange.getResponseHeaders().set("Cache-Control", "max-age=" + document.maxAge().toSeconds());
            if (etag.equals(exchange.getRequestHeaders().getFirst("If-None-Match"))) {
                exchange.sendResponseHeaders(304, -1);
                return;
            }
            send(exchange, 200, document.contentType(), document.body(), method.equals("GET"));
        }
    }

    /** The exact route, else a prefix route (whose document may be null: not found), else null. */
    private Supplier<Document> find(String path) {
        Supplier<Document> exact = routes.get(path);
        if (exact != null) {
            return exact;
        }
        for (Map.Entry<String, Function<String, Optional<Document>>> prefix : prefixes.entrySet()) {
            if (path.startsWith(prefix.getKey())) {
                String rest = path.substring(prefix.getKey().length());
                return () -> prefix.getValue().apply(rest).orElse(null);
            }
        }
        return null;
    }

    private static void send(HttpExchange exchange, int status, String contentType, byte[] body, boolean withBody)
            throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        if (!withBody) {
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    private static String etag(byte[] body) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(body);
            return "\"" + HexFormat.of().formatHex(hash, 0, 16) + "\"";
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
