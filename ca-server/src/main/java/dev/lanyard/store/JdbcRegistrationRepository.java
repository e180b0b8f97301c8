package dev.lanyard.store;

import dev.lanyard.registration.Registration;
import dev.lanyard.registration.RegistrationRepository;
import dev.lanyard.spiffe.SpiffeId;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

public final class JdbcRegistrationRepository implements RegistrationRepository {

    private final Jdbc jdbc;

    public JdbcRegistrationRepository(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    @Override
    public boolean create(Registration registration) {
        return jdbc.inTransaction(c -> {
            boolean exists = !Jdbc.query(c, "select 1 from registrations where spiffe_id = ?",
                    s -> s.setString(1, registration.spiffeId().toString()), row -> 1).isEmpty();
            if (exists) {
                return false;
            }
            try {
                Jdbc.update(c, "insert into registrations (spiffe_id, dns_names, max_ttl_seconds, created_at,"
                        + " parent_id, selectors, federates_with) values (?, ?, ?, ?, ?, ?, ?)", s -> {
                            s.setString(1, registration.spiffeId().toString());
                            s.setString(2, String.join(" ", registration.dnsNames()));
                            s.setLong(3, registration.maxTtl().getSeconds());
                            Jdbc.setInstant(s, 4, registration.createdAt());
                            s.setString(5, registration.parentId().orElse(null));
                            s.setString(6, String.join("\n", registration.selectors()));
                            s.setString(7, String.join(" ", registration.federatesWith()));
                        });
                return true;
            } catch (SQLException e) {
                if (Jdbc.isConstraintViolation(e)) {
                    return false; // a concurrent create won the race
                }
                throw e;
            }
        });
    }

    @Override
    public Optional<Registration> find(SpiffeId spiffeId) {
        return jdbc.queryOne("select * from registrations where spiffe_id = ?",
                s -> s.setString(1, spiffeId.toString()), JdbcRegistrationRepository::map);
    }

    @Override
    public List<Registration> list(String afterExclusive, int limit) {
        return jdbc.query("select * from registrations where spiffe_id > ? order by spiffe_id fetch first ? rows only",
                s -> {
                    s.setString(1, afterExclusive == null ? "" : afterExclusive);
                    s.setInt(2, limit);
                }, JdbcRegistrationRepository::map);
    }

    @Override
    public List<Registration> withParent(Collection<String> parents) {
        if (parents.isEmpty()) {
            return List.of();
        }
        List<String> list = List.copyOf(parents);
        String marks = String.join(", ", Collections.nCopies(list.size(), "?"));
        return jdbc.query("select * from registrations where parent_id in (" + marks + ") order by spiffe_id", s -> {
            for (int i = 0; i < list.size(); i++) {
                s.setString(i + 1, list.get(i));
            }
        }, JdbcRegistrationRepository::map);
    }

    @Override
    public boolean delete(SpiffeId spiffeId) {
        return jdbc.inTransaction(c -> {
            Jdbc.update(c, "delete from join_tokens where spiffe_id = ? and used_at is null",
                    s -> s.setString(1, spiffeId.toString()));
            return Jdbc.update(c, "delete from registrations where spiffe_id = ?",
                    s -> s.setString(1, spiffeId.toString())) == 1;
        });
    }

    private static Registration map(ResultSet row) throws SQLException {
        String dns = row.getString("dns_names");
        String selectors = row.getString("selectors");
        String federatesWith = row.getString("federates_with");
        return new Registration(SpiffeId.parse(row.getString("spiffe_id")),
                dns.isEmpty() ? List.of() : Arrays.asList(dns.split(" ")),
                Duration.ofSeconds(row.getLong("max_ttl_seconds")), Jdbc.getInstant(row, "created_at"),
                Optional.ofNullable(row.getString("parent_id")),
                selectors.isEmpty() ? List.of() : Arrays.asList(selectors.split("\n")),
                federatesWith.isEmpty() ? List.of() : Arrays.asList(federatesWith.split(" ")));
    }
}
