package dev.lanyard.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.OptionsProto;
import dev.lanyard.v1.ReinstateRequest;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.TokenServiceGrpc;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The request chain on a real server over real TLS: each of its refusals, with its audit record. */
class RequestChainTest {

    static final String ADMIN = "spiffe://lanyard.local/lanyard/admin";
    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";

    @TempDir
    Path dir;
    RunningServer lanyard;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void aRevokedAdminCertificateIsRefusedOnEveryAdminRpc() {
        Credential admin = lanyard.adminCredential();
        String serial = admin.leaf().getSerialNumber().toString(16);
        lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSerial(serial))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());

        Channel channel = lanyard.channel(admin);
        for (MethodDescriptor<Message, Message> method : AdminRpcs.all()) {
            assertThatThrownBy(() -> AdminRpcs.call(channel, method, AdminRpcs.emptyRequest(method)))
                    .as(method.getFullMethodName())
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                        assertThat(e.getStatus().getDescription()).contains("certificate " + serial + " is revoked");
                    });
        }
        assertThat(audited("rpc.revoked")).hasSize(AdminRpcs.all().size())
                .allSatisfy(e -> assertThat(e.actor()).isEqualTo(ADMIN));
    }

    @Test
    void aRevokedAdminIdentityIsRefusedEverywhereAndCannotReinstateItself() {
        lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSpiffeId(ADMIN))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());

        Channel channel = lanyard.channel(lanyard.adminCredential());
        for (MethodDescriptor<Message, Message> method : AdminRpcs.all()) {
            assertThatThrownBy(() -> AdminRpcs.call(channel, method, AdminRpcs.emptyRequest(method)))
                    .as(method.getFullMethodName())
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
                            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
        }
        assertThatThrownBy(() -> RevocationServiceGrpc.newBlockingStub(channel)
                .reinstate(ReinstateRequest.newBuilder().setSpiffeId(ADMIN).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
                        assertThat(e.getStatus().getDescription()).contains(ADMIN + " is revoked"));
        assertThat(audited("rpc.revoked")).hasSize(AdminRpcs.all().size() + 1);
    }

    @Test
    void lanyardsOwnIdsCannotBeRegisteredOrUsedAsWorkloads() {
        for (String reserved : List.of("spiffe://lanyard.local/lanyard/server", "spiffe://lanyard.local/lanyard/agent/x",
                "spiffe://lanyard.local/lanyard")) {
            assertThatThrownBy(() -> lanyard.admin().createRegistration(
                    CreateRegistrationRequest.newBuilder().setSpiffeId(reserved).build()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                        assertThat(e.getStatus().getDescription()).contains("reserved");
                    });
        }
        // The admin's certificate is valid, but it is not a workload's: no renewal, no tokens with it.
        assertThatThrownBy(() -> lanyard.renew(lanyard.adminCredential()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                    assertThat(e.getStatus().getDescription()).contains("reserved for Lanyard itself");
                });
        assertThat(audited("rpc.authorize")).anySatisfy(e -> assertThat(e.actor()).isEqualTo(ADMIN));
    }

    @Test
    void everyBoundedFieldAtItsLimitPlusOneIsRefusedNamingTheFieldAndAudited() {
        lanyard.register(WEB);
        Credential web = lanyard.bootstrap(WEB);
        List<String> refused = new ArrayList<>();
        for (Call call : everyRpc(web)) {
            for (Oversized request : oversized(AdminRpcs.emptyRequest(call.method()))) {
                assertThatThrownBy(() -> AdminRpcs.call(call.channel(), call.method(), request.message()))
                        .as(call.method().getFullMethodName() + " " + request.field())
                        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                            assertThat(e.getStatus().getDescription()).contains(request.field())
                                    .contains(Integer.toString(request.limit()));
                        });
                refused.add(call.method().getFullMethodName() + " " + request.field());
            }
        }
        assertThat(refused).hasSizeGreaterThan(30);
        assertThat(audited("rpc.bounds")).hasSize(refused.size())
                .allSatisfy(e -> assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED));
    }

    /**
     * A Duration or Timestamp outside protobuf's range (max_ttl of Long.MIN_VALUE seconds, a since past
     * year 9999) overflowed java.time in the handler: INTERNAL, an error logged with its stack, a FAILED
     * record. The chain refuses it as the caller's mistake, naming the field, on every RPC that takes one.
     */
    @Test
    void everyDurationAndTimestampOutsideItsRangeIsRefusedNamingTheFieldAndAudited() {
        lanyard.register(WEB);
        Credential web = lanyard.bootstrap(WEB);
        List<String> refused = new ArrayList<>();
        for (Call call : everyRpc(web)) {
            for (TimeField request : timeFields(AdminRpcs.emptyRequest(call.method()), false)) {
                assertThatThrownBy(() -> AdminRpcs.call(call.channel(), call.method(), request.message()))
                        .as(call.method().getFullMethodName() + " " + request.field() + " " + request.value())
                        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                            assertThat(e.getStatus().getDescription()).contains(request.field() + ".")
                                    .containsAnyOf("a Duration lies", "a Duration's nanos", "a Timestamp lies",
                                            "a Timestamp's nanos");
                        });
                refused.add(call.method().getFullMethodName() + " " + request.field() + " " + request.value());
            }
        }
        // ten fields, four or five values each: max_ttl (registration, policy grant), ttl (join token,
        // certificate, renewal, token), since and until (list, follow)
        assertThat(refused).hasSizeGreaterThanOrEqualTo(10 * 4);
        assertThat(audited("rpc.bounds")).hasSize(refused.size())
                .allSatisfy(e -> assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED));
        assertThat(audited("rpc.failed")).isEmpty();
    }

    /**
     * The ends of protobuf's ranges reach the handlers, which serve them or refuse them as the caller's
     * mistake: on SQLite (the dev store) a since of year 1 overflowed counting its microseconds.
     */
    @Test
    void theEndsOfEveryDurationAndTimestampRangeReachTheHandlersWithoutAnInternalError() {
        lanyard.register(WEB);
        Credential web = lanyard.bootstrap(WEB);
        int calls = 0;
        for (Call call : everyRpc(web)) {
            if (call.method().getType() != MethodDescriptor.MethodType.UNARY) {
                continue; // a follow would stream on; its refusals are the other test's
            }
            for (TimeField request : timeFields(AdminRpcs.emptyRequest(call.method()), true)) {
                try {
                    AdminRpcs.call(call.channel(), call.method(), request.message());
                } catch (StatusRuntimeException e) {
                    assertThat(e.getStatus().getCode()).as(call.method().getFullMethodName() + " " + request.field()
                            + " " + request.value() + ": " + e.getStatus()).isNotIn(Status.Code.INTERNAL,
                            Status.Code.UNKNOWN);
                }
                calls++;
            }
        }
        assertThat(calls).isGreaterThanOrEqualTo(8 * 2); // the unary ones of those ten fields, both ends each
        assertThat(audited("rpc.failed")).isEmpty();
        assertThat(audited("rpc.bounds")).isEmpty();
    }

    @Test
    void everyStringBytesAndRepeatedFieldOfEveryRequestDeclaresItsLimit() {
        List<String> unbounded = new ArrayList<>();
        for (MethodDescriptor<Message, Message> method : AdminRpcs.all()) {
            unbounded.addAll(InputBounds.unbounded(AdminRpcs.emptyRequest(method).getDescriptorForType()));
        }
        for (var method : dev.lanyard.v1.AgentServiceGrpc.getServiceDescriptor().getMethods()) {
            unbounded.addAll(InputBounds.unbounded(AdminRpcs.emptyRequest(cast(method)).getDescriptorForType()));
        }
        for (var method : List.of(CertificateServiceGrpc.getIssueCertificateMethod(),
                CertificateServiceGrpc.getRenewCertificateMethod(), TokenServiceGrpc.getIssueTokenMethod(),
                RevocationServiceGrpc.getWatchRevocationsMethod())) {
            unbounded.addAll(InputBounds.unbounded(AdminRpcs.emptyRequest(cast(method)).getDescriptorForType()));
        }
        assertThat(unbounded).isEmpty();
    }

    @Test
    void controlCharactersFromARequestNeverReachTheAuditTrailRaw() {
        lanyard.register(WEB, "api.shop.internal");
        String forged = "api.shop.internal\n2026-11-30T00:00:00Z lanyard certificate.issue SUCCESS \u001b[2K";
        assertThatThrownBy(() -> lanyard.certificates(null).issueCertificate(IssueCertificateRequest.newBuilder()
                .setAttestation(RunningServer.joinTokenAttestation(lanyard.joinToken(WEB)))
                .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256(), forged))).build()))
                .isInstanceOf(StatusRuntimeException.class);
        List<AuditEvent> events = lanyard.server().audit().recent(100);
        // a name that fails its check is named by its length (AuditText escapes what is stored verbatim)
        assertThat(events).anySatisfy(e -> assertThat(e.reason())
                .contains("invalid DNS name (" + forged.length() + " characters)"));
        assertThat(events).allSatisfy(e -> assertThat(e.toString()).doesNotContain("\n").doesNotContain("\u001b"));
    }

    @Test
    void aFloodOfBootstrapsFromOneSourceIsLimitedAndAuditedOnce() {
        int refusedByLimit = 0;
        for (int i = 0; i < 150; i++) {
            try {
                lanyard.certificates(null).issueCertificate(IssueCertificateRequest.newBuilder()
                        .setAttestation(RunningServer.joinTokenAttestation(
                                "lyjt_" + "0".repeat(31) + (i % 10) + "." + "A".repeat(43)))
                        .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))).build());
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED) {
                    refusedByLimit++;
                    assertThat(e.getStatus().getDescription()).contains("127.0.0.1").contains("per second");
                } else {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
                }
            }
        }
        assertThat(refusedByLimit).isEqualTo(50); // the burst is 100; the test clock stands still
        assertThat(audited("rpc.rate-limit")).hasSize(1);
        assertThat(audited("certificate.bootstrap")).hasSize(100);
    }

    private List<AuditEvent> audited(String action) {
        return lanyard.server().audit().recent(5_000).stream().filter(e -> e.action().equals(action)).toList();
    }

    private record Call(MethodDescriptor<Message, Message> method, Channel channel) {
    }

    /** A request with one field just over its limit. */
    private record Oversized(Message message, String field, int limit) {
    }

    @SuppressWarnings("unchecked")
    private static MethodDescriptor<Message, Message> cast(MethodDescriptor<?, ?> method) {
        return (MethodDescriptor<Message, Message>) method;
    }

    /** One request per bounded field reachable from {@code empty}, with that field one over its limit. */
    private static List<Oversized> oversized(Message empty) {
        List<Oversized> requests = new ArrayList<>();
        Descriptor type = empty.getDescriptorForType();
        for (FieldDescriptor field : type.getFields()) {
            int maxLength = field.getOptions().getExtension(OptionsProto.maxLength);
            int maxItems = field.getOptions().getExtension(OptionsProto.maxItems);
            boolean message = field.getJavaType() == FieldDescriptor.JavaType.MESSAGE;
            if (maxItems > 0) {
                Message.Builder b = empty.toBuilder();
                for (int i = 0; i <= maxItems; i++) {
                    b.addRepeatedField(field, message ? b.newBuilderForField(field).build() : small(field));
                }
                requests.add(new Oversized(b.build(), field.getName(), maxItems));
            }
            if (maxLength > 0) {
                Object value = field.getJavaType() == FieldDescriptor.JavaType.STRING
                        ? "a".repeat(maxLength + 1) : ByteString.copyFrom(new byte[maxLength + 1]);
                Message.Builder b = empty.toBuilder();
                if (field.isRepeated()) {
                    b.addRepeatedField(field, value);
                } else {
                    b.setField(field, value);
                }
                requests.add(new Oversized(b.build(), field.getName(), maxLength));
            }
            if (message && !field.getMessageType().getFile().getPackage().startsWith("google.protobuf")) {
                Message nestedEmpty = empty.toBuilder().newBuilderForField(field).build();
                for (Oversized nested : oversized(nestedEmpty)) {
                    Message.Builder b = empty.toBuilder();
                    if (field.isRepeated()) {
                        b.addRepeatedField(field, nested.message());
                    } else {
                        b.setField(field, nested.message());
                    }
                    requests.add(new Oversized(b.build(), field.getName() + "." + nested.field(), nested.limit()));
                }
            }
        }
        return requests;
    }

    /** Every admin RPC, and the certificate and token RPCs of workloads (and of callers without a certificate). */
    private List<Call> everyRpc(Credential web) {
        List<Call> calls = new ArrayList<>();
        for (MethodDescriptor<Message, Message> method : AdminRpcs.all()) {
            calls.add(new Call(method, lanyard.channel(lanyard.adminCredential())));
        }
        calls.add(new Call(cast(CertificateServiceGrpc.getIssueCertificateMethod()), lanyard.channel(null)));
        calls.add(new Call(cast(CertificateServiceGrpc.getRenewCertificateMethod()), lanyard.channel(web)));
        calls.add(new Call(cast(TokenServiceGrpc.getIssueTokenMethod()), lanyard.channel(web)));
        return calls;
    }

    /** A request with one Duration or Timestamp field set to {@code value}. */
    private record TimeField(Message message, String field, String value) {
    }

    /**
     * One request per Duration and Timestamp field reachable from {@code empty} and per value: the ends
     * of protobuf's range ({@code inRange}), or values just and far outside it.
     */
    private static List<TimeField> timeFields(Message empty, boolean inRange) {
        List<TimeField> requests = new ArrayList<>();
        for (FieldDescriptor field : empty.getDescriptorForType().getFields()) {
            if (field.getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
                continue;
            }
            List<Message> values = switch (field.getMessageType().getFullName()) {
                case "google.protobuf.Duration" -> inRange
                        ? List.of(duration(315_576_000_000L, 999_999_999), duration(-315_576_000_000L, -999_999_999))
                        : List.of(duration(Long.MIN_VALUE, -1), duration(Long.MAX_VALUE, 999_999_999),
                                duration(315_576_000_001L, 0), duration(1, -1), duration(0, 1_000_000_000));
                case "google.protobuf.Timestamp" -> inRange
                        ? List.of(timestamp(-62_135_596_800L, 0), timestamp(253_402_300_799L, 999_999_999))
                        : List.of(timestamp(Long.MAX_VALUE, 0), timestamp(253_402_300_800L, 0),
                                timestamp(-62_135_596_801L, 0), timestamp(0, -1));
                default -> null;
            };
            if (values != null) {
                for (Message value : values) {
                    requests.add(new TimeField(with(empty, field, value), field.getName(), value.toString().trim()
                            .replace('\n', ' ')));
                }
            } else if (!field.getMessageType().getFile().getPackage().startsWith("google.protobuf")) {
                for (TimeField nested : timeFields(empty.toBuilder().newBuilderForField(field).build(), inRange)) {
                    requests.add(new TimeField(with(empty, field, nested.message()), field.getName() + "."
                            + nested.field(), nested.value()));
                }
            }
        }
        return requests;
    }

    private static Message with(Message empty, FieldDescriptor field, Message value) {
        Message.Builder b = empty.toBuilder();
        if (field.isRepeated()) {
            b.addRepeatedField(field, value);
        } else {
            b.setField(field, value);
        }
        return b.build();
    }

    private static Message duration(long seconds, int nanos) {
        return com.google.protobuf.Duration.newBuilder().setSeconds(seconds).setNanos(nanos).build();
    }

    private static Message timestamp(long seconds, int nanos) {
        return com.google.protobuf.Timestamp.newBuilder().setSeconds(seconds).setNanos(nanos).build();
    }

    private static Object small(FieldDescriptor field) {
        return field.getJavaType() == FieldDescriptor.JavaType.STRING ? "a" : ByteString.copyFromUtf8("a");
    }
}
