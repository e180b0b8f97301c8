package dev.lanyard.ca;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.testing.Mutator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes the CSR parser with mutations of the committed seed corpus ({@code testdata/fuzz/csr}):
 * every input is either a validated CSR or a {@link CsrRejectedException}; no other exception, no
 * hang. A few seconds in the normal build; longer with {@code -Dlanyard.fuzz.seconds=300}.
 */
class CsrValidatorFuzzTest {

    static final Path CORPUS = Path.of("..", "testdata", "fuzz", "csr");

    private final CsrValidator validator = new CsrValidator(CryptoProviders.select(), CsrValidator.DEFAULT_MAX_BYTES);

    @Test
    void everyMutationIsValidatedOrRefusedWithAReason() throws IOException {
        assertThat(CORPUS).as("the CSR seed corpus (testdata/fuzz/csr)").isDirectoryContaining("glob:**.der");
        List<byte[]> seeds;
        try (Stream<Path> files = Files.list(CORPUS)) {
            seeds = files.sorted().map(CsrValidatorFuzzTest::read).toList();
        }
        Mutator.Run run = new Mutator(seeds, Duration.ofSeconds(3)).run(this::check);
        assertThat(run.executions()).isGreaterThan(seeds.size());
    }

    private void check(byte[] der) {
        try {
            ValidatedCsr csr = validator.validate(der);
            // Accepted: the key is one a certificate may carry and the names were read.
            assertThat(csr.publicKey()).isNotNull();
            assertThat(csr.keyDescription()).matches("ECDSA P-256|ECDSA P-384|RSA \\d{4}");
        } catch (CsrRejectedException e) {
            assertThat(e.getMessage()).isNotBlank();
        }
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
