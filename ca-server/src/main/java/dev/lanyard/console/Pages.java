package dev.lanyard.console;

import java.util.Map;
import java.util.Optional;

/** Which page a GET path shows. */
final class Pages {

    private final OverviewPage overview;
    private final IdentitiesPage identities;
    private final RevocationsPage revocations;
    private final AuditPage audit;
    private final ProtoPage contracts;
    private final ProtoPage policy;

    Pages(ConsoleSources sources) {
        this.overview = new OverviewPage(sources);
        this.identities = new IdentitiesPage(sources);
        this.revocations = new RevocationsPage(sources);
        this.audit = new AuditPage(sources);
        this.contracts = new ProtoPage("Contracts", "The audiences, methods and scopes the contract registry holds"
                + " (read-only; publish with <code>lanyard contracts publish</code>).", sources.contracts());
        this.policy = new ProtoPage("Policy", "The grants policy in force (read-only; apply with"
                + " <code>lanyard policy apply</code>).", sources.policy());
    }

    /** The whole page for {@code path}, or empty for no such page. */
    Optional<String> render(String path, Map<String, String> query, Sessions.Session session) {
        String admin = session.grant().adminId();
        return switch (path) {
            case "/console", "/console/" -> Optional.of(Html.page("Overview", admin, overview.body()));
            case "/console/identities" -> Optional.of(Html.page("Identities", admin, identities.body(query, session)));
            case "/console/revocations" -> Optional.of(Html.page("Revocations", admin, revocations.body()));
            case "/console/audit" -> Optional.of(Html.page("Audit", admin, audit.body(query)));
            case "/console/contracts" -> Optional.of(Html.page("Contracts", admin, contracts.body()));
            case "/console/policy" -> Optional.of(Html.page("Policy", admin, policy.body()));
            default -> Optional.empty();
        };
    }
}
