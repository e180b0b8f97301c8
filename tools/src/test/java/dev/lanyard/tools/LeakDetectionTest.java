package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.netty.shaded.io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class LeakDetectionTest {

    private final ResourceLeakDetector.Level before = ResourceLeakDetector.getLevel();

    @AfterEach
    void restore() {
        System.clearProperty(LeakDetection.LEVEL_PROPERTY);
        ResourceLeakDetector.setLevel(before);
    }

    @Test
    void aProductionServerRunsWithoutTheDetector() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.SIMPLE);
        LeakDetection.offUnlessAsked();
        assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.DISABLED);
    }

    @Test
    void aLevelTheOperatorSetIsKept() {
        System.setProperty(LeakDetection.LEVEL_PROPERTY, "paranoid");
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        LeakDetection.offUnlessAsked();
        assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.PARANOID);
    }
}
