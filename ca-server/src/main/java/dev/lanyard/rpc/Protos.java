package dev.lanyard.rpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/** Conversions between protobuf well-known types and java.time / X.509. */
public final class Protos {

    private Protos() {
    }

    public static Timestamp timestamp(Instant instant) {
        return Timestamp.newBuilder().setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
    }

    public static com.google.protobuf.Duration duration(Duration duration) {
        return com.google.protobuf.Duration.newBuilder()
                .setSeconds(duration.getSeconds()).setNanos(duration.getNano()).build();
    }

    /** Empty when the field is unset, so "the server default" is explicit. */
    public static Optional<Duration> duration(boolean isSet, com.google.protobuf.Duration proto) {
        return isSet ? Optional.of(Duration.ofSeconds(proto.getSeconds(), proto.getNanos())) : Optional.empty();
    }

    public static ByteString der(X509Certificate certificate) {
        try {
            return ByteString.copyFrom(certificate.getEncoded());
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException("a certificate we hold cannot be encoded", e);
        }
    }
}
