package org.jvisor.qmp.json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses one complete JSON value from bytes (UTF-8), with QEMU's extensions and limits
 * (qobject/json-lexer.c, json-parser.c): strings may be single-quoted ('it\'s', in which a double
 * quote needs no escape), integers that fit 64 bits stay integers, numbers beyond a double's range
 * are refused, objects must not repeat a key, nesting is bounded. Errors are QEMU's texts.
 * {@link JsonStreamParser} frames a byte stream into the values this reads.
 */
public final class JsonReader {
    private final byte[] in;
    private final int end;
    private final int maxDepth;
    private int pos;

    private JsonReader(byte[] in, int offset, int length, int maxDepth) {
        this.in = in;
        this.pos = offset;
        this.end = offset + length;
        this.maxDepth = maxDepth;
    }

    /** The one value in {@code in[offset, offset+length)}, with nothing but whitespace around it. */
    public static JsonValue parse(byte[] in, int offset, int length, int maxDepth) throws JsonParseException {
        JsonReader r = new JsonReader(in, offset, length, maxDepth);
        r.skipWhitespace();
        JsonValue v = r.value(0);
        r.skipWhitespace();
        if (r.pos < r.end) {
            throw error("expecting end of input after a value");
        }
        return v;
    }

    /** As {@link #parse(byte[], int, int, int)} for a Java string (tests, command-line JSON). */
    public static JsonValue parse(String text) throws JsonParseException {
        byte[] b = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return parse(b, 0, b.length, JsonStreamParser.DEFAULT_MAX_DEPTH);
    }

    private static JsonParseException error(String what) {
        return new JsonParseException("JSON parse error, " + what);
    }

    private void skipWhitespace() {
        while (pos < end && (in[pos] == ' ' || in[pos] == '\t' || in[pos] == '\n' || in[pos] == '\r')) {
            pos++;
        }
    }

    private JsonValue value(int depth) throws JsonParseException {
        if (pos >= end) {
            throw error("expecting value");
        }
        int c = in[pos] & 0xFF;
        return switch (c) {
            case '{' -> object(depth + 1);
            case '[' -> array(depth + 1);
            case '"', '\'' -> new JsonValue.JsonString(string());
            case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' -> number();
            default -> {
                if (isWordChar(c)) {
                    yield keyword();
                }
                throw error("expecting value");
            }
        };
    }

    private void checkDepth(int depth) throws JsonParseException {
        if (depth > maxDepth) {
            throw new JsonParseException("JSON nesting depth limit exceeded");
        }
    }

    private JsonValue object(int depth) throws JsonParseException {
        checkDepth(depth);
        pos++;
        Map<String, JsonValue> members = new LinkedHashMap<>();
        skipWhitespace();
        if (pos < end && in[pos] == '}') {
            pos++;
            return JsonValue.JsonObject.EMPTY;
        }
        while (true) {
            skipWhitespace();
            if (pos >= end || (in[pos] != '"' && in[pos] != '\'')) {
                throw error(pos < end && in[pos] == '}' ? "expecting value" : "key is not a string in object");
            }
            String key = string();
            skipWhitespace();
            if (pos >= end || in[pos] != ':') {
                throw error("missing : in object pair");
            }
            pos++;
            skipWhitespace();
            JsonValue v = value(depth);
            if (members.putIfAbsent(key, v) != null) {
                throw error("duplicate key");
            }
            skipWhitespace();
            if (pos < end && in[pos] == ',') {
                pos++;
            } else if (pos < end && in[pos] == '}') {
                pos++;
                return new JsonValue.JsonObject(members);
            } else {
                throw error("expected separator in dict");
            }
        }
    }

    private JsonValue array(int depth) throws JsonParseException {
        checkDepth(depth);
        pos++;
        List<JsonValue> elements = new ArrayList<>();
        skipWhitespace();
        if (pos < end && in[pos] == ']') {
            pos++;
            return JsonValue.JsonArray.EMPTY;
        }
        while (true) {
            skipWhitespace();
            elements.add(value(depth));
            skipWhitespace();
            if (pos < end && in[pos] == ',') {
                pos++;
            } else if (pos < end && in[pos] == ']') {
                pos++;
                return new JsonValue.JsonArray(elements);
            } else {
                throw error("expected separator in list");
            }
        }
    }

    /** A string in double or single quotes: escapes decoded, UTF-8 checked. */
    private String string() throws JsonParseException {
        int quote = in[pos++];
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= end) {
                throw error("missing closing quote in string");
            }
            int c = in[pos++] & 0xFF;
            if (c == quote) {
                return sb.toString();
            }
            if (c < 0x20) {
                throw error("control character in string");
            }
            if (c == '\\') {
                escape(sb);
            } else if (c < 0x80) {
                sb.append((char) c);
            } else {
                sb.appendCodePoint(utf8(c));
            }
        }
    }

    private void escape(StringBuilder sb) throws JsonParseException {
        if (pos >= end) {
            throw error("missing closing quote in string");
        }
        int c = in[pos++];
        switch (c) {
            case '"' -> sb.append('"');
            case '\'' -> sb.append('\'');
            case '\\' -> sb.append('\\');
            case '/' -> sb.append('/');
            case 'b' -> sb.append('\b');
            case 'f' -> sb.append('\f');
            case 'n' -> sb.append('\n');
            case 'r' -> sb.append('\r');
            case 't' -> sb.append('\t');
            case 'u' -> {
                int cp = hex4();
                if (Character.isHighSurrogate((char) cp)) {
                    // RFC 8259 7: a character outside the BMP is a surrogate pair of \\u escapes
                    if (pos + 1 < end && in[pos] == '\\' && in[pos + 1] == 'u') {
                        pos += 2;
                        int low = hex4();
                        if (!Character.isLowSurrogate((char) low)) {
                            throw error(String.format("\\u%04X is not a valid Unicode character", cp));
                        }
                        sb.appendCodePoint(Character.toCodePoint((char) cp, (char) low));
                        return;
                    }
                    throw error(String.format("\\u%04X is not a valid Unicode character", cp));
                }
                if (Character.isLowSurrogate((char) cp)) {
                    throw error(String.format("\\u%04X is not a valid Unicode character", cp));
                }
                sb.append((char) cp);
            }
            default -> throw error("invalid escape sequence in string");
        }
    }

    private int hex4() throws JsonParseException {
        int v = 0;
        int start = pos;
        for (int i = 0; i < 4; i++) {
            int d = pos < end ? Character.digit(in[pos], 16) : -1;
            if (d < 0) {
                String seen = new String(in, start, Math.min(4, end - start), java.nio.charset.StandardCharsets.ISO_8859_1);
                throw error("\\u" + seen + " is not a valid Unicode character");
            }
            v = v << 4 | d;
            pos++;
        }
        return v;
    }

    /** The code point of a UTF-8 sequence whose lead byte {@code lead} was read (RFC 3629 4: no overlongs, no surrogates). */
    private int utf8(int lead) throws JsonParseException {
        int n;
        int cp;
        int min;
        if (lead >= 0xC2 && lead <= 0xDF) {
            n = 1;
            cp = lead & 0x1F;
            min = 0x80;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            n = 2;
            cp = lead & 0x0F;
            min = 0x800;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            n = 3;
            cp = lead & 0x07;
            min = 0x10000;
        } else {
            throw error("invalid UTF-8 sequence in string");
        }
        for (int i = 0; i < n; i++) {
            int c = pos < end ? in[pos] & 0xFF : 0;
            if ((c & 0xC0) != 0x80) {
                throw error("invalid UTF-8 sequence in string");
            }
            cp = cp << 6 | (c & 0x3F);
            pos++;
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            throw error("invalid UTF-8 sequence in string");
        }
        return cp;
    }

    /** RFC 8259 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?; integers that fit 64 bits stay integers. */
    private JsonValue number() throws JsonParseException {
        int start = pos;
        boolean integer = true;
        if (in[pos] == '-') {
            pos++;
        }
        if (pos < end && in[pos] == '0') {
            pos++;
        } else if (!digits()) {
            throw stray(start);
        }
        if (pos < end && in[pos] == '.') {
            pos++;
            integer = false;
            if (!digits()) {
                throw stray(start);
            }
        }
        if (pos < end && (in[pos] == 'e' || in[pos] == 'E')) {
            pos++;
            integer = false;
            if (pos < end && (in[pos] == '+' || in[pos] == '-')) {
                pos++;
            }
            if (!digits()) {
                throw stray(start);
            }
        }
        if (pos < end && (isWordChar(in[pos] & 0xFF) || in[pos] == '.')) {
            throw stray(start);
        }
        String text = new String(in, start, pos - start, java.nio.charset.StandardCharsets.ISO_8859_1);
        if (integer) {
            try {
                return new JsonValue.JsonInt(Long.parseLong(text));
            } catch (NumberFormatException e) {
                // beyond 64 bits: a double, as QEMU parses it
            }
        }
        double d = Double.parseDouble(text);
        if (Double.isInfinite(d)) {
            throw error("number out of range '" + text + "'");
        }
        return new JsonValue.JsonDouble(d);
    }

    private boolean digits() {
        int start = pos;
        while (pos < end && in[pos] >= '0' && in[pos] <= '9') {
            pos++;
        }
        return pos > start;
    }

    private JsonParseException stray(int start) {
        int e = start;
        while (e < end && e - start < 32 && (isWordChar(in[e] & 0xFF) || in[e] == '.' || in[e] == '-' || in[e] == '+')) {
            e++;
        }
        return error("stray '" + new String(in, start, Math.max(1, e - start), java.nio.charset.StandardCharsets.ISO_8859_1) + "'");
    }

    private JsonValue keyword() throws JsonParseException {
        int start = pos;
        while (pos < end && isWordChar(in[pos] & 0xFF) && pos - start < 64) {
            pos++;
        }
        String word = new String(in, start, pos - start, java.nio.charset.StandardCharsets.ISO_8859_1);
        return switch (word) {
            case "true" -> JsonValue.JsonBool.TRUE;
            case "false" -> JsonValue.JsonBool.FALSE;
            case "null" -> JsonValue.JsonNull.INSTANCE;
            default -> throw error("invalid keyword '" + word + "'");
        };
    }

    private static boolean isWordChar(int c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }
}
