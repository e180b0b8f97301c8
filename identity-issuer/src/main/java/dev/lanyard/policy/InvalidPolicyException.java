package dev.lanyard.policy;

import java.util.List;

/** A policy that cannot be applied, with every problem found. The policy in force is unchanged. */
public final class InvalidPolicyException extends RuntimeException {

    private final List<String> problems;

    public InvalidPolicyException(List<String> problems) {
        super(String.join("; ", problems));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("an invalid policy needs at least one problem");
        }
        this.problems = List.copyOf(problems);
    }

    public InvalidPolicyException(String problem) {
        this(List.of(problem));
    }

    public List<String> problems() {
        return problems;
    }
}
