package org.jvisor.qmp.json;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A JSON object as QEMU's key=value options see it (util/keyval.c): nested objects become dotted
 * keys ("cache.direct"), booleans "on"/"off", integers their decimal text. A null member is
 * left out, as an absent optional member (QAPI's BlockdevRefOrNull: "backing": null, which
 * libvirt sends for a qcow2 image without a backing file).
 */
public final class Keyval {
    private Keyval() {
    }

    /** The flattened members of {@code o}, in order. @throws IllegalArgumentException for a float or a list, naming the key */
    public static Map<String, String> flatten(JsonValue.JsonObject o) {
        Map<String, String> out = new LinkedHashMap<>();
        flatten("", o, out);
        return out;
    }

    private static void flatten(String prefix, JsonValue.JsonObject o, Map<String, String> out) {
        for (Map.Entry<String, JsonValue> m : o.members().entrySet()) {
            String key = prefix + m.getKey();
            String value = switch (m.getValue()) {
                case JsonValue.JsonObject inner -> {
                    flatten(key + ".", inner, out);
                    yield null;
                }
                case JsonValue.JsonString s -> s.value();
                case JsonValue.JsonInt i -> Long.toString(i.value());
                case JsonValue.JsonDouble d -> throw new IllegalArgumentException("Parameter '" + key
                    + "' expects an integer, not " + d.value());
                case JsonValue.JsonBool b -> b.value() ? "on" : "off";
                case JsonValue.JsonArray a -> throw new IllegalArgumentException("Parameter '" + key
                    + "': lists are not supported by jvisor");
                case JsonValue.JsonNull n -> null;
            };
            if (value != null) {
                out.put(key, value);
            }
        }
    }
}
