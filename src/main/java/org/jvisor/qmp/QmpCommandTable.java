package org.jvisor.qmp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * A monitor's commands by name, with their parameters checked as QEMU's generated marshallers
 * check them (qapi/qmp-dispatch.c, the texts of its errors). A machine's monitor and the server's
 * control socket each fill one.
 */
final class QmpCommandTable {

    /** A parameter's QAPI type, named as QEMU's "expected: ..." errors name it. */
    enum Type {
        STRING("string", "str"), INT("integer", "int"), BOOL("boolean", "bool"), ARRAY("array", "[any]"),
        /** Any JSON value: an object member the handler reads itself (blockdev-add's "cache", "file"). */
        ANY("any", "any");

        final String qapiName;
        /** The type's name in query-qmp-schema (a built-in, or an array of one). */
        final String schemaName;

        Type(String qapiName, String schemaName) {
            this.qapiName = qapiName;
            this.schemaName = schemaName;
        }

        boolean accepts(JsonValue v) {
            return switch (this) {
                case STRING -> v instanceof JsonValue.JsonString;
                case INT -> v instanceof JsonValue.JsonInt;
                case BOOL -> v instanceof JsonValue.JsonBool;
                case ARRAY -> v instanceof JsonArray;
                case ANY -> true;
            };
        }
    }

    record Param(String name, Type type, boolean required) {
    }

    @FunctionalInterface
    interface Handler {
        JsonValue run(JsonObject arguments) throws QmpError;
    }

    /**
     * A command; an {@code open} one takes arguments besides its parameters (QAPI's 'gen': false,
     * as device_add's device properties), which its handler checks.
     */
    record Command(String name, List<Param> params, Handler handler, boolean open) {
    }

    private final Map<String, Command> table = new LinkedHashMap<>();

    void add(String name, List<Param> params, Handler handler) {
        table.put(name, new Command(name, params, handler, false));
    }

    /** Adds an open command: arguments other than {@code params} go to the handler unchecked. */
    void addOpen(String name, List<Param> params, Handler handler) {
        table.put(name, new Command(name, params, handler, true));
    }

    /** Every command, in the order they were added. */
    java.util.Collection<Command> all() {
        return table.values();
    }

    /** The command called {@code name}, or null. */
    Command lookup(String name) {
        return table.get(name);
    }

    /** Checks {@code arguments} against the command's parameters (QEMU's texts), then runs it. */
    JsonValue execute(Command c, JsonObject arguments) throws QmpError {
        for (String key : arguments.members().keySet()) {
            if (!c.open() && c.params().stream().noneMatch(p -> p.name().equals(key))) {
                throw QmpError.generic("Parameter '" + key + "' is unexpected");
            }
        }
        for (Param p : c.params()) {
            JsonValue v = arguments.members().get(p.name());
            if (v == null) {
                if (p.required()) {
                    throw QmpError.generic("Parameter '" + p.name() + "' is missing");
                }
            } else if (!p.type().accepts(v)) {
                throw QmpError.generic("Invalid parameter type for '" + p.name() + "', expected: " + p.type().qapiName);
            }
        }
        return c.handler().run(arguments);
    }

    /** query-commands' answer: [{"name": ...}, ...] in the order the commands were added. */
    JsonValue names() {
        List<JsonValue> list = new ArrayList<>();
        for (String name : table.keySet()) {
            list.add(JsonObject.builder().put("name", name).build());
        }
        return new JsonArray(list);
    }
}
