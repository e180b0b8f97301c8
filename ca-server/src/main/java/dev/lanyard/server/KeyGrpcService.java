package dev.lanyard.server;

import dev.lanyard.rpc.Protos;
import dev.lanyard.rpc.Statuses;
import dev.lanyard.ca.CaCertificate;
import dev.lanyard.ca.OfflineIntermediates;
import dev.lanyard.ca.StoredCaKey;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.v1.AddRootRequest;
import dev.lanyard.v1.AddRootResponse;
import dev.lanyard.v1.ImportIntermediateRequest;
import dev.lanyard.v1.PrepareIntermediateRequest;
import dev.lanyard.v1.PrepareIntermediateResponse;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditText;
import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.rotation.KeySlot;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.StepLog;
import dev.lanyard.token.JwtSigningKeys;
import dev.lanyard.token.SigningKey;
import dev.lanyard.v1.KeyInfo;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.ListKeysRequest;
import dev.lanyard.v1.ListKeysResponse;
import dev.lanyard.v1.RotateKekRequest;
import dev.lanyard.v1.RotateKekResponse;
import dev.lanyard.v1.RotateKeysRequest;
import dev.lanyard.custody.KekRotation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/** Admin view and control of signing keys: JWT keys and X.509 issuing CAs, one rotation step at a time. */
public final class KeyGrpcService extends KeyServiceGrpc.KeyServiceImplBase {

    /** The X.509 side, implemented by the CA rotation. */
    public interface X509Keys {
        List<KeyInfo> list();

        /** One forced step, recorded in {@code log}, or the reason it would be unsafe now. */
        Optional<String> forceStep(StepLog log);

        /** The CA's rotation rules. */
        RotationPlanner planner();

        /** What an operator must act on (an issuing CA near its hand-over with no successor); empty if nothing. */
        Optional<String> warning();

        /** The next key and its CSR; {@code record} is stored with it. */
        OfflineIntermediates.Prepared prepare(ChangeRecord record) throws Refusal;

        /** The imported intermediate's row (PREPARED), stored with {@code record}. */
        StoredCaKey importIntermediate(String pem, ChangeRecord record) throws Refusal;

        /**
         * Publishes an offline root's certificate ({@code pem}), or a new root made in custody (empty),
         * stored with {@code record}.
         */
        CaCertificate addRoot(Optional<String> pem, ChangeRecord record) throws Refusal;

        /** The planner's view of each key that is not dropped (with its certificate's own hand-over time). */
        List<KeySlot> slots();

        /** Every root in the trust bundle now. */
        List<java.security.cert.X509Certificate> roots();
    }

    private final JwtSigningKeys jwtKeys;
    private final X509Keys x509Keys;
    private final Runnable afterRotation;
    private final AuditedCall calls;
    private final Optional<KekRotation> kek;
    private final AuditLog audit;

    /** {@code kek} is empty when keys are not in software custody (an HSM has no KEK). */
    public KeyGrpcService(JwtSigningKeys jwtKeys, X509Keys x509Keys, Optional<KekRotation> kek, Runnable afterRotation,
            AuditLog audit, Clock clock) {
        this.kek = kek;
        this.jwtKeys = jwtKeys;
        this.x509Keys = x509Keys;
        this.afterRotation = afterRotation;
        this.calls = new AuditedCall(audit, clock);
        this.audit = audit;
    }

    @Override
    public void listKeys(ListKeysRequest request, StreamObserver<ListKeysResponse> response) {
        calls.run("keys.list", request.getKind().name(), response, () -> list(request.getKind()));
    }

    @Override
    public void rotateKeys(RotateKeysRequest request, StreamObserver<ListKeysResponse> response) {
        calls.runRecording("keys.rotate", request.getKind().name(), "", response, success -> {
            StepLog log = AuditedSteps.forced(new ChangeRecord(audit, success));
            Optional<String> refusal = switch (request.getKind()) {
                case KEY_KIND_JWT -> jwtKeys.forceStep(log);
                case KEY_KIND_X509 -> x509Keys.forceStep(log);
                default -> throw AuditedCall.invalid("kind must be KEY_KIND_JWT or KEY_KIND_X509");
            };
            if (refusal.isPresent()) {
                throw Status.FAILED_PRECONDITION.withDescription(refusal.get()).asException();
            }
            afterRotation.run();
            return list(request.getKind());
        });
    }

    /** Every key with its next step, as {@code ListKeys} answers it (the console's overview). */
    public ListKeysResponse snapshot() {
        try {
            return list(KeyKind.KEY_KIND_UNSPECIFIED);
        } catch (StatusException e) {
            throw new IllegalStateException("listing every key kind cannot be refused", e);
        }
    }

    /** Audited with the path as target once it names a file, and the new KEK's id and count; never key bytes. */
    @Override
    public void rotateKek(RotateKekRequest request, StreamObserver<RotateKekResponse> response) {
        String file = request.getNewKekFile();
        // The path is named only once it names a file here: a key pasted in its place must never be repeated.
        boolean named = file.isEmpty() || isFile(file);
        String target = named ? "kek file " + file : AuditText.invalid("new_kek_file", file);
        calls.runRecording("keys.rotate-kek", target, "", response, success -> {
            if (kek.isEmpty()) {
                throw Status.FAILED_PRECONDITION.withDescription("keys are not in software custody: there is no"
                        + " key-encryption key to rotate").asException();
            }
            if (file.isBlank()) {
                throw AuditedCall.invalid("new_kek_file is required: the path of the new KEK file on the server's"
                        + " host (32 random bytes, base64, mode 0600)");
            }
            if (!named) {
                throw Status.FAILED_PRECONDITION.withDescription("cannot use " + AuditText.unnamed("new_kek_file", file)
                        + " as the new key-encryption key: it names no file on the server's host").asException();
            }
            try {
                KekRotation.Outcome outcome = kek.get().rotate(Path.of(file), new ChangeRecord(audit, success));
                return RotateKekResponse.newBuilder().setKekId(outcome.kekId()).setRewrapped(outcome.rewrapped())
                        .setMillis(outcome.took().toMillis()).build();
            } catch (IOException e) {
                throw Status.FAILED_PRECONDITION.withDescription("cannot use " + file + " as the new key-encryption"
                        + " key: " + e.getMessage()).asException();
            } catch (IllegalStateException e) {
                throw Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asException();
            }
        });
    }

    private static boolean isFile(String path) {
        try {
            return Files.isRegularFile(Path.of(path));
        } catch (InvalidPathException e) {
            return false;
        }
    }

    /** Audited with the key id; the CSR is public and goes back to the caller only. */
    @Override
    public void prepareIntermediate(PrepareIntermediateRequest request,
            StreamObserver<PrepareIntermediateResponse> response) {
        calls.runRecording("ca.prepare", "x509 next intermediate", "", response, success -> {
            OfflineIntermediates.Prepared prepared = refusing(() -> x509Keys.prepare(new ChangeRecord(audit, success)));
            return PrepareIntermediateResponse.newBuilder().setKeyId(prepared.key().id())
                    .setCsrPem(prepared.key().csrPem()).setCreatedAt(Protos.timestamp(prepared.key().createdAt()))
                    .setExisting(prepared.existing()).build();
        });
    }

    @Override
    public void importIntermediate(ImportIntermediateRequest request, StreamObserver<ListKeysResponse> response) {
        calls.runRecording("ca.import-intermediate", "x509 intermediate", "", response, success -> {
            if (request.getCertificatePem().isBlank()) {
                throw AuditedCall.invalid("certificate_pem is required: the intermediate certificate the offline root"
                        + " signed, PEM");
            }
            refusing(() -> x509Keys.importIntermediate(request.getCertificatePem(), new ChangeRecord(audit, success)));
            afterRotation.run();
            return list(KeyKind.KEY_KIND_X509);
        });
    }

    @Override
    public void addRoot(AddRootRequest request, StreamObserver<AddRootResponse> response) {
        String target = request.getGenerate() ? "x509 root (generated)" : "x509 root";
        calls.runRecording("ca.add-root", target, "", response, success -> {
            if (request.getGenerate() == !request.getCertificatePem().isBlank()) {
                throw AuditedCall.invalid("give exactly one of certificate_pem (an offline root's certificate) or"
                        + " generate (a new root made by this server)");
            }
            CaCertificate root = refusing(() -> x509Keys.addRoot(request.getGenerate() ? Optional.empty()
                    : Optional.of(request.getCertificatePem()), new ChangeRecord(audit, success)));
            afterRotation.run();
            return AddRootResponse.newBuilder().setKeyId(root.keyId())
                    .setSha256Fingerprint(dev.lanyard.crypto.Pem.sha256Fingerprint(root.certificate()))
                    .setNotAfter(Protos.timestamp(root.certificate().getNotAfter().toInstant()))
                    .setBundlePem(dev.lanyard.crypto.Pem.certificates(x509Keys.roots())).build();
        });
    }

    @FunctionalInterface
    private interface Capability<T> {
        T call() throws Refusal;
    }

    private static <T> T refusing(Capability<T> capability) throws StatusException {
        try {
            return capability.call();
        } catch (Refusal refusal) {
            throw Statuses.exception(refusal);
        }
    }

    private ListKeysResponse list(KeyKind kind) throws StatusException {
        ListKeysResponse.Builder b = ListKeysResponse.newBuilder();
        if (kind == KeyKind.KEY_KIND_X509 || kind == KeyKind.KEY_KIND_UNSPECIFIED) {
            b.addAllKeys(x509Keys.list());
        }
        if (kind == KeyKind.KEY_KIND_JWT || kind == KeyKind.KEY_KIND_UNSPECIFIED) {
            for (SigningKey key : jwtKeys.published()) {
                KeyInfo.Builder info = KeyInfo.newBuilder()
                        .setKeyId(key.kid())
                        .setKind(KeyKind.KEY_KIND_JWT)
                        .setStatus(key.status().name())
                        .setAlgorithm(key.algorithm().jws().getName())
                        .setCreatedAt(Protos.timestamp(key.createdAt()));
                key.activatedAt().ifPresent(t -> info.setActivatedAt(Protos.timestamp(t)));
                key.retiredAt().ifPresent(t -> info.setRetiredAt(Protos.timestamp(t)));
                b.addKeys(info);
            }
        }
        if (kind == KeyKind.UNRECOGNIZED) {
            throw AuditedCall.invalid("unknown key kind");
        }
        ListKeysResponse withSteps = withNextSteps(b.build());
        if (kind == KeyKind.KEY_KIND_X509 || kind == KeyKind.KEY_KIND_UNSPECIFIED) {
            return withSteps.toBuilder().addAllWarnings(x509Keys.warning().stream().toList()).build();
        }
        return withSteps;
    }

    /** Each key's next scheduled step (activation, retirement, ...) as its kind's rotation rules say. */
    private ListKeysResponse withNextSteps(ListKeysResponse keys) {
        ListKeysResponse.Builder b = ListKeysResponse.newBuilder();
        for (KeyKind kind : new KeyKind[] {KeyKind.KEY_KIND_X509, KeyKind.KEY_KIND_JWT}) {
            RotationPlanner planner = kind == KeyKind.KEY_KIND_JWT ? jwtKeys.planner() : x509Keys.planner();
            // DROPPED CA keys have no next step (and no place in the rotation rules)
            List<KeyInfo> ofKind = keys.getKeysList().stream().filter(k -> k.getKind() == kind)
                    .filter(k -> !k.getStatus().equals("DROPPED")).toList();
            java.util.Map<String, KeySlot> x509 = kind == KeyKind.KEY_KIND_X509
                    ? x509Keys.slots().stream().collect(java.util.stream.Collectors.toMap(KeySlot::id, s -> s))
                    : java.util.Map.of();
            List<KeySlot> slots = ofKind.stream().map(k -> x509.getOrDefault(k.getKeyId(), slot(k))).toList();
            for (int i = 0; i < ofKind.size(); i++) {
                KeyInfo.Builder info = ofKind.get(i).toBuilder();
                planner.next(slots, slots.get(i)).ifPresent(t -> info.setNextStep(t.step())
                        .setNextStepAt(Protos.timestamp(t.at())));
                b.addKeys(info);
            }
            keys.getKeysList().stream().filter(k -> k.getKind() == kind && k.getStatus().equals("DROPPED"))
                    .forEach(b::addKeys);
        }
        return b.build();
    }

    private static java.time.Instant instant(com.google.protobuf.Timestamp t) {
        return java.time.Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }

    private static KeySlot slot(KeyInfo k) {
        return new KeySlot(k.getKeyId(), KeyStatus.valueOf(k.getStatus()), instant(k.getCreatedAt()),
                k.hasActivatedAt() ? Optional.of(instant(k.getActivatedAt())) : Optional.empty(),
                k.hasRetiredAt() ? Optional.of(instant(k.getRetiredAt())) : Optional.empty());
    }
}
