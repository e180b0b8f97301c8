package dev.lanyard.attest;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.SecurityContext;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URI;
import java.nio.file.Path;
import java.text.ParseException;
import java.util.Optional;

/** The cluster's signing keys for {@link PsatAttestor}: a JWKS file read at start, or a URL fetched and cached. */
public final class PsatKeys {

    private PsatKeys() {
    }

    public static JWKSource<SecurityContext> source(Optional<Path> file, Optional<URI> url) throws IOException {
        if (file.isPresent()) {
            try {
                return new ImmutableJWKSet<>(JWKSet.load(file.get().toFile()));
            } catch (ParseException e) {
                throw new IOException("psat.jwks-file " + file.get() + " is not a JWKS: " + e.getMessage(), e);
            }
        }
        try {
            // Cached, refreshed in the background, refetched (rate limited) for an unknown key id.
            return JWKSourceBuilder.create(url.orElseThrow().toURL()).build();
        } catch (MalformedURLException e) {
            throw new IOException("psat.jwks-url is not a URL: " + e.getMessage(), e);
        }
    }
}
