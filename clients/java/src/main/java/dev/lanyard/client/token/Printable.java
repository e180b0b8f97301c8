package dev.lanyard.client.token;

/**
 * Makes a value taken from an untrusted token safe to put in an error message or a log line:
 * quoted, control characters replaced, and cut short, so a crafted claim cannot forge log lines
 * or flood them.
 */
final class Printable {

    static final int MAX_LENGTH = 80;

    private Printable() {
    }

    static String of(Object value) {
        if (value == null) {
            return "null";
        }
        String text = value.toString();
        StringBuilder out = new StringBuilder(Math.min(text.length(), MAX_LENGTH) + 5).append('"');
        int limit = Math.min(text.length(), MAX_LENGTH);
        for (int i = 0; i < limit; i++) {
            char c = text.charAt(i);
            out.append(Character.isISOControl(c) ? '?' : c);
        }
        if (text.length() > MAX_LENGTH) {
            out.append("...");
        }
        return out.append('"').toString();
    }
}
