package dev.lanyard.store;

import javax.sql.DataSource;

/**
 * One small query that says whether keys, contracts, policy, revocations or federations changed since the
 * last look: a replica that polls reloads only what moved, and reads nothing more when nothing did.
 */
public final class JdbcChangeMarkers {

    /** A value per topic; a topic changed when its value did. */
    public record Markers(String keys, long contracts, long policy, long revocations, String federation) {
    }

    private final Jdbc jdbc;

    public JdbcChangeMarkers(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    public Markers read() {
        return jdbc.queryOne("select"
                + " (select count(*) from signing_keys) as jwt_count,"
                + " (select max(coalesce(retired_at, activated_at, created_at)) from signing_keys) as jwt_latest,"
                + " (select count(*) from signing_keys where status = 'ACTIVE') as jwt_active,"
                + " (select count(*) from ca_keys) as ca_count,"
                + " (select max(coalesce(retired_at, activated_at, created_at)) from ca_keys) as ca_latest,"
                + " (select count(*) from ca_keys where status in ('ACTIVE', 'DROPPED')) as ca_settled,"
                // A root that leaves the bundle goes from ACTIVE to DROPPED: counted apart, or ca_settled hides it.
                + " (select count(*) from ca_keys where status = 'DROPPED') as ca_dropped,"
                // No trigger notifies of it (a PostgreSQL-only migration would end the schema versions apart):
                // a bundle sequence another replica moved for keys this one holds is taken up at the poll.
                + " (select coalesce(max(sequence), 0) from bundle_sequence) as bundle_sequence,"
                + " (select coalesce(max(version), 0) from contract_sets) as contracts,"
                + " (select coalesce(max(version), 0) from policies) as policy,"
                + " (select coalesce(max(sequence), 0) from revocation_events) as revocations,"
                + " (select count(*) from federations) as fed_count,"
                + " (select max(created_at) from federations) as fed_created,"
                + " (select max(bundle_fetched_at) from federations) as fed_fetched,"
                + " (select coalesce(sum(bundle_sequence), 0) from federations) as fed_sequences", s -> { },
                row -> new Markers(row.getLong("jwt_count") + "/" + Jdbc.getInstant(row, "jwt_latest") + "/"
                        + row.getLong("jwt_active") + "/" + row.getLong("ca_count") + "/"
                        + Jdbc.getInstant(row, "ca_latest") + "/" + row.getLong("ca_settled") + "/"
                        + row.getLong("ca_dropped") + "/" + row.getLong("bundle_sequence"),
                        row.getLong("contracts"), row.getLong("policy"), row.getLong("revocations"),
                        row.getLong("fed_count") + "/" + Jdbc.getInstant(row, "fed_created") + "/"
                                + Jdbc.getInstant(row, "fed_fetched") + "/" + row.getLong("fed_sequences")))
                .orElseThrow();
    }
}
