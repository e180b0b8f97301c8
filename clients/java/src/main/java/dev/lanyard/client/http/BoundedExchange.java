package dev.lanyard.client.http;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One HTTP exchange, body included, within a timeout and a size cap. The JDK's own request timeout
 * ends with the headers: a server that then stalls its body would hold the caller for ever, and
 * {@code ofByteArray()} reads a body of any size.
 */
public final class BoundedExchange {

    private BoundedExchange() {
    }

    /**
     * Sends {@code request}; a 200's body is read up to {@code maxBytes}, any other status's body is
     * dropped unread.
     *
     * @param what names the resource when it is too large, e.g. "the JWKS at https://…"
     * @throws IOException when the exchange fails, does not finish within {@code timeout} (it is then
     *     aborted and its connection closed), or the body is over {@code maxBytes}
     */
    public static HttpResponse<byte[]> send(HttpClient http, HttpRequest request, Duration timeout, int maxBytes,
            String what) throws IOException, InterruptedException {
        CompletableFuture<HttpResponse<byte[]>> exchange = http.sendAsync(request,
                info -> info.statusCode() == 200
                        ? new LimitedBody(maxBytes, what + " is larger than " + maxBytes + " bytes")
                        : HttpResponse.BodySubscribers.replacing(new byte[0]));
        try {
            return exchange.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            exchange.cancel(true); // aborts the exchange and closes its connection
            throw new IOException(request.uri() + " did not answer in full within " + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            exchange.cancel(true);
            throw e;
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw new IOException(io.getMessage() != null ? io.getMessage() : io.toString(), io);
            }
            throw new IOException(cause == null ? e.toString() : cause.toString(), cause);
        }
    }
}
