package dev.lanyard.server;

import io.grpc.StatusRuntimeException;

/** A refused call's status, as "CODE: description", for assertions; fails the test if the call succeeded. */
final class RpcRefusals {

    private RpcRefusals() {
    }

    static String of(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode() + ": " + e.getStatus().getDescription();
        }
        throw new AssertionError("the call was expected to be refused, and succeeded");
    }
}
