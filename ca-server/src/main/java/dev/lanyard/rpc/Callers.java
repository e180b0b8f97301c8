package dev.lanyard.rpc;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusException;

/** The caller of the current call, as the chain authenticated it; handlers read it from here. */
public final class Callers {

    static final Context.Key<Object> PEER = Context.key("lanyard-peer");

    private Callers() {
    }

    /** The authenticated caller of the current call, or UNAUTHENTICATED saying why there is none. */
    public static AuthenticatedPeer require() throws StatusException {
        Object peer = PEER.get();
        if (peer instanceof AuthenticatedPeer authenticated) {
            return authenticated;
        }
        throw Status.UNAUTHENTICATED.withDescription(peer == null
                ? "this call needs a client certificate (mTLS)" : (String) peer).asException();
    }

    /** The caller's SPIFFE ID for audit records, or "anonymous". */
    public static String actor() {
        return PEER.get() instanceof AuthenticatedPeer peer ? peer.spiffeId().toString() : "anonymous";
    }
}
