package dev.lanyard.client.token;

import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import dev.lanyard.client.http.BoundedExchange;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lanyard's published JWKS, fetched over HTTP(S) and cached.
 *
 * <ul>
 *   <li>A copy is fresh for the response's {@code Cache-Control: max-age}, at most 1 h (10 s when
 *       the header is absent or unreadable, none when it forbids caching).</li>
 *   <li>Refetches are conditional ({@code If-None-Match} with the last {@code ETag}); a 304 keeps the
 *       keys and restarts the freshness period.</li>
 *   <li>An unknown {@code kid} triggers a refetch, but no fetch of any kind happens less than one
 *       interval after the previous attempt, so neither a flood of tokens with made-up kids nor a
 *       failing server turns into a flood of requests. The interval is {@link #MIN_REFRESH}, or the
 *       last max-age when that is shorter (at least a second): Lanyard publishes a new key one
 *       publish lead (twice its max-age) before it signs, so a verifier must be able to refresh as
 *       often as max-age says. The Go and Rust verifiers follow the same rules.</li>
 *   <li>When a refetch fails the last good copy keeps serving, stale or not, so an outage of
 *       Lanyard does not stop verification.</li>
 *   <li>A fetch, headers and body, that does not finish within the request timeout (5 s by
 *       default) fails, so a server that stalls mid-answer cannot hold the lookups waiting on it.</li>
 * </ul>
 *
 * <p>Thread-safe: one fetch at a time; while a stale copy is being refreshed other threads keep
 * verifying with it.
 */
public final class HttpJwksSource implements JwksSource {

    /** The least time between two fetches when max-age is longer; how long a copy without max-age is kept. */
    public static final Duration MIN_REFRESH = Duration.ofSeconds(10);
    /** The least time between two fetches, whatever max-age says. */
    static final Duration MIN_INTERVAL = Duration.ofSeconds(1);
    /** The longest a copy is kept without asking again. */
    public static final Duration MAX_REFRESH = Duration.ofHours(1);
    static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(5);
    static final int MAX_BYTES = 1024 * 1024;

    private static final Logger LOG = LoggerFactory.getLogger(HttpJwksSource.class);

    /** @param interval the least time from a fetch to the next: MIN_REFRESH, or max-age if shorter (at least 1 s) */
    private record Snapshot(JWKSet keys, String etag, Instant freshUntil, Duration interval) {
    }

    private final URI uri;
    private final HttpClient http;
    private final Clock clock;
    private final Duration requestTimeout;
    private final ReentrantLock fetchLock = new ReentrantLock();
    private volatile Snapshot snapshot;
    private volatile Instant lastAttempt;
    private volatile String lastFailure;

    /**
     * The JWKS at {@code uri}, which must be https: whoever answers a plain-HTTP fetch picks the keys
     * and can forge any token (see {@link #allowingPlainHttp}).
     */
    public HttpJwksSource(URI uri, HttpClient http, Clock clock) {
        this(uri, http, clock, DEFAULT_REQUEST_TIMEOUT);
    }

    public HttpJwksSource(URI uri, HttpClient http, Clock clock, Duration requestTimeout) {
        this(uri, http, clock, requestTimeout, false);
    }

    /**
     * As {@link #HttpJwksSource(URI, HttpClient, Clock)}, accepting an {@code http://} URI too: for a
     * dev server on loopback ({@code lanyard dev}) and tests, never in production.
     */
    public static HttpJwksSource allowingPlainHttp(URI uri, HttpClient http, Clock clock) {
        return new HttpJwksSource(uri, http, clock, DEFAULT_REQUEST_TIMEOUT, true);
    }

    private HttpJwksSource(URI uri, HttpClient http, Clock clock, Duration requestTimeout, boolean plainHttp) {
        this.uri = Objects.requireNonNull(uri, "uri");
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (scheme.equals("http") && !plainHttp) {
            throw new IllegalArgumentException("the JWKS URI " + uri + " is plain http: anyone on the path could"
                    + " substitute the keys and forge tokens; use https (or HttpJwksSource.allowingPlainHttp for a"
                    + " dev server or a test)");
        }
        if (!scheme.equals("https") && !scheme.equals("http")) {
            throw new IllegalArgumentException("the JWKS URI must be https, not " + uri);
        }
        this.http = Objects.requireNonNull(http, "http");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.requestTimeout = Objects.requireNonNull(requestTimeout, "requestTimeout");
        if (requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("the request timeout must be positive, not " + requestTimeout);
        }
    }

    public URI uri() {
        return uri;
    }

    @Override
    public Optional<JWK> key(String keyId) throws JwksUnavailableException {
        Snapshot current = snapshot;
        if (current == null) {
            current = fetchIfDue(lastAttempt, true);
            if (current == null) {
                throw new JwksUnavailableException("no JWKS could be fetched from " + uri
                        + (lastFailure == null ? "" : ": " + lastFailure));
            }
        } else if (!clock.instant().isBefore(current.freshUntil())) {
            // Stale: refresh unless someone already is; either way the stale copy still answers.
            current = fetchIfDue(lastAttempt, false);
        }
        JWK key = current.keys().getKeyByKeyId(keyId);
        if (key == null) {
            // Perhaps a key published since the last fetch: ask again, rate limited.
            current = fetchIfDue(lastAttempt, true);
            key = current.keys().getKeyByKeyId(keyId);
        }
        return Optional.ofNullable(key);
    }

    /**
     * Fetches unless a fetch happened since {@code observedAttempt} (another thread did it) or less
     * than an interval ago. {@code wait}: block for a fetch in progress instead of answering
     * with the current copy.
     */
    private Snapshot fetchIfDue(Instant observedAttempt, boolean wait) {
        if (wait) {
            fetchLock.lock();
        } else if (!fetchLock.tryLock()) {
            return snapshot;
        }
        try {
            Instant now = clock.instant();
            if (!Objects.equals(lastAttempt, observedAttempt)
                    || lastAttempt != null && now.isBefore(lastAttempt.plus(interval()))) {
                return snapshot;
            }
            lastAttempt = now;
            try {
                snapshot = fetch(snapshot, now);
                lastFailure = null;
            } catch (IOException e) {
                lastFailure = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
                LOG.warn("JWKS refresh from {} failed ({}); {}", uri, lastFailure,
                        snapshot == null ? "no keys yet" : "keeping the last good key set");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                lastFailure = "interrupted";
            }
            return snapshot;
        } finally {
            fetchLock.unlock();
        }
    }

    /** The least time from the last attempt to the next. */
    private Duration interval() {
        Snapshot current = snapshot;
        return current == null ? MIN_REFRESH : current.interval();
    }

    private static Duration interval(Duration maxAge) {
        Duration atLeast = maxAge.compareTo(MIN_INTERVAL) < 0 ? MIN_INTERVAL : maxAge;
        return atLeast.compareTo(MIN_REFRESH) < 0 ? atLeast : MIN_REFRESH;
    }

    private Snapshot fetch(Snapshot previous, Instant now) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri)
                .timeout(requestTimeout)
                .header("Accept", "application/json")
                .GET();
        if (previous != null && previous.etag() != null) {
            request.header("If-None-Match", previous.etag());
        }
        HttpResponse<byte[]> response = exchange(request.build());
        Duration maxAge = maxAge(response);
        Instant freshUntil = now.plus(maxAge);
        String etag = response.headers().firstValue("ETag").orElse(null);
        int status = response.statusCode();
        if (status == 304) {
            if (previous == null) {
                throw new IOException("HTTP 304 from " + uri + " to an unconditional request");
            }
            return new Snapshot(previous.keys(), etag != null ? etag : previous.etag(), freshUntil, interval(maxAge));
        }
        if (status != 200) {
            throw new IOException("HTTP " + status + " from " + uri);
        }
        return new Snapshot(parse(new String(response.body(), StandardCharsets.UTF_8)), etag, freshUntil,
                interval(maxAge));
    }

    /**
     * The whole exchange, body included, within the request timeout: the JDK's own timeout ends with
     * the headers, and a server that then stalls its body would hold the fetch lock, and with it every
     * lookup of a new kid, for ever.
     */
    private HttpResponse<byte[]> exchange(HttpRequest request) throws IOException, InterruptedException {
        return BoundedExchange.send(http, request, requestTimeout, MAX_BYTES, "the JWKS at " + uri);
    }

    private JWKSet parse(String json) throws IOException {
        JWKSet keys;
        try {
            keys = JWKSet.parse(json);
        } catch (ParseException | RuntimeException e) {
            // Nimbus meets some documents ("null") with a NullPointerException: a failed refresh all the same.
            throw new IOException("the document at " + uri + " is not a JWKS");
        }
        for (JWK key : keys.getKeys()) {
            if (key.isPrivate()) {
                throw new IOException("the JWKS at " + uri + " holds private key material; refusing it");
            }
        }
        String twice = duplicateKeyId(keys);
        if (twice != null) {
            // Which key was meant would be a guess: the document is refused and the keys held stay.
            throw new IOException("the JWKS at " + uri + " names kid " + Printable.of(twice) + " twice; refusing it");
        }
        return keys;
    }

    /** A kid two keys of {@code keys} share, or null: which one a token meant would be a guess. */
    static String duplicateKeyId(JWKSet keys) {
        Set<String> seen = new HashSet<>();
        for (JWK key : keys.getKeys()) {
            if (key.getKeyID() != null && !seen.add(key.getKeyID())) {
                return key.getKeyID();
            }
        }
        return null;
    }

    /**
     * The response's max-age, at most MAX_REFRESH; MIN_REFRESH when it has none or an unreadable one,
     * zero when it allows no caching.
     */
    static Duration maxAge(HttpResponse<?> response) {
        long seconds = MIN_REFRESH.toSeconds();
        boolean noCaching = false;
        for (String value : response.headers().allValues("Cache-Control")) {
            for (String directive : value.split(",")) {
                String d = directive.trim().toLowerCase(Locale.ROOT);
                if (d.equals("no-store") || d.equals("no-cache")) {
                    noCaching = true;
                } else if (d.startsWith("max-age=")) {
                    try {
                        seconds = Long.parseLong(d.substring("max-age=".length()).replace("\"", ""));
                    } catch (NumberFormatException e) {
                        seconds = MIN_REFRESH.toSeconds();
                    }
                }
            }
        }
        if (noCaching) {
            return Duration.ZERO;
        }
        long bounded = Math.max(0, Math.min(MAX_REFRESH.toSeconds(), seconds));
        return Duration.ofSeconds(bounded);
    }
}
