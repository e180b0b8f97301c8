package dev.lanyard.revocation;

import com.nimbusds.jose.util.JSONObjectUtils;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The revocations in force as a document on the publication port ({@code /revocations}), for the
 * Lanyard servers that federate with this one: what the CRL lists, plus identity and token
 * revocations. It says what is revoked, never by whom or why in words (no note, no admin).
 *
 * <pre>{"trust_domain": "b.test", "sequence": 42, "revocations": [
 *   {"serial": "ab12", "reason": 1, "revoked_at": 1700000000, "expires_at": 1700003600},
 *   {"spiffe_id": "spiffe://b.test/x", "reason": 0, "revoked_at": 1700000000},
 *   {"jti": "Yx3...", "reason": 0, "revoked_at": 1700000000, "expires_at": 1700000900}]}</pre>
 */
public record RevocationDocument(String trustDomain, long sequence, List<Entry> revocations) {

    /** A document larger than this is refused when read. */
    public static final int MAX_BYTES = 8 * 1024 * 1024;

    /** One revocation in force. */
    public record Entry(RevocationTarget target, RevocationReason reason, Instant revokedAt,
            Optional<Instant> expiresAt) {
    }

    public RevocationDocument {
        revocations = List.copyOf(revocations);
    }

    /** This server's own revocations in force (federated ones are not passed on). */
    public static RevocationDocument of(String trustDomain, long sequence, List<Revocation> inForce) {
        return new RevocationDocument(trustDomain, sequence, inForce.stream().filter(r -> !r.federated())
                .map(r -> new Entry(r.target(), r.reason(), r.revokedAt(), r.expiresAt())).toList());
    }

    public byte[] json() {
        List<Object> list = new ArrayList<>();
        for (Entry e : revocations) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put(key(e.target().kind()), e.target().value());
            m.put("reason", e.reason().code());
            m.put("revoked_at", e.revokedAt().getEpochSecond());
            e.expiresAt().ifPresent(t -> m.put("expires_at", t.getEpochSecond()));
            list.add(m);
        }
        Map<String, Object> document = new LinkedHashMap<>();
        document.put("trust_domain", trustDomain);
        document.put("sequence", sequence);
        document.put("revocations", list);
        return JSONObjectUtils.toJSONString(document).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Reads a document; every entry is checked as a revocation target is, and a serial's or jti's must
     * say when it expires.
     *
     * @throws IllegalArgumentException saying what is wrong
     */
    public static RevocationDocument parse(byte[] json) {
        try {
            Map<String, Object> document = JSONObjectUtils.parse(new String(json, StandardCharsets.UTF_8));
            String trustDomain = JSONObjectUtils.getString(document, "trust_domain");
            if (trustDomain == null || !document.containsKey("revocations")) {
                throw new IllegalArgumentException("not a revocation document: no trust_domain or revocations");
            }
            List<Entry> entries = new ArrayList<>();
            for (Object item : JSONObjectUtils.getJSONArray(document, "revocations")) {
                if (!(item instanceof Map<?, ?> raw)) {
                    throw new IllegalArgumentException("a revocation is not an object");
                }
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) raw;
                RevocationTarget target = target(m);
                // A certificate or token stops mattering when it expires: without its expiry its
                // revocation would be held forever, so a document that omits it is refused.
                if (target.kind() != RevocationTarget.Kind.SPIFFE_ID && !m.containsKey("expires_at")) {
                    throw new IllegalArgumentException("the revocation of " + target + " has no expires_at");
                }
                entries.add(new Entry(target,
                        RevocationReason.ofCode(intOf(m, "reason")).orElse(RevocationReason.UNSPECIFIED),
                        Instant.ofEpochSecond(JSONObjectUtils.getLong(m, "revoked_at")),
                        m.containsKey("expires_at") ? Optional.of(Instant.ofEpochSecond(JSONObjectUtils.getLong(m,
                                "expires_at"))) : Optional.empty()));
            }
            return new RevocationDocument(trustDomain, JSONObjectUtils.getLong(document, "sequence"), entries);
        } catch (ParseException | RuntimeException e) {
            throw new IllegalArgumentException("not a revocation document: " + e.getMessage(), e);
        }
    }

    private static RevocationTarget target(Map<String, Object> m) throws ParseException {
        if (m.containsKey("serial")) {
            return RevocationTarget.serial(JSONObjectUtils.getString(m, "serial"));
        }
        if (m.containsKey("jti")) {
            return RevocationTarget.jti(JSONObjectUtils.getString(m, "jti"));
        }
        String id = JSONObjectUtils.getString(m, "spiffe_id");
        if (id == null) {
            throw new IllegalArgumentException("a revocation names no serial, spiffe_id or jti");
        }
        return RevocationTarget.spiffeId(dev.lanyard.spiffe.SpiffeId.parse(id));
    }

    private static int intOf(Map<String, Object> m, String key) throws ParseException {
        return m.containsKey(key) ? (int) JSONObjectUtils.getLong(m, key) : 0;
    }

    private static String key(RevocationTarget.Kind kind) {
        return switch (kind) {
            case SERIAL -> "serial";
            case SPIFFE_ID -> "spiffe_id";
            case JTI -> "jti";
        };
    }
}
