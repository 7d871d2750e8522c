package org.jvisor.cli;

import java.util.LinkedHashMap;
import java.util.Map;

import org.jvisor.qmp.json.JsonParseException;
import org.jvisor.qmp.json.JsonReader;
import org.jvisor.qmp.json.JsonValue;

/**
 * QEMU's JSON spelling of -device, -object and -blockdev (what libvirt generates when the
 * emulator's QMP schema says it takes it): one JSON object, read into the same {@link OptionList}
 * the key=value spelling gives, as QEMU's keyval does (qemu-options.hx; util/keyval.c): nested
 * objects become dotted keys ("cache.direct"), booleans "on"/"off", numbers their decimal text.
 */
final class JsonOptions {
    private JsonOptions() {
    }

    /** Whether {@code text} is the JSON spelling (QEMU looks at the first character too). */
    static boolean isJson(String text) {
        return text.startsWith("{");
    }

    /**
     * The object {@code text} as an option list whose implied value is the member {@code typeKey}
     * ("driver" of -device, "qom-type" of -object), or null to keep every member a value.
     */
    static OptionList parse(String option, String text, String typeKey) throws UsageException {
        JsonValue v;
        try {
            v = JsonReader.parse(text);
        } catch (JsonParseException e) {
            throw new UsageException(option + ": malformed JSON: " + e.getMessage());
        }
        if (!(v instanceof JsonValue.JsonObject o)) {
            throw new UsageException(option + ": the JSON form must be an object, not " + v.typeName());
        }
        Map<String, String> values = new LinkedHashMap<>();
        flatten(option, "", o, values);
        String implied = null;
        if (typeKey != null) {
            implied = values.remove(typeKey);
            if (implied == null) {
                throw new UsageException(option + ": Parameter '" + typeKey + "' is missing");
            }
        }
        return new OptionList(option, implied, values);
    }

    private static void flatten(String option, String prefix, JsonValue.JsonObject o, Map<String, String> out)
            throws UsageException {
        for (Map.Entry<String, JsonValue> m : o.members().entrySet()) {
            String key = prefix + m.getKey();
            String value = switch (m.getValue()) {
                case JsonValue.JsonObject inner -> {
                    flatten(option, key + ".", inner, out);
                    yield null;
                }
                case JsonValue.JsonString s -> s.value();
                case JsonValue.JsonInt i -> Long.toString(i.value());
                case JsonValue.JsonDouble d -> throw new UsageException(option + ": Parameter '" + key
                    + "' expects an integer, not " + d.value());
                case JsonValue.JsonBool b -> b.value() ? "on" : "off";
                case JsonValue.JsonArray a -> throw new UsageException(option + ": Parameter '" + key
                    + "': lists are not supported by jvisor");
                case JsonValue.JsonNull n -> throw new UsageException(option + ": Parameter '" + key + "' is null");
            };
            if (value != null) {
                out.put(key, value);
            }
        }
    }
}
