package dev.lanyard.contract;

import java.util.List;

/**
 * The contracts one descriptor set declares, ordered by audience, and the problems that did not
 * stop it from being accepted (services without an audience, methods without scopes).
 */
public record ContractSet(List<ServiceContract> services, List<String> warnings) {

    public ContractSet {
        services = List.copyOf(services);
        warnings = List.copyOf(warnings);
    }
}
