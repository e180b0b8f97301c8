package dev.lanyard.audit;

import dev.lanyard.store.DurableFiles;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * A range of the audit chain kept in a file: one record per line, tab-separated (id, time, actor,
 * action, target, outcome, reason, previous hash, hash; tab, newline and backslash escaped), so it
 * can be read by people and grep, and verified with the live chain (`lanyard audit verify --archive`).
 */
public final class AuditArchiveFile {

    static final String HEADER = "# lanyard audit archive v1";

    private AuditArchiveFile() {
    }

    /**
     * Writes {@code records} to a new file, durably (file and directory entry forced to disk: the
     * records are deleted from the database next); an existing file is never overwritten.
     */
    public static void write(Path file, List<AuditRecord> records) throws IOException {
        DurableFiles.createNew(file, stream -> {
            Writer out = new OutputStreamWriter(stream, StandardCharsets.UTF_8);
            out.write(HEADER + "\n");
            for (AuditRecord r : records) {
                AuditEvent e = r.event();
                out.write(String.join("\t", Long.toString(r.id()), e.time().toString(), escape(e.actor()),
                        escape(e.action()), escape(e.target()), e.outcome().name(), escape(e.reason()),
                        r.previousHash(), r.hash()) + "\n");
            }
            out.flush();
        });
    }

    /** The records in the file, in order; a line that cannot be read is named in the exception. */
    public static List<AuditRecord> read(Path file) throws IOException {
        List<AuditRecord> records = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String header = in.readLine();
            if (!HEADER.equals(header)) {
                throw new IOException(file + " is not a Lanyard audit archive (its first line is not \"" + HEADER + "\")");
            }
            String line;
            int number = 1;
            while ((line = in.readLine()) != null) {
                number++;
                String[] f = line.split("\t", -1);
                try {
                    if (f.length != 9) {
                        throw new IllegalArgumentException("9 tab-separated fields expected, found " + f.length);
                    }
                    records.add(new AuditRecord(Long.parseLong(f[0]), new AuditEvent(Instant.parse(f[1]),
                            unescape(f[2]), unescape(f[3]), unescape(f[4]), AuditEvent.Outcome.valueOf(f[5]),
                            unescape(f[6])), f[7], f[8]));
                } catch (IllegalArgumentException | DateTimeParseException e) {
                    throw new IOException(file + " line " + number + " is not an audit record: " + e.getMessage(), e);
                }
            }
        }
        return records;
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r");
    }

    private static String unescape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                out.append(switch (n) {
                    case 't' -> '\t';
                    case 'n' -> '\n';
                    case 'r' -> '\r';
                    default -> n;
                });
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
