package dev.lanyard.registration;

import dev.lanyard.audit.AuditText;
import dev.lanyard.spiffe.SpiffeId;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The grammar of parents and workload selectors. A parent is an agent's SPIFFE ID
 * ({@code spiffe://TD/lanyard/agent/...}) or a node selector ({@code x509pop:...}, {@code k8s_psat:...});
 * a workload selector is {@code unix:uid|gid|user|path|sha256:<value>}, all checked by the agent
 * against what the kernel says about the calling process.
 */
public final class Selectors {

    public static final String AGENT_PREFIX = "/lanyard/agent/";
    private static final Pattern NODE = Pattern.compile("(x509pop|k8s_psat|join_token):[a-z_]+:[^\\n]{1,400}");
    private static final Pattern NUMBER = Pattern.compile("[0-9]{1,10}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._][A-Za-z0-9._-]{0,63}");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Set<String> KINDS = Set.of("uid", "gid", "user", "path", "sha256");

    private Selectors() {
    }

    /** Whether {@code id} is a node agent's ID. */
    public static boolean isAgent(SpiffeId id) {
        return id.path().startsWith(AGENT_PREFIX) && id.path().length() > AGENT_PREFIX.length();
    }

    /**
     * The parent in canonical form, or why it is not one. The reason names the text only once it parsed:
     * it may be a secret pasted into the wrong field.
     */
    public static String parent(String text, String trustDomain) {
        if (text.startsWith("spiffe://")) {
            SpiffeId id = AuditText.parseSpiffeId("parent_id", text);
            if (!id.isMemberOf(trustDomain) || !isAgent(id)) {
                throw new IllegalArgumentException("parent_id " + id + " is not an agent ID of this trust domain"
                        + " (spiffe://" + trustDomain + AGENT_PREFIX + "...)");
            }
            return id.toString();
        }
        if (!NODE.matcher(text).matches()) {
            throw new IllegalArgumentException(AuditText.unnamed("parent_id", text) + " is neither an agent ID nor a"
                    + " node selector (x509pop:subject:cn:NAME, x509pop:ca:fingerprint:HEX, k8s_psat:cluster:NAME, ...)");
        }
        return text;
    }

    /** Workload selectors, sorted and without duplicates, or why one is not valid (by its place, not its text). */
    public static List<String> workload(List<String> selectors) {
        TreeSet<String> out = new TreeSet<>();
        for (int i = 0; i < selectors.size(); i++) {
            String s = selectors.get(i);
            String field = "selectors[" + i + "]";
            workloadProblem(s).ifPresent(p -> {
                throw new IllegalArgumentException(described(field, s) + ": " + p);
            });
            out.add(s);
        }
        return new ArrayList<>(out);
    }

    /** A selector that failed its check, as a refusal names it: its known kind, never its value. */
    private static String described(String field, String selector) {
        String[] parts = selector.split(":", 3);
        if (parts.length == 3 && parts[0].equals("unix") && KINDS.contains(parts[1])) {
            return field + " unix:" + parts[1] + ":(" + parts[2].length() + " characters)";
        }
        return AuditText.unnamed(field, selector);
    }

    private static Optional<String> workloadProblem(String selector) {
        String[] parts = selector.split(":", 3);
        if (parts.length != 3 || !parts[0].equals("unix")) {
            return Optional.of("expected unix:uid|gid|user|path|sha256:VALUE");
        }
        String value = parts[2];
        return switch (parts[1]) {
            case "uid", "gid" -> NUMBER.matcher(value).matches() ? Optional.empty() : Optional.of("not a number");
            case "user" -> NAME.matcher(value).matches() ? Optional.empty() : Optional.of("not a user name");
            case "path" -> value.startsWith("/") && !value.contains("\n") ? Optional.empty()
                    : Optional.of("not an absolute path");
            case "sha256" -> SHA256.matcher(value).matches() ? Optional.empty()
                    : Optional.of("not 64 lower-case hex digits");
            default -> Optional.of("unknown kind; use uid, gid, user, path or sha256");
        };
    }
}
