package dev.lanyard.rpc;

import dev.lanyard.revocation.Revocation;
import dev.lanyard.revocation.RevocationRegistry;
import io.grpc.Status;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The streaming calls open now, each under the caller it was authenticated as. The chain checks a
 * caller when its call starts, but a stream can outlive that check by hours: {@link #sweep()} ends
 * every open call whose caller has since been revoked (its identity or its certificate's serial, here
 * or on another replica: the server sweeps after every batch the registry applies) or whose
 * certificate has expired (the server sweeps every second). Unary calls are not kept: they end before either matters,
 * and the hot paths (renewals, tokens) pay nothing for this.
 */
final class OpenCalls {

    /** An open call the chain can end. */
    interface Call {

        AuthenticatedPeer peer();

        /** Ends the call with {@code status}, audited as the chain's step {@code step}; only the first end counts. */
        void end(String step, Status status);
    }

    private final Set<Call> open = ConcurrentHashMap.newKeySet();
    private final RevocationRegistry revocations;
    private final Clock clock;

    OpenCalls(RevocationRegistry revocations, Clock clock) {
        this.revocations = revocations;
        this.clock = clock;
    }

    /** Keeps {@code call} until it is removed, then ends it at once if its caller is no longer good. */
    void add(Call call) {
        open.add(call);
        check(call, clock.instant()); // a revocation recorded since the chain's own check, before the add
    }

    void remove(Call call) {
        open.remove(call);
    }

    int size() {
        return open.size();
    }

    /** Ends every open call whose caller is revoked or whose certificate has expired. */
    void sweep() {
        Instant now = clock.instant();
        for (Call call : open) {
            check(call, now);
        }
    }

    private void check(Call call, Instant now) {
        AuthenticatedPeer peer = call.peer();
        Optional<Revocation> revoked = revocations.refusalFor(peer.spiffeId(), Optional.of(peer.serialHex()));
        if (revoked.isPresent()) {
            call.end("revoked", Status.PERMISSION_DENIED.withDescription(revoked.get().refusalMessage()
                    + "; the call open under it was closed"));
        } else if (now.isAfter(peer.bound().notAfter())) {
            call.end("expired", Status.UNAUTHENTICATED.withDescription("client certificate expired at "
                    + peer.bound().notAfter() + "; the call open under it was closed, call again with a renewed one"));
        }
    }
}
