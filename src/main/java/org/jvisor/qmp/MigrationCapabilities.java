package org.jvisor.qmp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jvisor.qmp.QmpCommandTable.Param;
import org.jvisor.qmp.QmpCommandTable.Type;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * query-migrate-capabilities and migrate-set-capabilities (qapi/migration.json) for the one
 * capability jvisor lists, "events" (libvirt 9.0 turns it on for every domain it starts): with it,
 * QMP sends MIGRATION events. The other capabilities (xbzrle, postcopy-ram...) change QEMU's
 * migration stream, which jvisor's does not follow, so they are refused.
 */
final class MigrationCapabilities {
    private final Map<String, Boolean> states = new LinkedHashMap<>();

    private MigrationCapabilities() {
        states.put("events", false);
    }

    static MigrationCapabilities register(QmpCommands c) {
        MigrationCapabilities m = new MigrationCapabilities();
        c.add("query-migrate-capabilities", List.of(), a -> m.query());
        c.add("migrate-set-capabilities", List.of(new Param("capabilities", Type.ARRAY, true)), m::set);
        return m;
    }

    /** Whether {@code capability} is on. */
    synchronized boolean enabled(String capability) {
        return states.getOrDefault(capability, false);
    }

    private synchronized JsonValue query() {
        List<JsonValue> list = new ArrayList<>();
        states.forEach((k, v) -> list.add(JsonObject.builder().put("capability", k).put("state", v).build()));
        return new JsonArray(list);
    }

    /** All or nothing, as QEMU checks the whole list before it applies any of it. */
    private synchronized JsonValue set(JsonObject a) throws QmpError {
        Map<String, Boolean> wanted = new LinkedHashMap<>();
        List<JsonValue> list = ((JsonArray) a.members().get("capabilities")).elements();
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof JsonObject o)
                    || !(o.members().get("capability") instanceof JsonValue.JsonString name)
                    || !(o.members().get("state") instanceof JsonValue.JsonBool state)
                    || o.members().size() != 2) {
                throw QmpError.generic("Invalid parameter type for 'capabilities[" + i + "]', expected: "
                    + "{\"capability\": string, \"state\": boolean}");
            }
            if (!states.containsKey(name.value())) {
                throw QmpError.generic("Migration capability '" + name.value() + "' is not supported by jvisor");
            }
            wanted.put(name.value(), state.value());
        }
        states.putAll(wanted);
        return JsonObject.EMPTY;
    }
}
