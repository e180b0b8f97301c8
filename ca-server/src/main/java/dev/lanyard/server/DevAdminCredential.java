package dev.lanyard.server;

import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.spiffe.SpiffeId;
import java.io.IOException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin credential of a dev server ({@code admin.credential-dir}): its key is made here, so it is
 * written 0600 into the data directory. It is written again when it has used half its life or when
 * the active issuing CA did not issue it, checked at start and at every rotation tick, so neither its
 * lifetime nor a CA rotation locks the admin out until a restart.
 */
final class DevAdminCredential {

    private static final Logger LOG = LoggerFactory.getLogger(DevAdminCredential.class);

    private final CredentialDirectory directory;
    private final SpiffeId admin;
    private final Duration ttl;
    private final LocalCredentials local;
    private final Supplier<X509Certificate> activeIntermediate;
    private final Supplier<List<X509Certificate>> roots;
    private final CryptoProviders crypto;
    /** The certificate on disk, leaf first, once read or written; the file is read only at start. */
    private List<X509Certificate> written;

    DevAdminCredential(CredentialDirectory directory, SpiffeId admin, Duration ttl, LocalCredentials local,
            Supplier<X509Certificate> activeIntermediate, Supplier<List<X509Certificate>> roots,
            CryptoProviders crypto) {
        this.directory = directory;
        this.admin = admin;
        this.ttl = ttl;
        this.local = local;
        this.activeIntermediate = activeIntermediate;
        this.roots = roots;
        this.crypto = crypto;
    }

    /** Writes a new credential if there is none, it is past half its life, or another CA issued it. */
    synchronized void keep() {
        try {
            if (written == null && directory.exists()) {
                written = certificates(directory.read(crypto));
            }
            if (written != null && written.size() > 1 && written.get(1).equals(activeIntermediate.get())
                    && !local.renewalDelay(written.get(0)).isZero()) {
                return;
            }
            Credential fresh = local.issue(admin, List.of(), ttl, roots.get());
            directory.write(fresh);
            written = certificates(fresh);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write the admin credential to " + directory.path() + ": "
                    + e.getMessage(), e);
        }
        LOG.info("wrote the admin credential for {} to {}", admin, directory.path());
    }

    private static List<X509Certificate> certificates(Credential credential) {
        return Stream.concat(Stream.of(credential.leaf()), credential.chain().stream()).toList();
    }
}
