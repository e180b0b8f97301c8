package dev.lanyard.publication;

import java.time.Duration;

/**
 * What one client may take of the HTTP publication port. Publication is GET-only, so it reads no
 * request body: a request that announces one is refused and its connection closed. An application on
 * the port (the console) reads a body of at most 16 KiB.
 *
 * @param headerTimeout           a request must arrive whole, its line, headers and any body read,
 *                                within this time of its first byte (of the connection opening, for
 *                                the first request); beyond it 408 and the connection closed
 * @param idleTimeout             a connection with nothing read or written for this long is closed,
 *                                which also ends a client that does not read its response
 * @param maxConnections          open connections in total; beyond it a new one gets 503 and is closed
 * @param maxConnectionsPerSource open connections from one IP address; beyond it likewise
 * @param maxRequestLineBytes     longest request line (method, path, version); beyond it 414
 * @param maxHeaderBytes          all header lines together; beyond it 431
 */
public record HttpLimits(Duration headerTimeout, Duration idleTimeout, int maxConnections, int maxConnectionsPerSource,
        int maxRequestLineBytes, int maxHeaderBytes) {

    public HttpLimits {
        if (headerTimeout.isNegative() || headerTimeout.isZero()) {
            throw new IllegalArgumentException("http.header-timeout must be positive");
        }
        if (idleTimeout.compareTo(headerTimeout) < 0) {
            throw new IllegalArgumentException("http.idle-timeout must be at least http.header-timeout");
        }
        if (maxConnections < 1 || maxConnectionsPerSource < 1 || maxConnectionsPerSource > maxConnections) {
            throw new IllegalArgumentException(
                    "http.max-connections-per-source must be between 1 and http.max-connections");
        }
        if (maxRequestLineBytes < 64 || maxHeaderBytes < 256) {
            throw new IllegalArgumentException(
                    "http.max-request-line-bytes must be at least 64 and http.max-header-bytes at least 256");
        }
    }

    /** The defaults documented in docs/server.properties. */
    public static HttpLimits defaults() {
        return new HttpLimits(Duration.ofSeconds(10), Duration.ofSeconds(60), 4096, 64, 4096, 8192);
    }
}
