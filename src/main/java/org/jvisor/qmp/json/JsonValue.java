package org.jvisor.qmp.json;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A JSON value as QEMU's QObject models it (qobject/: QDict, QList, QString, QNum, QBool, QNull).
 * Numbers keep QEMU's split: an integer that fits 64 bits is a {@link JsonInt}, anything else
 * (a fraction, an exponent, a larger integer) a {@link JsonDouble}. Objects keep their members in
 * the order given, so replies come out in the order QEMU writes them.
 */
public sealed interface JsonValue {

    /** The JSON type name, for error messages ("object", "array", "string", "number", "boolean", "null"). */
    default String typeName() {
        return switch (this) {
            case JsonObject o -> "object";
            case JsonArray a -> "array";
            case JsonString s -> "string";
            case JsonInt i -> "number";
            case JsonDouble d -> "number";
            case JsonBool b -> "boolean";
            case JsonNull n -> "null";
        };
    }

    /** An object: members in insertion order, unmodifiable, keys unique. */
    record JsonObject(Map<String, JsonValue> members) implements JsonValue {
        public static final JsonObject EMPTY = new JsonObject(Map.of());

        public JsonObject {
            members = Collections.unmodifiableMap(new LinkedHashMap<>(members));
        }

        /** The member {@code key}, if present. */
        public Optional<JsonValue> get(String key) {
            return Optional.ofNullable(members.get(key));
        }

        public static Builder builder() {
            return new Builder();
        }

        /** Builds an object member by member, in order. */
        public static final class Builder {
            private final LinkedHashMap<String, JsonValue> members = new LinkedHashMap<>();

            private Builder() {
            }

            public Builder put(String key, JsonValue value) {
                members.put(key, value);
                return this;
            }

            public Builder put(String key, String value) {
                return put(key, new JsonString(value));
            }

            public Builder put(String key, long value) {
                return put(key, new JsonInt(value));
            }

            public Builder put(String key, boolean value) {
                return put(key, JsonBool.of(value));
            }

            public JsonObject build() {
                return new JsonObject(members);
            }
        }
    }

    /** An array, unmodifiable. */
    record JsonArray(List<JsonValue> elements) implements JsonValue {
        public static final JsonArray EMPTY = new JsonArray(List.of());

        public JsonArray {
            elements = Collections.unmodifiableList(new ArrayList<>(elements));
        }
    }

    /** A string (any Unicode text; the writer escapes what JSON needs). */
    record JsonString(String value) implements JsonValue {
        public JsonString {
            java.util.Objects.requireNonNull(value, "value");
        }
    }

    /** An integer that fits a signed 64-bit long (QEMU's QNUM_I64). */
    record JsonInt(long value) implements JsonValue {
    }

    /** Any other number, as a double (QEMU's QNUM_DOUBLE; it parses large integers so too). */
    record JsonDouble(double value) implements JsonValue {
    }

    /** true or false. */
    record JsonBool(boolean value) implements JsonValue {
        public static final JsonBool TRUE = new JsonBool(true);
        public static final JsonBool FALSE = new JsonBool(false);

        public static JsonBool of(boolean value) {
            return value ? TRUE : FALSE;
        }
    }

    /** null. */
    record JsonNull() implements JsonValue {
        public static final JsonNull INSTANCE = new JsonNull();
    }
}
