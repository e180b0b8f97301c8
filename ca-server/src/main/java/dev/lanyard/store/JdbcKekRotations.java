package dev.lanyard.store;

import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import javax.sql.DataSource;

/** The history of KEK rotations: which KEK (by id) wraps the data keys since, and the file it came from. */
public final class JdbcKekRotations {

    /** One finished rotation. */
    public record KekRotationRecord(String kekId, Path kekFile, int rewrapped, Instant finishedAt) {
    }

    private final Jdbc jdbc;

    public JdbcKekRotations(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    public void record(KekRotationRecord rotation) {
        jdbc.update("insert into kek_rotations (kek_id, kek_file, rewrapped, finished_at) values (?, ?, ?, ?)", s -> {
            s.setString(1, rotation.kekId());
            s.setString(2, rotation.kekFile().toString());
            s.setInt(3, rotation.rewrapped());
            Jdbc.setInstant(s, 4, rotation.finishedAt());
        });
    }

    public Optional<KekRotationRecord> latest() {
        return jdbc.query("select * from kek_rotations order by id desc", s -> { },
                row -> new KekRotationRecord(row.getString("kek_id"), Path.of(row.getString("kek_file")),
                        row.getInt("rewrapped"), Jdbc.getInstant(row, "finished_at")))
                .stream().findFirst();
    }
}
