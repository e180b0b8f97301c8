package dev.lanyard.contract;

import java.util.List;

/** A descriptor set that cannot be published, with every problem found. Nothing was changed. */
public final class InvalidContractException extends RuntimeException {

    private final List<String> problems;

    public InvalidContractException(List<String> problems) {
        super(String.join("; ", problems));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("an invalid contract needs at least one problem");
        }
        this.problems = List.copyOf(problems);
    }

    public InvalidContractException(String problem) {
        this(List.of(problem));
    }

    /** Each problem as a sentence a person can act on; {@link #getMessage()} joins them. */
    public List<String> problems() {
        return problems;
    }

    /** The message, for mapping to a gRPC status. */
    public String reason() {
        return getMessage();
    }
}
