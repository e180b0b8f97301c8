package dev.lanyard.contract;

import java.util.List;

/**
 * The outcome of a publish: the registry version after it, whether anything changed (publishing
 * the bytes a source already has stores nothing), the contracts the set declares, and warnings.
 */
public record PublishResult(String source, long version, boolean changed, List<ServiceContract> services,
        List<String> warnings) {

    public PublishResult {
        services = List.copyOf(services);
        warnings = List.copyOf(warnings);
    }
}
