package dev.lanyard.store;

import dev.lanyard.federation.FederationRelationship;
import dev.lanyard.federation.FederationRepository;
import dev.lanyard.spiffe.SpiffeId;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/** Federation relationships and their last good bundles (table federations, V80). */
public final class JdbcFederationRepository implements FederationRepository {

    private final Jdbc jdbc;

    public JdbcFederationRepository(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    @Override
    public void put(FederationRelationship relationship, Optional<String> initialBundle, long sequence, Instant at) {
        jdbc.inTransaction(c -> {
            Jdbc.update(c, "delete from federations where trust_domain = ?",
                    s -> s.setString(1, relationship.trustDomain()));
            Jdbc.update(c, "insert into federations (trust_domain, endpoint_url, profile, endpoint_spiffe_id,"
                    + " bundle_json, bundle_sequence, bundle_fetched_at, created_at) values (?, ?, ?, ?, ?, ?, ?, ?)", s -> {
                        s.setString(1, relationship.trustDomain());
                        s.setString(2, relationship.endpoint().toString());
                        s.setString(3, relationship.profile().name());
                        s.setString(4, relationship.endpointId().map(SpiffeId::toString).orElse(null));
                        s.setString(5, initialBundle.orElse(null));
                        s.setLong(6, sequence);
                        Jdbc.setInstant(s, 7, initialBundle.isPresent() ? at : null);
                        Jdbc.setInstant(s, 8, relationship.createdAt());
                    });
            return null;
        });
    }

    @Override
    public boolean updateBundle(FederationRelationship relationship, String json, long sequence, Instant fetchedAt) {
        return jdbc.update("update federations set bundle_json = ?, bundle_sequence = ?, bundle_fetched_at = ?"
                + " where trust_domain = ? and endpoint_url = ? and profile = ? and coalesce(endpoint_spiffe_id, '') = ?"
                + " and created_at = ? and bundle_sequence <= ?", s -> {
                    s.setString(1, json);
                    s.setLong(2, sequence);
                    Jdbc.setInstant(s, 3, fetchedAt);
                    s.setString(4, relationship.trustDomain());
                    s.setString(5, relationship.endpoint().toString());
                    s.setString(6, relationship.profile().name());
                    s.setString(7, relationship.endpointId().map(SpiffeId::toString).orElse(""));
                    Jdbc.setInstant(s, 8, relationship.createdAt());
                    s.setLong(9, sequence);
                }) == 1;
    }

    @Override
    public boolean delete(String trustDomain) {
        return jdbc.update("delete from federations where trust_domain = ?", s -> s.setString(1, trustDomain)) == 1;
    }

    @Override
    public List<Stored> all() {
        return jdbc.query("select * from federations order by trust_domain", s -> { }, row -> new Stored(
                new FederationRelationship(row.getString("trust_domain"), URI.create(row.getString("endpoint_url")),
                        FederationRelationship.Profile.valueOf(row.getString("profile")),
                        Optional.ofNullable(row.getString("endpoint_spiffe_id")).map(SpiffeId::parse),
                        Jdbc.getInstant(row, "created_at")),
                Optional.ofNullable(row.getString("bundle_json")), row.getLong("bundle_sequence"),
                Optional.ofNullable(Jdbc.getInstant(row, "bundle_fetched_at"))));
    }
}
