package dev.lanyard.store;

import dev.lanyard.agent.AgentRecord;
import dev.lanyard.agent.AgentRepository;
import dev.lanyard.spiffe.SpiffeId;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

public final class JdbcAgentRepository implements AgentRepository {

    private final Jdbc jdbc;

    public JdbcAgentRepository(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    @Override
    public void save(AgentRecord agent) {
        jdbc.inTransaction(c -> {
            Jdbc.update(c, "delete from agents where spiffe_id = ?", s -> s.setString(1, agent.spiffeId().toString()));
            return Jdbc.update(c, "insert into agents (spiffe_id, attestor, node_selectors, attested_at) values (?, ?, ?, ?)",
                    s -> {
                        s.setString(1, agent.spiffeId().toString());
                        s.setString(2, agent.attestor());
                        s.setString(3, String.join("\n", agent.nodeSelectors()));
                        Jdbc.setInstant(s, 4, agent.attestedAt());
                    });
        });
    }

    @Override
    public Optional<AgentRecord> find(SpiffeId spiffeId) {
        return jdbc.queryOne("select * from agents where spiffe_id = ?", s -> s.setString(1, spiffeId.toString()),
                row -> {
                    String selectors = row.getString("node_selectors");
                    return new AgentRecord(SpiffeId.parse(row.getString("spiffe_id")), row.getString("attestor"),
                            selectors.isEmpty() ? List.of() : Arrays.asList(selectors.split("\n")),
                            Jdbc.getInstant(row, "attested_at"));
                });
    }
}
