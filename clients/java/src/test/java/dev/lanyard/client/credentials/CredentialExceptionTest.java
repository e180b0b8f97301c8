package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import org.junit.jupiter.api.Test;

class CredentialExceptionTest {

    @Test
    void namesTheCallTheStatusAndTheReason() {
        CredentialException e = new CredentialException("bootstrap at localhost:8443",
                Status.UNAUTHENTICATED.withDescription("the join token was already used"));

        assertThat(e).hasMessage("bootstrap at localhost:8443: UNAUTHENTICATED: the join token was already used");
        assertThat(e.status()).map(Status::getCode).contains(Status.Code.UNAUTHENTICATED);
    }

    @Test
    void worksWithoutDescriptionOrStatus() {
        assertThat(new CredentialException("renewal", Status.UNAVAILABLE)).hasMessage("renewal: UNAVAILABLE");
        assertThat(new CredentialException("the trust bundle is empty").status()).isEmpty();
    }
}
