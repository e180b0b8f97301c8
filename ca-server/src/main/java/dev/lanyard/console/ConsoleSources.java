package dev.lanyard.console;

import com.google.protobuf.MessageOrBuilder;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.ca.IssuedCertificateRepository;
import dev.lanyard.registration.RegistrationRepository;
import dev.lanyard.revocation.RevocationRegistry;
import dev.lanyard.revocation.RevocationTarget;
import dev.lanyard.revocation.Revoker;
import dev.lanyard.v1.ListKeysResponse;
import java.time.Clock;
import java.time.Instant;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * What the console reads and changes: the server's own repositories and services, so a console
 * revocation takes the same path as a gRPC one and a page shows what the admin RPCs would answer.
 *
 * @param keys              the admin key listing with each key's next step (as {@code keys list})
 * @param issuingCaNotAfter when the active issuing CA expires
 * @param onRevoked         told of every new revocation (metrics), as the gRPC revoke does
 * @param contracts         the contract registry as the ListContracts RPC answers it (with its version)
 * @param policy            the grants policy in force (with its version)
 */
public record ConsoleSources(Supplier<ListKeysResponse> keys, Supplier<Instant> issuingCaNotAfter,
        RegistrationRepository registrations, IssuedCertificateRepository issued, RevocationRegistry revocations,
        Revoker revoker, Consumer<RevocationTarget.Kind> onRevoked, AuditLog audit,
        Supplier<? extends MessageOrBuilder> contracts, Supplier<? extends MessageOrBuilder> policy, Clock clock) {
}
