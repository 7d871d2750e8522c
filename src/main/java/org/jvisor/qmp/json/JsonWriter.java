package org.jvisor.qmp.json;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Writes JSON as QEMU's QMP output does (qobject/qjson.c): on one line with ", " and ": " between
 * members, or pretty (-mon pretty=on: four spaces per level, CRLF line ends); strings with every
 * character outside printable ASCII as an upper-case \\uXXXX escape; doubles as C's "%.17g".
 */
public final class JsonWriter {
    private JsonWriter() {
    }

    /** {@code value} on one line (no line end). */
    public static String compact(JsonValue value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, -1);
        return sb.toString();
    }

    /** {@code value} over several CRLF-separated lines, indented (no final line end). */
    public static String pretty(JsonValue value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, 0);
        return sb.toString();
    }

    /** {@code level} < 0: compact. */
    private static void write(StringBuilder sb, JsonValue value, int level) {
        switch (value) {
            case JsonValue.JsonObject o -> {
                sb.append('{');
                Iterator<Map.Entry<String, JsonValue>> it = o.members().entrySet().iterator();
                while (it.hasNext()) {
                    Map.Entry<String, JsonValue> e = it.next();
                    newline(sb, level, 1);
                    string(sb, e.getKey());
                    sb.append(": ");
                    write(sb, e.getValue(), level < 0 ? -1 : level + 1);
                    if (it.hasNext()) {
                        sb.append(level < 0 ? ", " : ",");
                    }
                }
                newline(sb, level, 0);
                sb.append('}');
            }
            case JsonValue.JsonArray a -> {
                sb.append('[');
                List<JsonValue> elements = a.elements();
                for (int i = 0; i < elements.size(); i++) {
                    newline(sb, level, 1);
                    write(sb, elements.get(i), level < 0 ? -1 : level + 1);
                    if (i + 1 < elements.size()) {
                        sb.append(level < 0 ? ", " : ",");
                    }
                }
                newline(sb, level, 0);
                sb.append(']');
            }
            case JsonValue.JsonString s -> string(sb, s.value());
            case JsonValue.JsonInt i -> sb.append(i.value());
            case JsonValue.JsonDouble d -> sb.append(formatDouble(d.value()));
            case JsonValue.JsonBool b -> sb.append(b.value());
            case JsonValue.JsonNull n -> sb.append("null");
        }
    }

    private static void newline(StringBuilder sb, int level, int extra) {
        if (level >= 0) {
            sb.append("\r\n");
            sb.repeat(' ', 4 * (level + extra));
        }
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || c >= 0x7F) {
                        sb.append(String.format("\\u%04X", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    /** C's printf("%.17g", d): 17 significant digits, trailing zeros dropped, an exponent beyond 1e17 or below 1e-4. */
    static String formatDouble(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        if (d == 0) {
            return (1 / d) < 0 ? "-0" : "0";
        }
        BigDecimal b = new BigDecimal(d).round(new MathContext(17)).stripTrailingZeros();
        int exponent = b.precision() - b.scale() - 1;
        if (exponent < -4 || exponent >= 17) {
            String digits = b.unscaledValue().abs().toString();
            StringBuilder sb = new StringBuilder();
            if (b.signum() < 0) {
                sb.append('-');
            }
            sb.append(digits.charAt(0));
            if (digits.length() > 1) {
                sb.append('.').append(digits, 1, digits.length());
            }
            sb.append('e').append(exponent < 0 ? '-' : '+');
            int e = Math.abs(exponent);
            if (e < 10) {
                sb.append('0');
            }
            return sb.append(e).toString();
        }
        return b.toPlainString();
    }
}
