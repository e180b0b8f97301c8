package dev.lanyard.store;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.lanyard.v1.Policy;
import java.time.Instant;
import java.util.Optional;
import javax.sql.DataSource;

/** Every applied grants policy, by version; the newest is the one in force after a restart. */
public final class JdbcPolicyRepository {

    private final Jdbc jdbc;

    public JdbcPolicyRepository(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    /**
     * Stores {@code policy} under its version.
     *
     * @return false, storing nothing, if that version is already stored (another replica applied it)
     */
    public boolean save(Policy policy, String appliedBy, Instant at) {
        try {
            insert(policy, appliedBy, at);
            return true;
        } catch (StoreException e) {
            if (e.getCause() instanceof java.sql.SQLException sql && Jdbc.isConstraintViolation(sql)) {
                return false;
            }
            throw e;
        }
    }

    private void insert(Policy policy, String appliedBy, Instant at) {
        jdbc.update("insert into policies (version, policy, applied_at, applied_by) values (?, ?, ?, ?)", s -> {
            s.setLong(1, policy.getVersion());
            s.setString(2, json(policy));
            Jdbc.setInstant(s, 3, at);
            s.setString(4, appliedBy);
        });
    }

    /** The highest version applied, 0 if none: a cheap check whether another replica applied one. */
    public long latestVersion() {
        return jdbc.queryOne("select coalesce(max(version), 0) as v from policies", s -> { }, row -> row.getLong("v"))
                .orElse(0L);
    }

    public Optional<Policy> latest() {
        return jdbc.queryOne("select policy from policies order by version desc fetch first 1 rows only", s -> { },
                row -> parse(row.getString("policy")));
    }

    private static String json(Policy policy) {
        try {
            return JsonFormat.printer().print(policy);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("a policy cannot be printed as JSON", e);
        }
    }

    private static Policy parse(String json) {
        try {
            Policy.Builder builder = Policy.newBuilder();
            JsonFormat.parser().merge(json, builder);
            return builder.build();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("a stored policy is unreadable", e);
        }
    }
}
