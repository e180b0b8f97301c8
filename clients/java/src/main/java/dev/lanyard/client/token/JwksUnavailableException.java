package dev.lanyard.client.token;

/** No key set could be read: the JWKS endpoint failed and there is no earlier good copy. */
public final class JwksUnavailableException extends Exception {

    private static final long serialVersionUID = 1L;

    public JwksUnavailableException(String message) {
        super(message);
    }

    public JwksUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
