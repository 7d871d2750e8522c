package org.jvisor.qmp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import org.jvisor.api.RunState;
import org.jvisor.api.VmEvent;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * query-qmp-schema in QEMU's introspection format (qapi/introspect.json), made from what jvisor
 * really has: one "command" entry per command in the table, its arguments an "object" type; one
 * "event" entry per kind of {@link VmEvent} (the sealed type's permitted classes, so a new event
 * cannot be left out), its data members read from the JSON {@link QmpEvents} sends for it. The
 * commands libvirt parses the replies of have their reply's type, shaped as QEMU 7.2's schema
 * (members jvisor never sends are left out); the rest return "any". Type names other than the
 * built-ins are opaque numbers, as QEMU's are; an array of T is "[T]".
 */
final class QmpSchema {

    /** A type in the schema. */
    sealed interface SchemaType {
    }

    /** A built-in: str, int, bool, any, number, null. */
    record Builtin(String name, String jsonType) implements SchemaType {
    }

    /** An object type; optional members have "default": null. */
    record Obj(List<Member> members) implements SchemaType {
    }

    record Member(String name, SchemaType type, boolean optional) {
    }

    record Arr(SchemaType element) implements SchemaType {
    }

    record EnumType(List<String> values) implements SchemaType {
    }

    static final Builtin STR = new Builtin("str", "string");
    static final Builtin INT = new Builtin("int", "int");
    static final Builtin BOOL = new Builtin("bool", "boolean");
    static final Builtin ANY = new Builtin("any", "value");
    static final Builtin NUMBER = new Builtin("number", "number");

    private static Member req(String name, SchemaType t) {
        return new Member(name, t, false);
    }

    private static Member opt(String name, SchemaType t) {
        return new Member(name, t, true);
    }

    private static Obj obj(Member... members) {
        return new Obj(List.of(members));
    }

    /** The reply types of the commands libvirt reads, as QEMU 7.2's qapi/*.json declares them. */
    private static final Map<String, SchemaType> RETURNS;

    static {
        SchemaType inserted = obj(req("file", STR), opt("node-name", STR), req("ro", BOOL), req("drv", STR),
            req("backing_file_depth", INT), req("encrypted", BOOL), req("detect_zeroes", new EnumType(List.of("off", "on", "unmap"))),
            req("bps", INT), req("bps_rd", INT), req("bps_wr", INT), req("iops", INT), req("iops_rd", INT), req("iops_wr", INT),
            req("image", obj(req("filename", STR), req("format", STR), opt("dirty-flag", BOOL), req("virtual-size", INT))),
            req("cache", obj(req("writeback", BOOL), req("direct", BOOL), req("no-flush", BOOL))),
            req("write_threshold", INT));
        RETURNS = Map.of(
            "query-status", obj(req("running", BOOL), req("singlestep", BOOL),
                req("status", new EnumType(Arrays.stream(RunState.values()).map(RunState::qemuName).toList()))),
            "query-version", obj(req("qemu", obj(req("major", INT), req("minor", INT), req("micro", INT))),
                req("package", STR)),
            "query-kvm", obj(req("enabled", BOOL), req("present", BOOL)),
            "query-uuid", obj(req("UUID", STR)),
            "query-cpus-fast", new Arr(obj(req("cpu-index", INT), req("qom-path", STR), req("thread-id", INT),
                opt("props", obj(opt("node-id", INT), opt("socket-id", INT), opt("die-id", INT), opt("cluster-id", INT),
                    opt("core-id", INT), opt("thread-id", INT))),
                req("target", new EnumType(List.of("x86_64"))))),
            "query-block", new Arr(obj(req("device", STR), opt("qdev", STR), req("type", STR), req("removable", BOOL),
                req("locked", BOOL), opt("inserted", inserted), opt("tray_open", BOOL),
                opt("io-status", new EnumType(List.of("ok", "failed", "nospace"))))),
            "query-machines", new Arr(obj(req("name", STR), opt("alias", STR), opt("is-default", BOOL), req("cpu-max", INT),
                req("hotpluggable-cpus", BOOL), req("numa-mem-supported", BOOL), req("deprecated", BOOL),
                opt("default-cpu-type", STR), opt("default-ram-id", STR), opt("acpi", BOOL))),
            "query-cpu-definitions", new Arr(obj(req("name", STR), opt("migration-safe", BOOL), req("static", BOOL),
                opt("unavailable-features", new Arr(STR)), req("typename", STR), opt("alias-of", STR),
                req("deprecated", BOOL))));
    }

    private QmpSchema() {
    }

    /** The type a reply of {@code command} is declared with ("any" for the commands not in {@link #RETURNS}). */
    static SchemaType returnType(String command) {
        return RETURNS.getOrDefault(command, ANY);
    }

    /** The schema's event entries: one per permitted class of {@link VmEvent}, with its data members. */
    static Map<String, Obj> events() {
        Map<String, Obj> events = new java.util.LinkedHashMap<>();
        for (Class<?> kind : VmEvent.class.getPermittedSubclasses()) {
            VmEvent example = QmpEvents.examples().stream().filter(kind::isInstance).findFirst()
                .orElseThrow(() -> new IllegalStateException("QmpEvents has no example of " + kind.getSimpleName()));
            JsonObject json = QmpEvents.toJson(example);
            List<Member> members = new ArrayList<>();
            json.get("data").ifPresent(d -> ((JsonObject) d).members().forEach((k, v) -> members.add(req(k, typeOf(v)))));
            events.put(example.qmpName(), new Obj(members));
        }
        return events;
    }

    private static SchemaType typeOf(JsonValue v) {
        return switch (v) {
            case JsonValue.JsonString s -> STR;
            case JsonValue.JsonBool b -> BOOL;
            case JsonValue.JsonInt i -> INT;
            default -> ANY;
        };
    }

    static JsonArray of(QmpCommandTable commands) {
        Emitter out = new Emitter();
        // QEMU's entries come first, then the types they name
        List<JsonValue> entries = new ArrayList<>();
        for (QmpCommandTable.Command c : commands.all()) {
            List<Member> args = new ArrayList<>();
            for (QmpCommandTable.Param p : c.params()) {
                args.add(new Member(p.name(), switch (p.type()) {
                    case STRING -> STR;
                    case INT -> INT;
                    case BOOL -> BOOL;
                    case ARRAY -> new Arr(ANY);
                    case ANY -> ANY;
                }, !p.required()));
            }
            entries.add(JsonObject.builder().put("name", c.name()).put("meta-type", "command")
                .put("arg-type", out.name(new Obj(args))).put("ret-type", out.name(returnType(c.name()))).build());
        }
        for (Map.Entry<String, Obj> e : events().entrySet()) {
            entries.add(JsonObject.builder().put("name", e.getKey()).put("meta-type", "event")
                .put("arg-type", out.name(e.getValue())).build());
        }
        for (Builtin b : List.of(STR, INT, BOOL, ANY, NUMBER)) {
            out.name(b);
        }
        entries.addAll(out.types);
        return new JsonArray(entries);
    }

    /** Names each type once (an equal type shares its name, as QEMU's do) and collects its entry. */
    private static final class Emitter {
        private final Map<SchemaType, String> names = new java.util.HashMap<>();
        private final List<JsonValue> types = new ArrayList<>();
        private int next;

        String name(SchemaType t) {
            String known = names.get(t);
            if (known != null) {
                return known;
            }
            String name = switch (t) {
                case Builtin b -> b.name();
                case Arr a -> "[" + name(a.element()) + "]";
                case Obj o -> Integer.toString(next++);
                case EnumType e -> Integer.toString(next++);
            };
            names.put(t, name);
            JsonObject.Builder b = JsonObject.builder().put("name", name);
            switch (t) {
                case Builtin bi -> b.put("meta-type", "builtin").put("json-type", bi.jsonType());
                case Arr a -> b.put("meta-type", "array").put("element-type", name(a.element()));
                case Obj o -> {
                    List<JsonValue> members = new ArrayList<>();
                    for (Member m : o.members()) {
                        JsonObject.Builder mb = JsonObject.builder().put("name", m.name()).put("type", name(m.type()));
                        if (m.optional()) {
                            mb.put("default", JsonValue.JsonNull.INSTANCE);
                        }
                        members.add(mb.build());
                    }
                    b.put("members", new JsonArray(members)).put("meta-type", "object");
                }
                case EnumType e -> {
                    List<JsonValue> members = new ArrayList<>();
                    List<JsonValue> values = new ArrayList<>();
                    for (String v : e.values()) {
                        members.add(JsonObject.builder().put("name", v).build());
                        values.add(new JsonValue.JsonString(v));
                    }
                    b.put("members", new JsonArray(members)).put("meta-type", "enum").put("values", new JsonArray(values));
                }
            }
            types.add(b.build());
            return name;
        }
    }
}
