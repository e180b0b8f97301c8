package dev.lanyard.token;

import java.time.Instant;

/** A signed token. {@link #toString()} never shows it. */
public record MintedToken(String jwt, String jti, Instant expiresAt, String kid) {
    @Override
    public String toString() {
        return "MintedToken[jti " + jti + ", kid " + kid + ", expires " + expiresAt + ", token hidden]";
    }
}
