package dev.lanyard.policy;

import com.google.protobuf.Descriptors;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.TextFormat;
import com.google.protobuf.util.JsonFormat;
import dev.lanyard.v1.Policy;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a {@code lanyard.v1.Policy} from a file: protobuf text format ({@code .txtpb},
 * {@code .textproto}, {@code .pbtxt}) or JSON ({@code .json}). Unknown fields are refused.
 * Error messages give the file name and a position, never the file's contents.
 */
public final class PolicyFiles {

    public static final int MAX_BYTES = 1024 * 1024;

    private static final Pattern JSON_POSITION = Pattern.compile("line (\\d+) column (\\d+)");
    private static final Pattern UNKNOWN_FIELD = Pattern.compile("unknown fields.*?\\t([A-Za-z_][A-Za-z0-9_.]*)",
            Pattern.DOTALL);

    private enum Format { TEXT, JSON }

    private PolicyFiles() {
    }

    /** Reads and parses {@code file}. Does not validate the grants; {@link GrantsPolicy#from} does. */
    public static Policy read(Path file) throws IOException {
        String name = file.getFileName().toString();
        formatOf(name);
        if (Files.size(file) > MAX_BYTES) {
            throw new InvalidPolicyException("policy file " + name + " is larger than " + MAX_BYTES + " bytes");
        }
        return parse(name, Files.readAllBytes(file));
    }

    /**
     * Parses {@code content}, in the format {@code fileName}'s extension names.
     *
     * @throws InvalidPolicyException if the extension is not supported or the content does not parse
     */
    public static Policy parse(String fileName, byte[] content) {
        Format format = formatOf(fileName);
        if (content.length > MAX_BYTES) {
            throw new InvalidPolicyException("policy file " + fileName + " is larger than " + MAX_BYTES + " bytes");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(content))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new InvalidPolicyException("policy file " + fileName + " is not valid UTF-8");
        }
        Policy.Builder policy = Policy.newBuilder();
        if (format == Format.TEXT) {
            try {
                TextFormat.Parser.newBuilder()
                        .setSingularOverwritePolicy(TextFormat.Parser.SingularOverwritePolicy.FORBID_SINGULAR_OVERWRITES)
                        .build()
                        .merge(text, policy);
            } catch (TextFormat.ParseException e) {
                throw new InvalidPolicyException("policy file " + fileName
                        + " is not a valid lanyard.v1.Policy in text format: " + unknownField(e).orElse("error")
                        + " at line " + e.getLine() + ", column " + e.getColumn());
            }
        } else {
            try {
                JsonFormat.parser().merge(text, policy);
            } catch (InvalidProtocolBufferException | RuntimeException e) {
                throw new InvalidPolicyException("policy file " + fileName
                        + " is not a valid lanyard.v1.Policy in JSON" + jsonPosition(e));
            }
        }
        return policy.build();
    }

    private static Format formatOf(String fileName) {
        String lower = fileName.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".txtpb") || lower.endsWith(".textproto") || lower.endsWith(".pbtxt")) {
            return Format.TEXT;
        }
        if (lower.endsWith(".json")) {
            return Format.JSON;
        }
        throw new InvalidPolicyException("policy file " + fileName
                + " has an unsupported extension: use .txtpb, .textproto, .pbtxt or .json");
    }

    /**
     * "field grants.scope is unknown ... (a grant has spiffe_ids, audience, scopes)" when the parser
     * met a field name the schema lacks. Only names from the schema and the field's own name (an
     * identifier) are quoted, never a value.
     */
    private static Optional<String> unknownField(TextFormat.ParseException e) {
        Matcher m = UNKNOWN_FIELD.matcher(String.valueOf(e.getMessage()));
        if (!m.find()) {
            return Optional.empty();
        }
        String fullName = m.group(1);
        String typeName = fullName.substring(0, fullName.lastIndexOf('.'));
        String field = fullName.substring(fullName.lastIndexOf('.') + 1);
        Optional<String> path = pathTo(Policy.getDescriptor(), typeName, "");
        if (path.isEmpty()) {
            return Optional.of("field " + fullName + " is unknown");
        }
        Descriptors.Descriptor type = typeName.equals(Policy.getDescriptor().getFullName())
                ? Policy.getDescriptor() : find(Policy.getDescriptor(), typeName).orElseThrow();
        List<String> known = type.getFields().stream().map(Descriptors.FieldDescriptor::getName).toList();
        String closest = known.stream().min(Comparator.comparingInt(k -> distance(k, field))).orElse("");
        String suggestion = !closest.isEmpty() && distance(closest, field) <= 3 ? "did you mean " + closest + "? " : "";
        return Optional.of("field " + path.get() + field + " is unknown (" + suggestion + type.getName()
                + " has " + String.join(", ", known) + ")");
    }

    private static Optional<String> pathTo(Descriptors.Descriptor from, String typeName, String prefix) {
        if (from.getFullName().equals(typeName)) {
            return Optional.of(prefix);
        }
        for (Descriptors.FieldDescriptor f : from.getFields()) {
            if (f.getJavaType() == Descriptors.FieldDescriptor.JavaType.MESSAGE && prefix.length() < 200) {
                Optional<String> found = pathTo(f.getMessageType(), typeName, prefix + f.getName() + ".");
                if (found.isPresent()) {
                    return found;
                }
            }
        }
        return Optional.empty();
    }

    private static Optional<Descriptors.Descriptor> find(Descriptors.Descriptor from, String typeName) {
        for (Descriptors.FieldDescriptor f : from.getFields()) {
            if (f.getJavaType() == Descriptors.FieldDescriptor.JavaType.MESSAGE) {
                if (f.getMessageType().getFullName().equals(typeName)) {
                    return Optional.of(f.getMessageType());
                }
                Optional<Descriptors.Descriptor> deeper = find(f.getMessageType(), typeName);
                if (deeper.isPresent()) {
                    return deeper;
                }
            }
        }
        return Optional.empty();
    }

    /** Levenshtein distance, for "did you mean". */
    private static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            int[] current = new int[b.length() + 1];
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                current[j] = Math.min(Math.min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            previous = current;
        }
        return previous[b.length()];
    }

    // The JSON parser's messages may quote the offending value; keep only where it is.
    private static String jsonPosition(Throwable error) {
        for (Throwable e = error; e != null; e = e.getCause()) {
            Matcher m = JSON_POSITION.matcher(String.valueOf(e.getMessage()));
            if (m.find()) {
                return ": error at line " + m.group(1) + ", column " + m.group(2);
            }
        }
        return "";
    }
}
