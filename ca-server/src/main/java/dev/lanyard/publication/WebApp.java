package dev.lanyard.publication;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An application served under a path prefix of the publication port (the admin console): it sees the
 * method, headers and a bounded body, and answers with its own status and headers. It runs on the
 * document executor, never on an I/O thread.
 */
@FunctionalInterface
public interface WebApp {

    Response handle(Request request);

    /** One request; header names are lower case. */
    record Request(String method, String path, String query, Map<String, String> headers, byte[] body,
            InetSocketAddress remote) {
        public Request {
            headers = Map.copyOf(headers);
        }

        public Optional<String> header(String lowerCaseName) {
            return Optional.ofNullable(headers.get(lowerCaseName));
        }
    }

    /** One answer; {@code headers} are (name, value) pairs, so a name may repeat. */
    record Response(int status, String contentType, byte[] body, List<Map.Entry<String, String>> headers) {
        public Response {
            headers = List.copyOf(headers);
        }
    }
}
