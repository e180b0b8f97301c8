package dev.lanyard.tools;

import dev.lanyard.audit.AuditText;
import java.math.BigInteger;
import java.util.Locale;

/**
 * Certificate serials as openssl prints them ({@code openssl x509 -noout -serial}: upper-case hex, an
 * even number of digits, so a leading zero is kept). Input is accepted that way, with colons
 * ({@code 0A:1B:...}), with a {@code serial=} prefix, or as the server's lower-case hex.
 */
final class Serials {

    private Serials() {
    }

    /** The server's hex (lower case, no leading zeros) as openssl prints it. */
    static String display(String serverHex) {
        if (serverHex.isEmpty()) {
            return serverHex;
        }
        String upper = serverHex.toUpperCase(Locale.ROOT);
        return upper.length() % 2 == 1 ? "0" + upper : upper;
    }

    /** Any accepted spelling to the server's form; a malformed serial is a usage error naming the option. */
    static String parse(String option, String input) {
        String hex = input.trim();
        if (hex.regionMatches(true, 0, "serial=", 0, "serial=".length())) {
            hex = hex.substring("serial=".length());
        }
        hex = hex.replace(":", "");
        if (hex.startsWith("0x") || hex.startsWith("0X")) {
            hex = hex.substring(2);
        }
        if (!hex.matches("[0-9A-Fa-f]{1,64}")) {
            throw new CliFailure(AuditText.unnamed(option, input), "not a certificate serial",
                    "give it in hex as `lanyard certs list` or `openssl x509 -noout -serial` prints it, e.g. 0A1B2C",
                    ExitCodes.USAGE);
        }
        return new BigInteger(hex, 16).toString(16);
    }
}
