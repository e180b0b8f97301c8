package dev.lanyard.store;

import dev.lanyard.contract.ContractRepository;
import dev.lanyard.contract.StoredContractSet;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import javax.sql.DataSource;

/** Published descriptor sets, every version kept; binary as base64 text for portability. */
public final class JdbcContractRepository implements ContractRepository {

    private final Jdbc jdbc;

    public JdbcContractRepository(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    @Override
    public long saveVersion(String source, byte[] descriptorSet, Instant at) {
        return jdbc.inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement(
                    "insert into contract_sets (source, descriptor_set, published_at) values (?, ?, ?)",
                    Statement.RETURN_GENERATED_KEYS)) {
                s.setString(1, source);
                s.setString(2, Base64.getEncoder().encodeToString(descriptorSet));
                Jdbc.setInstant(s, 3, at);
                s.executeUpdate();
                try (ResultSet keys = s.getGeneratedKeys()) {
                    keys.next();
                    return keys.getLong(1);
                }
            }
        });
    }

    @Override
    public long latestVersion() {
        return jdbc.queryOne("select coalesce(max(version), 0) as v from contract_sets", st -> { },
                row -> row.getLong("v")).orElse(0L);
    }

    @Override
    public List<StoredContractSet> latestPerSource() {
        return jdbc.query("select c.* from contract_sets c where c.version ="
                + " (select max(v.version) from contract_sets v where v.source = c.source) order by c.version",
                s -> { }, row -> new StoredContractSet(row.getString("source"), row.getLong("version"),
                        Base64.getDecoder().decode(row.getString("descriptor_set")),
                        Jdbc.getInstant(row, "published_at")));
    }
}
