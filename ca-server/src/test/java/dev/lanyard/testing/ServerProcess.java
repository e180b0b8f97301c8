package dev.lanyard.testing;

import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import io.grpc.ManagedChannel;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A Lanyard server in a JVM of its own ({@link DevServerProcess} with a server.properties file),
 * for tests of several replicas and of kills. Keeps the last lines of its log for failure messages.
 */
public final class ServerProcess implements AutoCloseable {

    private static final int LOG_LINES = 200;

    private final String name;
    private final Process process;
    private final Path adminDir;
    private final Deque<String> log = new ArrayDeque<>();
    private final CompletableFuture<int[]> ready = new CompletableFuture<>();
    private final List<ManagedChannel> channels = new ArrayList<>();

    private ServerProcess(String name, Process process, Path adminDir) {
        this.name = name;
        this.process = process;
        this.adminDir = adminDir;
        Thread reader = new Thread(this::readOutput, name + "-output");
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts the process; {@link #awaitReady()} waits until it serves. */
    public static ServerProcess launch(String name, Path properties, Path adminDir) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                DevServerProcess.class.getName(), properties.toString()).redirectErrorStream(true).start();
        return new ServerProcess(name, process, adminDir);
    }

    public ServerProcess awaitReady() {
        try {
            ready.get(120, TimeUnit.SECONDS);
            return this;
        } catch (Exception e) {
            throw new AssertionError(name + " did not start:\n" + logTail(), e);
        }
    }

    public int grpcPort() {
        return ready.join()[0];
    }

    public int httpPort() {
        return ready.join()[1];
    }

    /** The admin credential this server wrote. */
    public Credential admin() {
        try {
            return new CredentialDirectory(adminDir).read(CryptoProviders.bouncyCastleOnly());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A TLS channel to this server trusting the admin credential's bundle, presenting {@code client} if not null. */
    public synchronized ManagedChannel channel(Credential client) {
        ManagedChannel channel = TlsChannels.open(grpcPort(), admin().bundle(), client);
        channels.add(channel);
        return channel;
    }

    /** SIGKILL: no shutdown hook, nothing flushed. */
    public void kill() throws InterruptedException {
        closeChannels();
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    public synchronized String logTail() {
        return String.join("\n", log);
    }

    @Override
    public void close() throws InterruptedException {
        closeChannels();
        process.destroy();
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(15, TimeUnit.SECONDS);
        }
    }

    private synchronized void closeChannels() {
        channels.forEach(ManagedChannel::shutdownNow);
        channels.clear();
    }

    private void readOutput() {
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                synchronized (this) {
                    log.addLast(line);
                    if (log.size() > LOG_LINES) {
                        log.removeFirst();
                    }
                }
                if (line.startsWith("READY ")) {
                    String[] ports = line.split(" ");
                    ready.complete(new int[] {Integer.parseInt(ports[1]), Integer.parseInt(ports[2])});
                }
            }
        } catch (IOException e) {
            // the process went away
        }
        ready.completeExceptionally(new IllegalStateException(name + " exited"));
    }
}
