package dev.lanyard.publication;

import java.net.InetAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;

/** Paths to published documents: exact paths first, then path prefixes. Fixed once serving starts. */
record Routes(Map<String, Supplier<HttpPublisher.Document>> exact, Map<String, Predicate<InetAddress>> audiences,
        Map<String, Function<String, Optional<HttpPublisher.Document>>> prefixes, Map<String, WebApp> apps) {

    Routes {
        exact = Map.copyOf(exact);
        audiences = Map.copyOf(audiences);
        prefixes = new LinkedHashMap<>(prefixes); // the first matching prefix wins: keep their order
        apps = Map.copyOf(apps);
    }

    /** The application serving {@code path} ("/console" serves "/console" and "/console/..."), or null. */
    WebApp app(String path) {
        for (Map.Entry<String, WebApp> app : apps.entrySet()) {
            if (path.equals(app.getKey()) || path.startsWith(app.getKey() + "/")) {
                return app.getValue();
            }
        }
        return null;
    }

    /**
     * The route for {@code path} (whose document may still be null: not found), or null for no route,
     * also when the route is not for {@code client}: it is refused as if absent, and no prefix answers it.
     */
    Supplier<HttpPublisher.Document> find(String path, InetAddress client) {
        Supplier<HttpPublisher.Document> route = exact.get(path);
        if (route != null) {
            return audiences.get(path).test(client) ? route : null;
        }
        for (Map.Entry<String, Function<String, Optional<HttpPublisher.Document>>> prefix : prefixes.entrySet()) {
            if (path.startsWith(prefix.getKey())) {
                String rest = path.substring(prefix.getKey().length());
                return () -> prefix.getValue().apply(rest).orElse(null);
            }
        }
        return null;
    }
}
