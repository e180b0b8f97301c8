package dev.lanyard.tools;

import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads a credential directory, saying which file is missing and how to make it. */
final class CredentialFiles {

    private CredentialFiles() {
    }

    /**
     * @param option the option that named the directory (for the message), e.g. "--in"
     * @param howToCreate the command that makes such a directory
     */
    static Credential read(Path dir, String option, String howToCreate) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new CliFailure(option + " " + dir, Files.exists(dir) ? "not a directory" : "no such directory",
                    "it must be a credential directory (cert.pem, key.pem, bundle.pem); create one with " + howToCreate,
                    ExitCodes.FAILED);
        }
        for (String name : new String[] {CredentialDirectory.CERT, CredentialDirectory.KEY}) {
            if (!Files.isRegularFile(dir.resolve(name))) {
                throw new CliFailure(option + " " + dir, "holds no " + name + ", so it is not a credential directory",
                        "create one with " + howToCreate, ExitCodes.FAILED);
            }
        }
        try {
            return new CredentialDirectory(dir).read(CryptoProviders.bouncyCastleOnly());
        } catch (IOException | RuntimeException e) {
            if (e instanceof java.nio.file.AccessDeniedException denied) {
                throw new CliFailure(denied.getFile(), "permission denied",
                        "run as the user that owns the credential", ExitCodes.FAILED);
            }
            throw new CliFailure(option + " " + dir, "the credential cannot be read: " + e.getMessage(),
                    "re-create it with " + howToCreate, ExitCodes.FAILED);
        }
    }
}
