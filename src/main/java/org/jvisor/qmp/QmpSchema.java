package org.jvisor.qmp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * query-qmp-schema in QEMU's introspection format (qapi/introspect.json), made from the command
 * table jvisor really has: one "command" entry per command, its arguments an "object" type,
 * the events jvisor sends, and the built-in types they name. Type names other than the
 * built-ins are opaque numbers, as QEMU's are. Return types are "any": jvisor describes no more
 * than it must, so a client that looks for a feature in a reply's type does not find one.
 */
final class QmpSchema {
    /** The events jvisor emits (QmpEvents) with their data members. */
    private static final Map<String, List<QmpCommandTable.Param>> EVENTS = new LinkedHashMap<>();

    static {
        EVENTS.put("SHUTDOWN", List.of(new QmpCommandTable.Param("guest", QmpCommandTable.Type.BOOL, true),
            new QmpCommandTable.Param("reason", QmpCommandTable.Type.STRING, true)));
        EVENTS.put("RESET", List.of(new QmpCommandTable.Param("guest", QmpCommandTable.Type.BOOL, true),
            new QmpCommandTable.Param("reason", QmpCommandTable.Type.STRING, true)));
        EVENTS.put("POWERDOWN", List.of());
        EVENTS.put("STOP", List.of());
        EVENTS.put("RESUME", List.of());
    }

    private QmpSchema() {
    }

    static JsonArray of(QmpCommands commands) {
        List<JsonValue> entries = new ArrayList<>();
        List<JsonValue> types = new ArrayList<>();
        int next = 0;
        for (QmpCommandTable.Command c : commands.all()) {
            String argType = Integer.toString(next++);
            types.add(objectType(argType, c.params()));
            entries.add(JsonObject.builder().put("name", c.name()).put("meta-type", "command")
                .put("arg-type", argType).put("ret-type", "any").build());
        }
        for (Map.Entry<String, List<QmpCommandTable.Param>> e : EVENTS.entrySet()) {
            String argType = Integer.toString(next++);
            types.add(objectType(argType, e.getValue()));
            entries.add(JsonObject.builder().put("name", e.getKey()).put("meta-type", "event").put("arg-type", argType).build());
        }
        entries.addAll(types);
        entries.add(builtin("str", "string"));
        entries.add(builtin("int", "int"));
        entries.add(builtin("bool", "boolean"));
        entries.add(builtin("any", "value"));
        entries.add(JsonObject.builder().put("name", "[any]").put("meta-type", "array").put("element-type", "any").build());
        return new JsonArray(entries);
    }

    private static JsonObject objectType(String name, List<QmpCommandTable.Param> params) {
        List<JsonValue> members = new ArrayList<>();
        for (QmpCommandTable.Param p : params) {
            JsonObject.Builder m = JsonObject.builder().put("name", p.name()).put("type", p.type().schemaName);
            if (!p.required()) {
                m.put("default", JsonValue.JsonNull.INSTANCE);
            }
            members.add(m.build());
        }
        return JsonObject.builder().put("name", name).put("meta-type", "object").put("members", new JsonArray(members)).build();
    }

    private static JsonObject builtin(String name, String jsonType) {
        return JsonObject.builder().put("name", name).put("meta-type", "builtin").put("json-type", jsonType).build();
    }
}
