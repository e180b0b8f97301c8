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

    public void save(Policy policy, String appliedBy, Instant at) {
        jdbc.update("insert into policies (version, policy, applied_at, applied_by) values (?, ?, ?, ?)", s -> {
            s.setLong(1, policy.getVersion());
            s.setString(2, json(policy));
            Jdbc.setInstant(s, 3, at);
            s.setString(4, appliedBy);
        });
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
