package dev.lanyard.store;

import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import javax.sql.DataSource;

/** The history of KEK rotations: which KEK (by id) wraps the data keys since, and the file it came from. */
public final class JdbcKekRotations {

    /** One rotation: started, and finished once {@code rewrapped} is set. */
    public record KekRotationRecord(String kekId, Path kekFile, int rewrapped, Instant finishedAt) {
    }

    private final Jdbc jdbc;

    public JdbcKekRotations(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    /**
     * Records that {@code kekId}, read from {@code kekFile}, wraps data keys from now on: before any
     * key is re-wrapped under it, so a server restarted mid-way still loads it.
     */
    public void started(String kekId, Path kekFile, Instant at) {
        jdbc.update("insert into kek_rotations (kek_id, kek_file, rewrapped, finished_at) values (?, ?, 0, ?)", s -> {
            s.setString(1, kekId);
            s.setString(2, kekFile.toString());
            Jdbc.setInstant(s, 3, at);
        });
    }

    /** How many data keys the latest rotation to {@code kekId} re-wrapped, and when it ended. */
    public void finished(String kekId, int rewrapped, Instant at) {
        jdbc.update("update kek_rotations set rewrapped = ?, finished_at = ? where id ="
                + " (select max(id) from kek_rotations where kek_id = ?)", s -> {
                    s.setInt(1, rewrapped);
                    Jdbc.setInstant(s, 2, at);
                    s.setString(3, kekId);
                });
    }

    public Optional<KekRotationRecord> latest() {
        return jdbc.query("select * from kek_rotations order by id desc", s -> { },
                row -> new KekRotationRecord(row.getString("kek_id"), Path.of(row.getString("kek_file")),
                        row.getInt("rewrapped"), Jdbc.getInstant(row, "finished_at")))
                .stream().findFirst();
    }
}
