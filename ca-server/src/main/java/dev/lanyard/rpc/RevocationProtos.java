package dev.lanyard.rpc;

import dev.lanyard.revocation.Revocation;
import dev.lanyard.revocation.RevocationEvent;
import dev.lanyard.revocation.RevocationReason;
import dev.lanyard.revocation.RevocationTarget;
import dev.lanyard.v1.Reinstatement;
import io.grpc.Status;
import io.grpc.StatusException;

/** Conversions between the revocation model and its protobuf messages. */
public final class RevocationProtos {

    private RevocationProtos() {
    }

    public static dev.lanyard.v1.Revocation revocation(Revocation r) {
        dev.lanyard.v1.Revocation.Builder b = dev.lanyard.v1.Revocation.newBuilder()
                .setSequence(r.sequence())
                .setTarget(target(r.target()))
                .setReasonValue(r.reason().code())
                .setNote(r.note())
                .setRevokedAt(Protos.timestamp(r.revokedAt()))
                .setRevokedBy(r.revokedBy())
                .setSpiffeId(r.target().kind() == RevocationTarget.Kind.SPIFFE_ID ? "" : r.spiffeId())
                .setTrustDomain(r.trustDomain());
        r.expiresAt().ifPresent(t -> b.setExpiresAt(Protos.timestamp(t)));
        return b.build();
    }

    public static dev.lanyard.v1.RevocationEvent event(RevocationEvent event) {
        dev.lanyard.v1.RevocationEvent.Builder b = dev.lanyard.v1.RevocationEvent.newBuilder()
                .setSequence(event.sequence());
        if (event instanceof RevocationEvent.Revoked revoked) {
            b.setRevoked(revocation(revoked.revocation()));
        } else if (event instanceof RevocationEvent.Reinstated r) {
            b.setReinstated(Reinstatement.newBuilder().setSpiffeId(r.spiffeId())
                    .setReinstatedAt(Protos.timestamp(r.reinstatedAt())).setReinstatedBy(r.reinstatedBy()));
        }
        return b.build();
    }

    public static dev.lanyard.v1.RevocationTarget target(RevocationTarget t) {
        dev.lanyard.v1.RevocationTarget.Builder b = dev.lanyard.v1.RevocationTarget.newBuilder();
        switch (t.kind()) {
            case SERIAL -> b.setSerial(t.value());
            case SPIFFE_ID -> b.setSpiffeId(t.value());
            case JTI -> b.setJti(t.value());
        }
        return b.build();
    }

    public static RevocationTarget target(dev.lanyard.v1.RevocationTarget t) throws StatusException {
        try {
            return switch (t.getTargetCase()) {
                case SERIAL -> RevocationTarget.serial(t.getSerial());
                case SPIFFE_ID -> RevocationTarget.spiffeId(t.getSpiffeId());
                case JTI -> RevocationTarget.jti(t.getJti());
                case TARGET_NOT_SET -> throw invalid("target must name a serial, a spiffe_id or a jti");
            };
        } catch (IllegalArgumentException e) {
            throw invalid(e.getMessage());
        }
    }

    public static RevocationReason reason(int code) throws StatusException {
        return RevocationReason.ofCode(code).orElseThrow(
                () -> invalid("reason " + code + " is not an RFC 5280 reason an admin may give"));
    }

    private static StatusException invalid(String message) {
        return Status.INVALID_ARGUMENT.withDescription(message).asException();
    }
}
