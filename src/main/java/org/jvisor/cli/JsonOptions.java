package org.jvisor.cli;

import java.util.Map;

import org.jvisor.qmp.json.JsonParseException;
import org.jvisor.qmp.json.Keyval;
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
        Map<String, String> values;
        try {
            values = Keyval.flatten(o);
        } catch (IllegalArgumentException e) {
            throw new UsageException(option + ": " + e.getMessage());
        }
        String implied = null;
        if (typeKey != null) {
            implied = values.remove(typeKey);
            if (implied == null) {
                throw new UsageException(option + ": Parameter '" + typeKey + "' is missing");
            }
        }
        return new OptionList(option, implied, values);
    }
}
