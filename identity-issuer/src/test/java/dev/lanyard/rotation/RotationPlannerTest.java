package dev.lanyard.rotation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RotationPlannerTest {

    private static final Instant T0 = Instant.parse("2026-11-01T00:00:00Z");
    private final RotationPlanner planner = new RotationPlanner(
            new RotationPolicy(Duration.ofHours(24), Duration.ofHours(1), Duration.ofMinutes(10)));

    @Test
    void bootstrapsWhenThereIsNoKey() {
        assertThat(planner.plan(List.of(), T0)).containsExactly(RotationStep.of(RotationStep.Kind.BOOTSTRAP));
    }

    @Test
    void preparesExactlyOnePublishLeadBeforeTheEnd() {
        List<KeySlot> keys = List.of(active("a", T0));
        assertThat(planner.plan(keys, T0.plus(Duration.ofHours(23)).minusMillis(1))).isEmpty();
        assertThat(planner.plan(keys, T0.plus(Duration.ofHours(23))))
                .containsExactly(RotationStep.of(RotationStep.Kind.PREPARE));
    }

    @Test
    void nextSaysWhenEachKeyTakesItsNextStep() {
        KeySlot a = active("a", T0);
        assertThat(planner.next(List.of(a), a))
                .contains(new RotationPlanner.Transition("next key prepared", T0.plus(Duration.ofHours(23))));
        KeySlot b = prepared("b", T0.plus(Duration.ofHours(23)));
        assertThat(planner.next(List.of(a, b), b))
                .contains(new RotationPlanner.Transition("activates", T0.plus(Duration.ofHours(24))));
        assertThat(planner.next(List.of(a, b), a))
                .contains(new RotationPlanner.Transition("retires", T0.plus(Duration.ofHours(24))));
        // Prepared by hand early: it waits for the active key's end; prepared late: for its publish lead.
        KeySlot early = prepared("c", T0.plus(Duration.ofHours(1)));
        assertThat(planner.next(List.of(a, early), early)).map(RotationPlanner.Transition::at)
                .contains(T0.plus(Duration.ofHours(24)));
        KeySlot late = prepared("d", T0.plus(Duration.ofHours(30)));
        assertThat(planner.next(List.of(a, late), late)).map(RotationPlanner.Transition::at)
                .contains(T0.plus(Duration.ofHours(31)));
    }

    @Test
    void aKeyWhoseOwnValidityEndsSoonerHandsOverThen() {
        // An imported CA certificate signed for 12 h of a 24 h policy: its hand-over is its own midpoint.
        KeySlot a = new KeySlot("a", KeyStatus.ACTIVE, T0, Optional.of(T0), Optional.empty(),
                Optional.of(T0.plus(Duration.ofHours(6))));
        assertThat(planner.end(a)).isEqualTo(T0.plus(Duration.ofHours(6)));
        assertThat(planner.plan(List.of(a), T0.plus(Duration.ofHours(5))))
                .containsExactly(RotationStep.of(RotationStep.Kind.PREPARE));
        KeySlot b = prepared("b", T0.plus(Duration.ofHours(5)));
        assertThat(planner.plan(List.of(a, b), T0.plus(Duration.ofHours(6)).minusMillis(1))).isEmpty();
        assertThat(planner.plan(List.of(a, b), T0.plus(Duration.ofHours(6))))
                .containsExactly(new RotationStep(RotationStep.Kind.ACTIVATE, "b"));
        assertThat(planner.next(List.of(a, b), b)).map(RotationPlanner.Transition::at)
                .contains(T0.plus(Duration.ofHours(6)));
        // A later own end than the policy's changes nothing.
        KeySlot longer = new KeySlot("c", KeyStatus.ACTIVE, T0, Optional.of(T0), Optional.empty(),
                Optional.of(T0.plus(Duration.ofHours(48))));
        assertThat(planner.end(longer)).isEqualTo(T0.plus(Duration.ofHours(24)));
    }

    @Test
    void activatesAtTheEndOnlyOncePublishedLongEnough() {
        Instant preparedAt = T0.plus(Duration.ofHours(23));
        List<KeySlot> keys = List.of(active("a", T0), prepared("b", preparedAt));
        assertThat(planner.plan(keys, T0.plus(Duration.ofHours(24)).minusMillis(1))).isEmpty();
        assertThat(planner.plan(keys, T0.plus(Duration.ofHours(24))))
                .containsExactly(new RotationStep(RotationStep.Kind.ACTIVATE, "b"));
        // Prepared late (the server was down): activation waits for the full publish lead.
        List<KeySlot> late = List.of(active("a", T0), prepared("b", T0.plus(Duration.ofHours(30))));
        assertThat(planner.plan(late, T0.plus(Duration.ofHours(30)).plusSeconds(3599))).isEmpty();
        assertThat(planner.plan(late, T0.plus(Duration.ofHours(31))))
                .containsExactly(new RotationStep(RotationStep.Kind.ACTIVATE, "b"));
    }

    @Test
    void dropsARetiredKeyOnlyAfterItsRetention() {
        Instant retiredAt = T0.plus(Duration.ofHours(24));
        KeySlot retired = new KeySlot("a", KeyStatus.RETIRED, T0, Optional.of(T0), Optional.of(retiredAt));
        List<KeySlot> keys = List.of(retired, active("b", retiredAt));
        assertThat(planner.plan(keys, retiredAt.plus(Duration.ofMinutes(10)).minusMillis(1))).isEmpty();
        assertThat(planner.plan(keys, retiredAt.plus(Duration.ofMinutes(10))))
                .containsExactly(new RotationStep(RotationStep.Kind.DROP, "a"));
    }

    @Test
    void retiresExtraActiveKeysFromARace() {
        List<KeySlot> keys = List.of(active("a", T0), active("b", T0.plusSeconds(1)));
        assertThat(planner.plan(keys, T0.plusSeconds(2))).containsExactly(new RotationStep(RotationStep.Kind.RETIRE, "a"));
    }

    @Test
    void forcedStepsPrepareThenActivateButNeverEarly() {
        assertThat(planner.force(List.of(active("a", T0)), T0).step())
                .contains(RotationStep.of(RotationStep.Kind.PREPARE));
        List<KeySlot> keys = List.of(active("a", T0), prepared("b", T0.plusSeconds(60)));
        RotationPlanner.Forced early = planner.force(keys, T0.plusSeconds(120));
        assertThat(early.step()).isEmpty();
        assertThat(early.refusal()).contains("b may sign from 2026-11-01T01:01:00Z");
        assertThat(planner.force(keys, T0.plusSeconds(3660)).step())
                .contains(new RotationStep(RotationStep.Kind.ACTIVATE, "b"));
    }

    @Test
    void policyRejectsContradictions() {
        assertThatThrownBy(() -> new RotationPolicy(Duration.ofHours(1), Duration.ofHours(1), Duration.ofMinutes(5)))
                .hasMessageContaining("shorter than the key lifetime");
    }

    private static KeySlot active(String id, Instant at) {
        return new KeySlot(id, KeyStatus.ACTIVE, at, Optional.of(at), Optional.empty());
    }

    private static KeySlot prepared(String id, Instant at) {
        return new KeySlot(id, KeyStatus.PREPARED, at, Optional.empty(), Optional.empty());
    }
}
