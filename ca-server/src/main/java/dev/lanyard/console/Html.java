package dev.lanyard.console;

import java.time.Instant;
import java.time.temporal.ChronoUnit;

/** Escaping and the page frame: every text that reaches a page goes through {@link #esc}. */
final class Html {

    private static final String[] NAV = {
        "/console/", "Overview",
        "/console/identities", "Identities",
        "/console/revocations", "Revocations",
        "/console/audit", "Audit",
        "/console/contracts", "Contracts",
        "/console/policy", "Policy",
    };

    private static final String STYLE = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#111}"
            + "header{background:#1b2a3a;color:#fff;padding:.5em 1em}header a{color:#fff;margin-right:1em}"
            + "main{padding:1em}table{border-collapse:collapse;margin:.5em 0}"
            + "th,td{border:1px solid #999;padding:.25em .5em;text-align:left;vertical-align:top}"
            + "code{font-size:90%}.bad{color:#a00;font-weight:bold}.ok{color:#060}"
            + "form.inline{display:inline}label{margin-right:.5em}pre{background:#f4f4f4;padding:.5em;overflow:auto}";

    static String styleSheet() {
        return STYLE;
    }

    private Html() {
    }

    static String esc(Object value) {
        String text = String.valueOf(value);
        StringBuilder b = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    static String time(Instant t) {
        return esc(t.truncatedTo(ChronoUnit.SECONDS));
    }

    /** A whole page: {@code body} is already HTML; {@code admin} is shown, escaped, in the header. */
    static String page(String title, String admin, String body) {
        StringBuilder b = new StringBuilder(4096);
        b.append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width\">")
                .append("<title>").append(esc(title)).append(" · Lanyard console</title>")
                .append("<style>").append(STYLE).append("</style></head><body><header><nav aria-label=\"Console\">");
        if (admin != null) {
            for (int i = 0; i < NAV.length; i += 2) {
                b.append("<a href=\"").append(NAV[i]).append("\">").append(NAV[i + 1]).append("</a>");
            }
        }
        b.append("</nav>");
        if (admin != null) {
            b.append("<p>Signed in as <code>").append(esc(admin)).append("</code></p>");
        }
        b.append("</header><main><h1>").append(esc(title)).append("</h1>").append(body).append("</main></body></html>");
        return b.toString();
    }

    /** The hidden CSRF field every state-changing form carries. */
    static String csrf(Sessions.Session session) {
        return "<input type=\"hidden\" name=\"csrf\" value=\"" + esc(session.csrf()) + "\">";
    }
}
