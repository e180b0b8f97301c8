package dev.lanyard.client.token;

import com.nimbusds.jose.shaded.gson.Strictness;
import com.nimbusds.jose.shaded.gson.stream.JsonReader;
import com.nimbusds.jose.shaded.gson.stream.JsonToken;
import dev.lanyard.client.token.TokenRejectedException.Reason;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The shape rules every Lanyard verifier (Java, Go, Rust) applies before it trusts a parser with a
 * token: three canonical base64url parts, and a header and payload that are UTF-8 JSON objects with
 * no member named twice at any depth, no string holding U+FFFD or a lone surrogate, and at most
 * {@value #MAX_DEPTH} levels of nesting. JSON parsers disagree on exactly these (first or last
 * duplicate wins, replaced or refused bad bytes), so a token that relies on them is refused rather
 * than read one way here and another way elsewhere. The walk uses the Gson reader Nimbus parses with.
 */
final class TokenShape {

    static final int MAX_DEPTH = 32;
    private static final Pattern BASE64URL = Pattern.compile("[A-Za-z0-9_-]*");

    private TokenShape() {
    }

    /** The three parts, each canonical unpadded base64url (so no two strings are the same token). */
    static String[] parts(String token) throws TokenRejectedException {
        String[] parts = token.split("\\.", -1);
        if (parts.length != 3) {
            throw new TokenRejectedException(Reason.MALFORMED, "not a compact JWS (three base64url parts separated by dots)");
        }
        String[] names = {"header", "payload", "signature"};
        for (int i = 0; i < 3; i++) {
            if (!canonical(parts[i])) {
                throw new TokenRejectedException(Reason.MALFORMED, "the " + names[i] + " is not canonical unpadded base64url");
            }
        }
        return parts;
    }

    private static boolean canonical(String part) {
        if (!BASE64URL.matcher(part).matches() || part.length() % 4 == 1) {
            return false;
        }
        byte[] decoded = Base64.getUrlDecoder().decode(part);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(decoded).equals(part);
    }

    /** Refuses a header or payload ({@code part}) that breaks the rules above. */
    static void checkJson(String base64url, String part) throws TokenRejectedException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(Base64.getUrlDecoder().decode(base64url))).toString();
        } catch (CharacterCodingException e) {
            throw new TokenRejectedException(Reason.MALFORMED, "the " + part + " is not UTF-8");
        }
        try (JsonReader reader = new JsonReader(new StringReader(text))) {
            reader.setStrictness(Strictness.STRICT);
            if (reader.peek() != JsonToken.BEGIN_OBJECT) {
                throw new TokenRejectedException(Reason.MALFORMED, "the " + part + " is not a JSON object");
            }
            value(reader, part, 1);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new TokenRejectedException(Reason.MALFORMED, "the " + part + " has data after its JSON object");
            }
        } catch (IOException | RuntimeException e) {
            // Gson's MalformedJsonException and IllegalStateException: not JSON. Never quote it.
            throw new TokenRejectedException(Reason.MALFORMED, "the " + part + " is not JSON");
        }
    }

    private static void value(JsonReader reader, String part, int depth) throws IOException, TokenRejectedException {
        JsonToken token = reader.peek();
        // Only containers count, as in the Go and Rust verifiers.
        if (depth > MAX_DEPTH && (token == JsonToken.BEGIN_OBJECT || token == JsonToken.BEGIN_ARRAY)) {
            throw new TokenRejectedException(Reason.MALFORMED, "the " + part + " nests deeper than " + MAX_DEPTH + " levels");
        }
        switch (token) {
            case BEGIN_OBJECT -> {
                reader.beginObject();
                Set<String> names = new HashSet<>();
                while (reader.hasNext()) {
                    String name = text(reader.nextName(), part);
                    if (!names.add(name)) {
                        throw new TokenRejectedException(Reason.MALFORMED,
                                "the " + part + " names member " + Printable.of(name) + " twice");
                    }
                    value(reader, part, depth + 1);
                }
                reader.endObject();
            }
            case BEGIN_ARRAY -> {
                reader.beginArray();
                while (reader.hasNext()) {
                    value(reader, part, depth + 1);
                }
                reader.endArray();
            }
            case STRING -> text(reader.nextString(), part);
            case NUMBER -> reader.nextString();
            case BOOLEAN -> reader.nextBoolean();
            case NULL -> reader.nextNull();
            default -> throw new TokenRejectedException(Reason.MALFORMED, "the " + part + " is not JSON");
        }
    }

    private static String text(String s, String part) throws TokenRejectedException {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean lone = Character.isHighSurrogate(c)
                    ? i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(++i))
                    : Character.isLowSurrogate(c);
            if (lone || c == '\uFFFD') {
                throw new TokenRejectedException(Reason.MALFORMED,
                        "the " + part + " holds a lone surrogate or U+FFFD (a character that stood for bad bytes)");
            }
        }
        return s;
    }
}
