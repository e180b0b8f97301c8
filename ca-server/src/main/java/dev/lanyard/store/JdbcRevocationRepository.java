package dev.lanyard.store;

import dev.lanyard.refusal.Refusal;
import dev.lanyard.refusal.RefusedInTransaction;
import dev.lanyard.revocation.Revocation;
import dev.lanyard.revocation.RevocationEvent;
import dev.lanyard.revocation.RevocationReason;
import dev.lanyard.revocation.RevocationRepository;
import dev.lanyard.revocation.RevocationTarget;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import javax.sql.DataSource;

/**
 * The revocation log in the database. Every writer takes the one-row head under a row lock, so
 * sequences are gapless and commit in order: a reader that has seen sequence N has seen all below. (A
 * restore moves the head forward once, {@link #raiseHead}: no event is ever numbered in that gap.)
 */
public final class JdbcRevocationRepository implements RevocationRepository {

    private static final String REVOKED = "REVOKED";
    private static final String REINSTATED = "REINSTATED";

    private final Jdbc jdbc;

    public JdbcRevocationRepository(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    @Override
    public List<Outcome> revoke(List<NewRevocation> revocations) {
        return jdbc.inTransaction(c -> {
            // the identities first (ordered with their issuance, see IdentityOrder), then the head
            for (String spiffeId : new TreeSet<>(revocations.stream().map(NewRevocation::spiffeId)
                    .filter(id -> !id.isEmpty()).toList())) {
                IdentityOrder.lock(c, spiffeId);
            }
            Head head = new Head(lockHead(c));
            List<Outcome> outcomes = new ArrayList<>();
            for (NewRevocation r : revocations) {
                outcomes.add(revokeOne(c, head, r));
            }
            setHead(c, head.last);
            return outcomes;
        });
    }

    @Override
    public IdentityOutcome revokeIdentity(NewRevocation identity, Duration tokenSkew, boolean force) {
        String spiffeId = identity.target().value();
        return jdbc.inTransaction(c -> {
            boolean registered = IdentityOrder.lock(c, spiffeId);
            if (!force && !registered && Jdbc.query(c, "select 1 from issued_certificates where spiffe_id = ?"
                    + " fetch first 1 rows only", s -> s.setString(1, spiffeId), row -> 1).isEmpty()) {
                throw new RefusedInTransaction(Refusal.notFound(spiffeId
                        + " was never registered and holds no certificate; check the SPIFFE ID, or revoke it with"
                        + " force (lanyard revoke --force) so that it cannot be registered or enrolled until reinstated"));
            }
            Head head = new Head(lockHead(c));
            Outcome outcome = revokeOne(c, head, identity);
            List<Outcome> certificates = new ArrayList<>();
            for (NewRevocation r : Jdbc.query(c, "select serial_hex, issuer_key_id, not_after from issued_certificates"
                    + " where spiffe_id = ? and not_after > ? order by id", s -> {
                        s.setString(1, spiffeId);
                        Jdbc.setInstant(s, 2, identity.revokedAt());
                    }, row -> new NewRevocation(RevocationTarget.serial(row.getString(1)), identity.reason(),
                            identity.note(), identity.revokedAt(), identity.revokedBy(), spiffeId, row.getString(2),
                            Optional.of(Jdbc.getInstant(row, "not_after"))))) {
                certificates.add(revokeOne(c, head, r));
            }
            List<Outcome> tokens = new ArrayList<>();
            for (NewRevocation r : Jdbc.query(c, "select jti, expires_at from minted_tokens"
                    + " where spiffe_id = ? and expires_at > ? order by expires_at", s -> {
                        s.setString(1, spiffeId);
                        Jdbc.setInstant(s, 2, identity.revokedAt());
                    }, row -> new NewRevocation(new RevocationTarget(RevocationTarget.Kind.JTI, row.getString(1)),
                            identity.reason(), identity.note(), identity.revokedAt(), identity.revokedBy(), spiffeId,
                            "", Optional.of(Jdbc.getInstant(row, "expires_at").plus(tokenSkew))))) {
                tokens.add(revokeOne(c, head, r));
            }
            int voided = Jdbc.update(c, "delete from join_tokens where spiffe_id = ? and used_at is null",
                    s -> s.setString(1, spiffeId));
            setHead(c, head.last);
            return new IdentityOutcome(outcome, certificates, tokens, voided);
        });
    }

    /** The last sequence handed out in this transaction. */
    private static final class Head {
        long last;

        Head(long last) {
            this.last = last;
        }
    }

    /** Records {@code r} unless its trust domain (this server: '') holds a revocation of its target already. */
    private static Outcome revokeOne(Connection c, Head head, NewRevocation r) throws SQLException {
        Optional<Revocation> existing = inForce(c, r.trustDomain(), r.target());
        if (existing.isPresent()) {
            return new Outcome(existing.get(), false);
        }
        long sequence = ++head.last;
        insertEvent(c, sequence, REVOKED, r.target().kind().name(), r.target().value(), r.spiffeId(),
                r.issuerKeyId(), r.reason().code(), r.note(), r.revokedBy(), r.revokedAt(),
                r.expiresAt().orElse(null), r.trustDomain());
        Jdbc.update(c, "insert into revocations (trust_domain, target_kind, target, sequence) values (?, ?, ?, ?)",
                s -> {
                    s.setString(1, r.trustDomain());
                    s.setString(2, r.target().kind().name());
                    s.setString(3, r.target().value());
                    s.setLong(4, sequence);
                });
        return new Outcome(new Revocation(sequence, r.target(), r.reason(), r.note(), r.revokedAt(),
                r.revokedBy(), r.spiffeId(), r.issuerKeyId(), r.expiresAt(), r.trustDomain()), true);
    }

    @Override
    public Optional<RevocationEvent.Reinstated> reinstate(String spiffeId, Instant at, String by, String note) {
        return jdbc.inTransaction(c -> {
            long last = lockHead(c);
            int removed = Jdbc.update(c, "delete from revocations where trust_domain = '' and target_kind = ?"
                    + " and target = ?", s -> {
                        s.setString(1, RevocationTarget.Kind.SPIFFE_ID.name());
                        s.setString(2, spiffeId);
                    });
            if (removed == 0) {
                return Optional.empty();
            }
            long sequence = last + 1;
            insertEvent(c, sequence, REINSTATED, RevocationTarget.Kind.SPIFFE_ID.name(), spiffeId, spiffeId, "",
                    RevocationReason.UNSPECIFIED.code(), note, by, at, null, "");
            setHead(c, sequence);
            return Optional.of(new RevocationEvent.Reinstated(sequence, spiffeId, at, by, note));
        });
    }

    @Override
    public Imported importFederated(String trustDomain, long sequence, List<NewRevocation> listed, int maxHeld,
            Instant at, String actor) {
        for (NewRevocation r : listed) {
            if (!r.trustDomain().equals(trustDomain)) {
                throw new IllegalArgumentException("a revocation of " + r.trustDomain() + " among " + trustDomain + "'s");
            }
        }
        return jdbc.inTransaction(c -> {
            Head head = new Head(lockHead(c));
            // Under the head's lock, so two replicas applying two documents take them one after the other.
            long applied = appliedSequence(c, trustDomain);
            if (sequence < applied) {
                throw new OlderThanApplied(sequence, applied);
            }
            noteSequence(c, trustDomain, sequence);
            // Checked before anything is written: a peer listing ever new serials or token ids each
            // poll is refused once what is held of it reaches the bound, instead of growing the log.
            java.util.Set<RevocationTarget> held = new java.util.HashSet<>(heldCredentials(c, trustDomain, at));
            listed.stream().map(NewRevocation::target).filter(t -> t.kind() != RevocationTarget.Kind.SPIFFE_ID)
                    .forEach(held::add);
            if (held.size() > maxHeld) {
                throw new IllegalStateException("taking them in would hold " + held.size()
                        + " certificate and token revocations of " + trustDomain + ", over the " + maxHeld
                        + " allowed");
            }
            int revoked = 0;
            for (NewRevocation r : listed) {
                if (!ours(c, r.target()) && revokeOne(c, head, r).created()) {
                    revoked++;
                }
            }
            java.util.Set<String> stillListed = new java.util.HashSet<>();
            listed.stream().filter(r -> r.target().kind() == RevocationTarget.Kind.SPIFFE_ID)
                    .forEach(r -> stillListed.add(r.target().value()));
            int reinstated = 0;
            for (String id : Jdbc.query(c, "select target from revocations where target_kind = ? and trust_domain = ?"
                    + " order by sequence", s -> {
                        s.setString(1, RevocationTarget.Kind.SPIFFE_ID.name());
                        s.setString(2, trustDomain);
                    }, row -> row.getString(1))) {
                if (stillListed.contains(id)) {
                    continue;
                }
                Jdbc.update(c, "delete from revocations where trust_domain = ? and target_kind = ? and target = ?", s -> {
                    s.setString(1, trustDomain);
                    s.setString(2, RevocationTarget.Kind.SPIFFE_ID.name());
                    s.setString(3, id);
                });
                insertEvent(c, ++head.last, REINSTATED, RevocationTarget.Kind.SPIFFE_ID.name(), id, id, "",
                        RevocationReason.UNSPECIFIED.code(), "no longer revoked by " + trustDomain, actor, at, null,
                        trustDomain);
                reinstated++;
            }
            setHead(c, head.last);
            return new Imported(revoked, reinstated);
        });
    }

    @Override
    public void noteFederatedSequence(String trustDomain, long sequence) {
        jdbc.inTransaction(c -> {
            noteSequence(c, trustDomain, sequence);
            return null;
        });
    }

    /** The sequence of the newest document of {@code trustDomain} applied; -1 when none was (or no relationship). */
    private static long appliedSequence(Connection c, String trustDomain) throws SQLException {
        return Jdbc.query(c, "select revocation_sequence from federations where trust_domain = ?",
                s -> s.setString(1, trustDomain), row -> row.getLong(1)).stream().findFirst().orElse(-1L);
    }

    private static void noteSequence(Connection c, String trustDomain, long sequence) throws SQLException {
        Jdbc.update(c, "update federations set revocation_sequence = ? where trust_domain = ?"
                + " and revocation_sequence < ?", s -> {
                    s.setLong(1, sequence);
                    s.setString(2, trustDomain);
                    s.setLong(3, sequence);
                });
    }

    /** The serial and token revocations of a federated trust domain in force at {@code at}. */
    private static List<RevocationTarget> heldCredentials(Connection c, String trustDomain, Instant at)
            throws SQLException {
        return Jdbc.query(c, "select r.target_kind, r.target from revocations r join revocation_events e"
                + " on e.sequence = r.sequence where r.trust_domain = ? and r.target_kind <> ? and e.expires_at > ?",
                s -> {
                    s.setString(1, trustDomain);
                    s.setString(2, RevocationTarget.Kind.SPIFFE_ID.name());
                    Jdbc.setInstant(s, 3, at);
                }, row -> new RevocationTarget(RevocationTarget.Kind.valueOf(row.getString(1)), row.getString(2)));
    }

    /** A serial this server issued, or a token id it minted: only this server revokes those. */
    private static boolean ours(Connection c, RevocationTarget target) throws SQLException {
        String sql = switch (target.kind()) {
            case SERIAL -> "select 1 from issued_certificates where serial_hex = ?";
            case JTI -> "select 1 from minted_tokens where jti = ?";
            case SPIFFE_ID -> null;
        };
        return sql != null && !Jdbc.query(c, sql, s -> s.setString(1, target.value()), row -> 1).isEmpty();
    }

    @Override
    public List<RevocationEvent> eventsAfter(long sequence, int limit) {
        return jdbc.query("select * from revocation_events where sequence > ? order by sequence fetch first ? rows only",
                s -> {
                    s.setLong(1, sequence);
                    s.setInt(2, limit);
                }, JdbcRevocationRepository::event);
    }

    @Override
    public long lastSequence() {
        return jdbc.query("select last_sequence from revocation_head where id = 1", s -> {
        }, row -> row.getLong(1)).get(0);
    }

    /**
     * Moves the head to {@code floor} if it is below it, never back, in the transaction of {@code c}: a store
     * being restored continues its sequences above those the lost server went on to hand out (see
     * {@code SnapshotWriter}). Sequences from the head on stay gapless; the jump is the one gap, and only
     * ever forward.
     */
    public static void raiseHead(Connection c, long floor) throws SQLException {
        Jdbc.update(c, "update revocation_head set last_sequence = ? where id = 1 and last_sequence < ?", s -> {
            s.setLong(1, floor);
            s.setLong(2, floor);
        });
    }

    @Override
    public int pruneExpired(Instant now) {
        return jdbc.inTransaction(c -> {
            Jdbc.update(c, "delete from revocations where sequence in"
                    + " (select sequence from revocation_events where expires_at <= ?)", s -> Jdbc.setInstant(s, 1, now));
            Jdbc.update(c, "delete from minted_tokens where expires_at <= ?", s -> Jdbc.setInstant(s, 1, now));
            return Jdbc.update(c, "delete from revocation_events where event_kind = ? and expires_at <= ?", s -> {
                s.setString(1, REVOKED);
                Jdbc.setInstant(s, 2, now);
            });
        });
    }

    @Override
    public long nextCrlNumber(String issuerKeyId, long atLeast) {
        return jdbc.inTransaction(c -> {
            List<Long> last = Jdbc.query(c, "select last_number from crl_numbers where issuer_key_id = ? for update",
                    s -> s.setString(1, issuerKeyId), row -> row.getLong(1));
            long next = Math.max(last.isEmpty() ? 1 : last.get(0) + 1, atLeast);
            if (last.isEmpty()) {
                Jdbc.update(c, "insert into crl_numbers (issuer_key_id, last_number) values (?, ?)", s -> {
                    s.setString(1, issuerKeyId);
                    s.setLong(2, next);
                });
            } else {
                Jdbc.update(c, "update crl_numbers set last_number = ? where issuer_key_id = ?", s -> {
                    s.setLong(1, next);
                    s.setString(2, issuerKeyId);
                });
            }
            return next;
        });
    }

    private static long lockHead(Connection c) throws SQLException {
        return Jdbc.query(c, "select last_sequence from revocation_head where id = 1 for update", s -> {
        }, row -> row.getLong(1)).get(0);
    }

    private static void setHead(Connection c, long last) throws SQLException {
        Jdbc.update(c, "update revocation_head set last_sequence = ? where id = 1", s -> s.setLong(1, last));
    }

    private static Optional<Revocation> inForce(Connection c, String trustDomain, RevocationTarget target)
            throws SQLException {
        return Jdbc.query(c, "select e.* from revocations r join revocation_events e on e.sequence = r.sequence"
                + " where r.trust_domain = ? and r.target_kind = ? and r.target = ?", s -> {
                    s.setString(1, trustDomain);
                    s.setString(2, target.kind().name());
                    s.setString(3, target.value());
                }, JdbcRevocationRepository::revocation).stream().findFirst();
    }

    private static void insertEvent(Connection c, long sequence, String eventKind, String targetKind, String target,
            String spiffeId, String issuerKeyId, int reason, String note, String actor, Instant at, Instant expiresAt,
            String trustDomain) throws SQLException {
        Jdbc.update(c, "insert into revocation_events (sequence, event_kind, target_kind, target, spiffe_id,"
                + " issuer_key_id, reason, note, actor, occurred_at, expires_at, trust_domain)"
                + " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                s -> {
                    s.setLong(1, sequence);
                    s.setString(2, eventKind);
                    s.setString(3, targetKind);
                    s.setString(4, target);
                    s.setString(5, spiffeId);
                    s.setString(6, issuerKeyId);
                    s.setInt(7, reason);
                    s.setString(8, note);
                    s.setString(9, actor);
                    Jdbc.setInstant(s, 10, at);
                    Jdbc.setInstant(s, 11, expiresAt);
                    s.setString(12, trustDomain);
                });
    }

    private static RevocationEvent event(ResultSet row) throws SQLException {
        if (REINSTATED.equals(row.getString("event_kind"))) {
            return new RevocationEvent.Reinstated(row.getLong("sequence"), row.getString("target"),
                    Jdbc.getInstant(row, "occurred_at"), row.getString("actor"), row.getString("note"));
        }
        return new RevocationEvent.Revoked(revocation(row));
    }

    private static Revocation revocation(ResultSet row) throws SQLException {
        RevocationTarget target = new RevocationTarget(RevocationTarget.Kind.valueOf(row.getString("target_kind")),
                row.getString("target"));
        RevocationReason reason = RevocationReason.ofCode(row.getInt("reason")).orElse(RevocationReason.UNSPECIFIED);
        return new Revocation(row.getLong("sequence"), target, reason, row.getString("note"),
                Jdbc.getInstant(row, "occurred_at"), row.getString("actor"), row.getString("spiffe_id"),
                row.getString("issuer_key_id"), Optional.ofNullable(Jdbc.getInstant(row, "expires_at")),
                row.getString("trust_domain"));
    }
}
