package dev.lanyard.server;

import dev.lanyard.rpc.Protos;
import dev.lanyard.rpc.Statuses;
import dev.lanyard.attest.JoinTokens;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditText;
import dev.lanyard.ca.IssuedCertificateRecord;
import dev.lanyard.ca.IssuedCertificateRepository;
import dev.lanyard.ca.SanPolicy;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.registration.AdminIds;
import dev.lanyard.registration.Registration;
import dev.lanyard.registration.RegistrationRepository;
import dev.lanyard.registration.ReservedIds;
import dev.lanyard.registration.Selectors;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateJoinTokenResponse;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.DeleteRegistrationRequest;
import dev.lanyard.v1.DeleteRegistrationResponse;
import dev.lanyard.v1.IssuedCertificate;
import dev.lanyard.v1.ListCertificatesRequest;
import dev.lanyard.v1.ListCertificatesResponse;
import dev.lanyard.v1.ListRegistrationsRequest;
import dev.lanyard.v1.ListRegistrationsResponse;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Registrations, join tokens and the issued-certificate list. Only reachable through
 * {@link AdminInterceptor}; every change is audited with the admin's SPIFFE ID.
 */
public final class AdminGrpcService extends AdminServiceGrpc.AdminServiceImplBase {

    private static final int DEFAULT_PAGE = 100;
    private static final int MAX_PAGE = 1000;
    private static final Duration MAX_JOIN_TOKEN_TTL = Duration.ofHours(24);

    private final String trustDomain;
    private final RegistrationRepository registrations;
    private final JoinTokens joinTokens;
    private final IssuedCertificateRepository issued;
    private final AuditedCall calls;
    private final Clock clock;
    private final Duration defaultSvidTtl;
    private final Duration maxSvidTtl;
    private final Duration defaultJoinTokenTtl;
    private final dev.lanyard.revocation.RevocationRegistry revocations;
    private final AdminIds admins;

    public AdminGrpcService(String trustDomain, AdminIds admins, RegistrationRepository registrations,
            JoinTokens joinTokens, IssuedCertificateRepository issued,
            dev.lanyard.revocation.RevocationRegistry revocations, AuditLog audit,
            Clock clock, Duration defaultSvidTtl, Duration maxSvidTtl, Duration defaultJoinTokenTtl) {
        this.trustDomain = trustDomain;
        this.admins = admins;
        this.revocations = revocations;
        this.registrations = registrations;
        this.joinTokens = joinTokens;
        this.issued = issued;
        this.calls = new AuditedCall(audit, clock);
        this.clock = clock;
        this.defaultSvidTtl = defaultSvidTtl;
        this.maxSvidTtl = maxSvidTtl;
        this.defaultJoinTokenTtl = defaultJoinTokenTtl;
    }

    @Override
    public void createRegistration(CreateRegistrationRequest request,
            StreamObserver<dev.lanyard.v1.Registration> response) {
        calls.runInOneTransaction("registration.create", AuditText.spiffeId(request.getSpiffeId()), response, () -> {
            SpiffeId id = registrableSpiffeId(request.getSpiffeId());
            // an identity revoked before it existed (revoke --force) stays out until it is reinstated
            Optional<dev.lanyard.revocation.Revocation> revoked = revocations.refusalFor(id, Optional.empty());
            if (revoked.isPresent()) {
                throw Status.FAILED_PRECONDITION.withDescription(revoked.get().refusalMessage()
                        + " (lanyard reinstate --spiffe-id " + id + ") before it can be registered").asException();
            }
            List<String> dns = dnsNames(request.getDnsNamesList());
            Duration maxTtl = Protos.duration(request.hasMaxTtl(), request.getMaxTtl()).orElse(defaultSvidTtl);
            if (maxTtl.isNegative() || maxTtl.isZero() || maxTtl.compareTo(maxSvidTtl) > 0) {
                throw invalid("max_ttl must be positive and at most " + Durations.format(maxSvidTtl));
            }
            Optional<String> parent = Optional.empty();
            List<String> selectors;
            try {
                if (!request.getParentId().isEmpty()) {
                    parent = Optional.of(Selectors.parent(request.getParentId(), trustDomain));
                }
                selectors = Selectors.workload(request.getSelectorsList());
            } catch (IllegalArgumentException e) {
                throw invalid(e.getMessage());
            }
            if (parent.isPresent() != !selectors.isEmpty()) {
                throw invalid("parent_id and selectors go together: an agent serves an identity only to"
                        + " processes its selectors pick");
            }
            List<String> federatesWith = new java.util.ArrayList<>();
            for (int i = 0; i < request.getFederatesWithCount(); i++) {
                String foreign = request.getFederatesWith(i);
                try {
                    SpiffeId.validateTrustDomain(foreign);
                } catch (IllegalArgumentException e) {
                    throw invalid(AuditText.unnamed("federates_with[" + i + "]", foreign) + " is not a trust domain: "
                            + e.getMessage());
                }
                if (foreign.equals(trustDomain)) {
                    throw invalid("federates_with names this server's own trust domain " + foreign);
                }
                if (!federatesWith.contains(foreign)) {
                    federatesWith.add(foreign);
                }
            }
            Registration registration = new Registration(id, dns, maxTtl, clock.instant(), parent, selectors,
                    federatesWith);
            if (!registrations.create(registration)) {
                throw Status.ALREADY_EXISTS.withDescription(id + " is registered already").asException();
            }
            return toProto(registration);
        });
    }

    @Override
    public void listRegistrations(ListRegistrationsRequest request, StreamObserver<ListRegistrationsResponse> response) {
        run("registration.list", "", response, () -> {
            int size = pageSize(request.getPageSize());
            String after = request.getPageToken().isEmpty() ? null : decodeToken(request.getPageToken());
            List<Registration> page = registrations.list(after, size + 1);
            ListRegistrationsResponse.Builder b = ListRegistrationsResponse.newBuilder();
            page.stream().limit(size).forEach(r -> b.addRegistrations(toProto(r)));
            if (page.size() > size) {
                b.setNextPageToken(encodeToken(page.get(size - 1).spiffeId().toString()));
            }
            return b.build();
        });
    }

    @Override
    public void deleteRegistration(DeleteRegistrationRequest request,
            StreamObserver<DeleteRegistrationResponse> response) {
        calls.runInOneTransaction("registration.delete", AuditText.spiffeId(request.getSpiffeId()), response, () -> {
            SpiffeId id = ourSpiffeId(request.getSpiffeId());
            if (!registrations.delete(id)) {
                throw Status.NOT_FOUND.withDescription(id + " is not registered").asException();
            }
            return DeleteRegistrationResponse.getDefaultInstance();
        });
    }

    @Override
    public void createJoinToken(CreateJoinTokenRequest request, StreamObserver<CreateJoinTokenResponse> response) {
        String target = request.getAgent() ? "agent" : AuditText.spiffeId(request.getSpiffeId());
        calls.runInOneTransaction("join-token.create", target, response, () -> {
            Duration ttl = Protos.duration(request.hasTtl(), request.getTtl()).orElse(defaultJoinTokenTtl);
            if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_JOIN_TOKEN_TTL) > 0) {
                throw invalid("ttl must be positive and at most 24h");
            }
            if (request.getAgent()) {
                if (!request.getSpiffeId().isEmpty()) {
                    throw invalid("an agent join token names no spiffe_id: the agent's ID comes from the token");
                }
                JoinTokens.CreatedJoinToken token = joinTokens.createForAgent(trustDomain, ttl);
                return CreateJoinTokenResponse.newBuilder().setToken(token.token())
                        .setSpiffeId(token.spiffeId().toString())
                        .setExpiresAt(Protos.timestamp(token.expiresAt())).build();
            }
            SpiffeId id = registrableSpiffeId(request.getSpiffeId());
            if (registrations.find(id).isEmpty()) {
                throw Status.FAILED_PRECONDITION
                        .withDescription(id + " is not registered; create its registration first").asException();
            }
            JoinTokens.CreatedJoinToken token = joinTokens.create(id, ttl);
            return CreateJoinTokenResponse.newBuilder()
                    .setToken(token.token())
                    .setSpiffeId(id.toString())
                    .setExpiresAt(Protos.timestamp(token.expiresAt()))
                    .build();
        });
    }

    @Override
    public void listCertificates(ListCertificatesRequest request, StreamObserver<ListCertificatesResponse> response) {
        run("certificate.list", AuditText.spiffeId(request.getSpiffeId()), response, () -> {
            Optional<SpiffeId> filter = request.getSpiffeId().isEmpty()
                    ? Optional.empty() : Optional.of(ourSpiffeId(request.getSpiffeId()));
            Optional<String> cursor = request.getPageToken().isEmpty()
                    ? Optional.empty() : Optional.of(certificateCursor(request.getPageToken()));
            IssuedCertificateRepository.Page page = issued.list(filter, cursor, pageSize(request.getPageSize()));
            ListCertificatesResponse.Builder b = ListCertificatesResponse.newBuilder();
            for (IssuedCertificateRecord c : page.certificates()) {
                b.addCertificates(IssuedCertificate.newBuilder()
                        .setSerialNumber(c.serialHex())
                        .setSpiffeId(c.spiffeId().toString())
                        .setNotBefore(Protos.timestamp(c.notBefore()))
                        .setNotAfter(Protos.timestamp(c.notAfter()))
                        .setSha256Fingerprint(c.sha256Fingerprint())
                        .setIssuedAt(Protos.timestamp(c.issuedAt())));
            }
            page.nextCursor().ifPresent(next -> b.setNextPageToken(encodeToken(next)));
            return b.build();
        });
    }

    private <T> void run(String action, String target, StreamObserver<T> response, AuditedCall.Body<T> body) {
        calls.run(action, target, response, body);
    }

    private SpiffeId ourSpiffeId(String text) throws StatusException {
        SpiffeId id;
        try {
            id = AuditText.parseSpiffeId("spiffe_id", text);
        } catch (IllegalArgumentException e) {
            throw invalid(e.getMessage()); // never the text itself: it may be a secret pasted into the wrong field
        }
        if (!id.isMemberOf(trustDomain)) {
            throw invalid("spiffe_id " + id + " is not in this server's trust domain " + trustDomain);
        }
        return id;
    }

    /** A SPIFFE ID a workload may be registered under: ours, not reserved for Lanyard, not an admin's. */
    private SpiffeId registrableSpiffeId(String text) throws StatusException {
        SpiffeId id = ourSpiffeId(text);
        if (ReservedIds.isReserved(id)) {
            throw Status.PERMISSION_DENIED.withDescription("spiffe_id " + id + " is reserved for Lanyard's own server,"
                    + " agents and admins (" + ReservedIds.PREFIX + "*); choose another path").asException();
        }
        try {
            admins.refuseAsWorkload(id);
        } catch (Refusal e) {
            throw Statuses.exception(e);
        }
        return id;
    }

    private static List<String> dnsNames(List<String> requested) throws StatusException {
        TreeSet<String> names = new TreeSet<>();
        for (int i = 0; i < requested.size(); i++) {
            String lower = requested.get(i).toLowerCase(Locale.ROOT);
            if (!SanPolicy.isHostName(lower)) {
                throw invalid(AuditText.unnamed("dns_names[" + i + "]", lower)
                        + " is not a valid host name (no wildcards, no IP addresses)");
            }
            names.add(lower);
        }
        return new ArrayList<>(names);
    }

    private static int pageSize(int requested) throws StatusException {
        if (requested < 0 || requested > MAX_PAGE) {
            throw invalid("page_size must be between 0 and " + MAX_PAGE);
        }
        return requested == 0 ? DEFAULT_PAGE : requested;
    }

    private static String encodeToken(String cursor) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(cursor.getBytes(StandardCharsets.UTF_8));
    }

    private static String decodeToken(String token) throws StatusException {
        try {
            return new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw invalid("page_token is not one this server handed out");
        }
    }

    /** The certificate list's cursor (a row id) in a page token, refused as the caller's mistake if it is none. */
    private static String certificateCursor(String token) throws StatusException {
        String cursor = decodeToken(token);
        try {
            Long.parseLong(cursor);
        } catch (NumberFormatException e) {
            throw invalid("page_token is not one this server handed out");
        }
        return cursor;
    }

    private static StatusException invalid(String message) {
        return AuditedCall.invalid(message);
    }

    static dev.lanyard.v1.Registration toProto(Registration r) {
        return dev.lanyard.v1.Registration.newBuilder()
                .setSpiffeId(r.spiffeId().toString())
                .addAllDnsNames(r.dnsNames())
                .setMaxTtl(Protos.duration(r.maxTtl()))
                .setCreatedAt(Protos.timestamp(r.createdAt()))
                .setParentId(r.parentId().orElse(""))
                .addAllSelectors(r.selectors())
                .addAllFederatesWith(r.federatesWith())
                .build();
    }
}
