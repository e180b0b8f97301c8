package dev.lanyard.store;

import dev.lanyard.bundle.BundleSequences;
import java.util.List;
import java.util.OptionalLong;
import javax.sql.DataSource;

/** The bundle's sequence in its one row (V93): read when the content is the one it numbers, moved under a row lock when not. */
public final class JdbcBundleSequences implements BundleSequences {

    private record Kept(String contentKey, long sequence) {
    }

    private final Jdbc jdbc;

    public JdbcBundleSequences(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    @Override
    public OptionalLong kept(String contentKey) {
        return jdbc.queryOne("select content_key, sequence from bundle_sequence where id = 1", s -> { },
                row -> new Kept(row.getString(1), row.getLong(2))).filter(k -> k.contentKey().equals(contentKey))
                .map(k -> OptionalLong.of(k.sequence())).orElse(OptionalLong.empty());
    }

    @Override
    public long sequenceFor(String contentKey, long floor) {
        OptionalLong kept = kept(contentKey);
        if (kept.isPresent()) {
            return kept.getAsLong();
        }
        try {
            return keep(contentKey, floor);
        } catch (StoreException e) {
            if (e.getCause() instanceof java.sql.SQLException sql && Jdbc.isConstraintViolation(sql)) {
                return sequenceFor(contentKey, floor); // another replica wrote the first row at the same moment
            }
            throw e;
        }
    }

    /**
     * Inside a restore's transaction: forgets the kept sequence, so the restored keys are published under
     * a new one at least the time of the first start, above any the lost server can have published.
     */
    public static void forget(java.sql.Connection c) throws java.sql.SQLException {
        Jdbc.update(c, "delete from bundle_sequence", s -> { });
    }

    private long keep(String contentKey, long floor) {
        return jdbc.inTransaction(c -> {
            List<Kept> locked = Jdbc.query(c, "select content_key, sequence from bundle_sequence where id = 1"
                    + " for update", s -> { }, row -> new Kept(row.getString(1), row.getLong(2)));
            if (!locked.isEmpty() && locked.get(0).contentKey().equals(contentKey)) {
                return locked.get(0).sequence(); // another replica numbered the same keys meanwhile
            }
            long next = Math.max(floor, locked.isEmpty() ? 1 : locked.get(0).sequence() + 1);
            if (locked.isEmpty()) { // the first bundle this store publishes
                Jdbc.update(c, "insert into bundle_sequence (id, content_key, sequence) values (1, ?, ?)", s -> {
                    s.setString(1, contentKey);
                    s.setLong(2, next);
                });
            } else {
                Jdbc.update(c, "update bundle_sequence set content_key = ?, sequence = ? where id = 1", s -> {
                    s.setString(1, contentKey);
                    s.setLong(2, next);
                });
            }
            return next;
        });
    }
}
