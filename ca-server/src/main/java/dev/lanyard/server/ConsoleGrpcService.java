package dev.lanyard.server;

import dev.lanyard.console.LoginLinkRepository;
import dev.lanyard.console.LoginLinks;
import dev.lanyard.rpc.AuthenticatedPeer;
import dev.lanyard.rpc.Callers;
import dev.lanyard.rpc.Protos;
import dev.lanyard.v1.ConsoleServiceGrpc;
import dev.lanyard.v1.CreateConsoleLoginRequest;
import dev.lanyard.v1.CreateConsoleLoginResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.Optional;

/**
 * Mints console login links for the calling admin (admin only, through the request chain). The link's
 * secret is in the response only: the audit record names the admin and the link's expiry, never the link.
 */
final class ConsoleGrpcService extends ConsoleServiceGrpc.ConsoleServiceImplBase {

    private final Optional<LoginLinks> links;
    private final String base;
    private final AuditedCall calls;

    /** @param links empty when the console is not enabled on this server */
    ConsoleGrpcService(Optional<LoginLinks> links, String base, AuditedCall calls) {
        this.links = links;
        this.base = base;
        this.calls = calls;
    }

    @Override
    public void createConsoleLogin(CreateConsoleLoginRequest request,
            StreamObserver<CreateConsoleLoginResponse> response) {
        // The link and its record are one transaction: no link can be redeemed that nobody audited.
        calls.runInOneTransaction("console.login-link", "console", "channel=console", response, () -> {
            if (links.isEmpty()) {
                throw Status.FAILED_PRECONDITION.withDescription("the admin console is not enabled on this server"
                        + " (console.enabled=true, on a loopback http.host unless the HTTP port serves TLS)")
                        .asException();
            }
            AuthenticatedPeer admin = Callers.require();
            LoginLinks.Minted minted = links.get().mint(new LoginLinkRepository.Grant(admin.spiffeId().toString(),
                    admin.serialHex(), admin.certificate().getNotAfter().toInstant()));
            return CreateConsoleLoginResponse.newBuilder()
                    .setUrl(base + "/console/login?t=" + minted.secret())
                    .setExpiresAt(Protos.timestamp(minted.expiresAt()))
                    .build();
        });
    }
}
