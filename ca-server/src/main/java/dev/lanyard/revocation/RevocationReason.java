package dev.lanyard.revocation;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/** The RFC 5280 CRLReason codes an admin may give (removeFromCRL and aACompromise are not ours to use). */
public enum RevocationReason {
    UNSPECIFIED(0, "unspecified"),
    KEY_COMPROMISE(1, "keyCompromise"),
    CA_COMPROMISE(2, "cACompromise"),
    AFFILIATION_CHANGED(3, "affiliationChanged"),
    SUPERSEDED(4, "superseded"),
    CESSATION_OF_OPERATION(5, "cessationOfOperation"),
    CERTIFICATE_HOLD(6, "certificateHold"),
    PRIVILEGE_WITHDRAWN(9, "privilegeWithdrawn");

    private final int code;
    private final String rfcName;

    RevocationReason(int code, String rfcName) {
        this.code = code;
        this.rfcName = rfcName;
    }

    /** The CRLReason code, as it appears in the CRL and in the proto enum. */
    public int code() {
        return code;
    }

    /** The name RFC 5280 gives it, e.g. "keyCompromise". */
    public String rfcName() {
        return rfcName;
    }

    public static Optional<RevocationReason> ofCode(int code) {
        return Arrays.stream(values()).filter(r -> r.code == code).findFirst();
    }

    /** Accepts the RFC name ("keyCompromise") or the constant ("KEY_COMPROMISE", "key-compromise"), any case. */
    public static Optional<RevocationReason> parse(String text) {
        String wanted = text.replace("-", "_").replace("_", "").toLowerCase(Locale.ROOT);
        return Arrays.stream(values())
                .filter(r -> r.rfcName.toLowerCase(Locale.ROOT).equals(wanted)
                        || r.name().replace("_", "").toLowerCase(Locale.ROOT).equals(wanted))
                .findFirst();
    }
}
