package dev.lanyard.tools;

import io.grpc.netty.shaded.io.netty.util.ResourceLeakDetector;

/**
 * Netty's leak detector samples one buffer in 128 and records a stack trace at each touch of it:
 * about 1 % of a busy server's CPU (perf, bench token --concurrency 16). A production server runs
 * without it unless the operator sets a level; the tests and {@code lanyard dev} keep Netty's default.
 */
final class LeakDetection {

    static final String LEVEL_PROPERTY = "io.grpc.netty.shaded.io.netty.leakDetection.level";

    private LeakDetection() {
    }

    /** Turns the detector off, unless {@value #LEVEL_PROPERTY} names a level. */
    static void offUnlessAsked() {
        if (System.getProperty(LEVEL_PROPERTY) == null) {
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        }
    }
}
