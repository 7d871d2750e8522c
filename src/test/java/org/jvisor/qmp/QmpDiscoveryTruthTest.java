package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.jvisor.api.VmEvent;
import org.jvisor.cli.CommandLine;
import org.jvisor.cli.UsageException;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * The discovery answers agree with what jvisor has: every -device model is in qom-list-types and
 * device-list-properties lists only properties its -device takes; every event jvisor emits is in
 * query-qmp-schema; the replies libvirt parses have typed return types whose names resolve.
 */
class QmpDiscoveryTruthTest {

    private static QmpCommandTable table() {
        QmpCommandTable t = new QmpCommandTable();
        QmpDiscovery.register(t);
        return t;
    }

    private static JsonValue run(QmpCommandTable t, String command, JsonObject args) throws QmpError {
        return t.execute(t.lookup(command), args);
    }

    private static String str(JsonValue o, String key) {
        return ((JsonValue.JsonString) ((JsonObject) o).members().get(key)).value();
    }

    @Test
    void everyDeviceModelIsListedWithPropertiesItsDeviceOptionTakes() throws Exception {
        QmpCommandTable t = table();
        Set<String> listed = new HashSet<>();
        for (JsonValue v : ((JsonArray) run(t, "qom-list-types", JsonObject.builder().put("implements", "device").build()))
                .elements()) {
            listed.add(str(v, "name"));
        }
        for (DeviceModel m : DeviceModel.values()) {
            assertTrue(listed.contains(m.qemuName()), m.qemuName() + " missing from qom-list-types");
            List<JsonValue> props = ((JsonArray) run(t, "device-list-properties",
                JsonObject.builder().put("typename", m.qemuName()).build())).elements();
            Set<String> names = new HashSet<>();
            props.forEach(p -> names.add(str(p, "name")));
            assertTrue(names.containsAll(m.properties().keySet()), m + ": " + names);
            for (String p : names) {
                // the -device parser may refuse the value, never the property
                String error = deviceError(m.qemuName() + "," + p + "=x");
                assertFalse(error.contains("unknown property '" + p + "'"), m.qemuName() + ": " + error);
            }
            // and the parser does check properties: one the list lacks is refused by name
            assertTrue(deviceError(m.qemuName() + ",no-such-prop=1").contains("no-such-prop"), m.qemuName());
        }
        // a device jvisor lacks is not found, as QEMU answers
        QmpError e = assertThrows(QmpError.class, () -> run(t, "device-list-properties",
            JsonObject.builder().put("typename", "virtio-gpu-pci").build()));
        assertEquals(QmpError.ErrorClass.DeviceNotFound, e.errorClass());
    }

    private static String deviceError(String device) {
        try {
            CommandLine.parse(new String[] {"-kernel", "k", "-device", device});
            return "";
        } catch (UsageException e) {
            return e.getMessage();
        }
    }

    /**
     * query-cpu-definitions lists the models -cpu takes, each runnable as it is (no
     * unavailable-features) but host off kvm, which QEMU 7.2 lists with ["kvm"] (checked with
     * -machine none,accel=tcg); max and its child host have QEMU's migratable property.
     */
    @Test
    void cpuDefinitionsAreTheModelsCpuTakes() throws Exception {
        for (String accel : List.of("tcg", "kvm")) {
            QmpCommandTable t = new QmpCommandTable();
            QmpDiscovery.register(t, () -> accel);
            Map<String, JsonObject> byName = new HashMap<>();
            for (JsonValue v : ((JsonArray) run(t, "query-cpu-definitions", JsonObject.EMPTY)).elements()) {
                byName.put(str(v, "name"), (JsonObject) v);
            }
            assertEquals(Set.of("qemu64", "max", "host", "base"), byName.keySet(), accel);
            for (Map.Entry<String, JsonObject> e : byName.entrySet()) {
                String model = e.getKey();
                assertEquals(model + "-x86_64-cpu", str(e.getValue(), "typename"));
                String unavailable = QmpClient.text(e.getValue().members().get("unavailable-features"));
                assertEquals(model.equals("host") && accel.equals("tcg") ? "[\"kvm\"]" : "[]", unavailable, accel + " " + model);
                CommandLine.parse(new String[] {"-kernel", "k", "-cpu", model});   // -cpu takes it
            }
            assertEquals(true, ((JsonValue.JsonBool) byName.get("base").members().get("static")).value());
            assertEquals(false, ((JsonValue.JsonBool) byName.get("host").members().get("migration-safe")).value());
        }
        QmpCommandTable t = table();
        for (String type : List.of("max-x86_64-cpu", "host-x86_64-cpu")) {
            List<JsonValue> props = ((JsonArray) run(t, "qom-list-properties", JsonObject.builder().put("typename", type).build()))
                .elements();
            assertTrue(props.stream().anyMatch(p -> str(p, "name").equals("migratable")), type);
        }
        CommandLine.parse(new String[] {"-kernel", "k", "-cpu", "host,migratable=on"});
    }

    /** The schema's entries by name. */
    private static Map<String, JsonObject> schema(QmpCommandTable t) throws QmpError {
        Map<String, JsonObject> byName = new HashMap<>();
        for (JsonValue v : ((JsonArray) run(t, "query-qmp-schema", JsonObject.EMPTY)).elements()) {
            byName.put(str(v, "name"), (JsonObject) v);
        }
        return byName;
    }

    @Test
    void everyEventKindIsInTheSchema() throws Exception {
        Map<String, JsonObject> schema = schema(table());
        assertEquals(VmEvent.class.getPermittedSubclasses().length, QmpEvents.examples().size());
        for (VmEvent e : QmpEvents.examples()) {
            JsonObject entry = schema.get(e.qmpName());
            assertEquals("event", str(entry, "meta-type"), e.qmpName());
            // the event's data members are the argument type's members
            JsonObject args = schema.get(str(entry, "arg-type"));
            Set<String> members = new HashSet<>();
            ((JsonArray) args.members().get("members")).elements().forEach(m -> members.add(str(m, "name")));
            Set<String> sent = QmpEvents.toJson(e).get("data").map(d -> ((JsonObject) d).members().keySet())
                .orElse(Set.of());
            assertEquals(sent, members, e.qmpName());
        }
        assertTrue(schema.containsKey("MIGRATION") && schema.containsKey("DEVICE_TRAY_MOVED"));
    }

    @Test
    void repliesLibvirtParsesHaveTypedReturns() throws Exception {
        QmpCommandTable t = table();
        for (String c : List.of("query-status", "query-version", "query-kvm", "query-cpus-fast", "query-block",
                "query-machines", "query-cpu-definitions", "query-uuid")) {
            t.add(c, List.of(), a -> JsonObject.EMPTY);
        }
        Map<String, JsonObject> schema = schema(t);
        assertEquals("object", str(schema.get(str(schema.get("query-status"), "ret-type")), "meta-type"));
        JsonObject version = schema.get(str(schema.get("query-version"), "ret-type"));
        assertEquals(Set.of("qemu", "package"), memberNames(version));
        JsonObject machines = schema.get(str(schema.get("query-machines"), "ret-type"));
        assertEquals("array", str(machines, "meta-type"));
        assertTrue(memberNames(schema.get(str(machines, "element-type"))).containsAll(Set.of("name", "cpu-max", "deprecated")));
        // every type named anywhere resolves to an entry
        for (JsonObject e : schema.values()) {
            for (String key : List.of("arg-type", "ret-type", "element-type")) {
                e.get(key).ifPresent(n -> assertTrue(schema.containsKey(((JsonValue.JsonString) n).value()), e.toString()));
            }
            e.get("members").ifPresent(ms -> ((JsonArray) ms).elements().forEach(m -> ((JsonObject) m).get("type")
                .ifPresent(n -> assertTrue(schema.containsKey(((JsonValue.JsonString) n).value()), m.toString()))));
        }
        assertEquals("any", str(schema.get("qom-list-types"), "ret-type"));
    }

    private static Set<String> memberNames(JsonObject type) {
        Set<String> names = new HashSet<>();
        ((JsonArray) type.members().get("members")).elements().forEach(m -> names.add(str(m, "name")));
        return names;
    }
}
