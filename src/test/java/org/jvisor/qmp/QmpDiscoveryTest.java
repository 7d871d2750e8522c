package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorSession;

/**
 * jvisor started as libvirt probes an emulator (-machine none: no guest, QMP only) answers the
 * discovery commands from what it has: a schema that lists exactly the commands it runs, its
 * machines, devices and their properties, QEMU's error classes for what it lacks; the lifecycle
 * commands work on a machine with no vCPU, and SIGTERM ends it. -name process= names the process.
 */
@GuestTest
class QmpDiscoveryTest {

    private static List<JsonValue> list(JsonObject reply) {
        return ((JsonArray) reply.members().get("return")).elements();
    }

    private static String name(JsonValue v) {
        return ((JsonValue.JsonString) ((JsonObject) v).members().get("name")).value();
    }

    @Test
    void machineNoneDescribesJvisor(@TempDir Path dir) throws Exception {
        Path socket = dir.resolve("qmp.sock");
        try (JvisorSession jvisor = JvisorSession.start("-S", "-no-user-config", "-nodefaults", "-nographic",
                "-machine", "none,accel=kvm:tcg", "-qmp", "unix:" + socket + ",server=on,wait=off",
                "-name", "guest=probe,process=jvisor-probe-process");
             QmpClient q = QmpClient.connect(socket)) {
            q.reply();
            q.execute("{\"execute\": \"qmp_capabilities\"}");
            // -name process=: what ps shows, cut to the kernel's 15 bytes as QEMU's prctl is
            assertEquals("jvisor-probe-pr", java.nio.file.Files.readString(Path.of("/proc/" + jvisor.pid() + "/comm")).strip());
            assertEquals("{\"return\": {\"name\": \"probe\"}}", QmpClient.text(q.execute("{\"execute\": \"query-name\"}")));

            // the schema's commands are query-commands' commands, each with an argument type in the schema
            Set<String> commands = new HashSet<>();
            list(q.execute("{\"execute\": \"query-commands\"}")).forEach(c -> commands.add(name(c)));
            List<JsonValue> schema = list(q.execute("{\"execute\": \"query-qmp-schema\"}"));
            Set<String> schemaCommands = new HashSet<>();
            Set<String> typeNames = new HashSet<>();
            for (JsonValue e : schema) {
                JsonObject o = (JsonObject) e;
                String meta = ((JsonValue.JsonString) o.members().get("meta-type")).value();
                if (meta.equals("command")) {
                    schemaCommands.add(name(o));
                } else if (!meta.equals("event")) {
                    typeNames.add(name(o));
                }
            }
            assertEquals(commands, schemaCommands);
            for (JsonValue e : schema) {
                JsonObject o = (JsonObject) e;
                o.get("arg-type").ifPresent(t -> assertTrue(typeNames.contains(((JsonValue.JsonString) t).value()), o.toString()));
            }
            assertTrue(commands.containsAll(List.of("qom-list-types", "device-list-properties", "query-machines",
                "query-cpu-definitions", "query-named-block-nodes", "qom-list", "device_del", "migrate-set-capabilities")));

            String machines = QmpClient.text(q.execute("{\"execute\": \"query-machines\"}"));
            assertTrue(machines.contains("\"name\": \"pc-i440fx-7.2\"") && machines.contains("\"alias\": \"pc\"")
                && machines.contains("\"name\": \"microvm\"") && machines.contains("\"name\": \"none\""), machines);
            assertTrue(machines.contains("\"name\": \"pc-q35-7.2\"") && machines.contains("\"alias\": \"q35\""), machines);

            Set<String> devices = new HashSet<>();
            list(q.execute("{\"execute\": \"qom-list-types\", \"arguments\": {\"implements\": \"device\"}}"))
                .forEach(t -> devices.add(name(t)));
            assertTrue(devices.containsAll(List.of("virtio-blk-pci", "virtio-net-pci", "virtio-rng-pci", "virtio-serial-pci",
                "isa-serial", "virtconsole", "virtio-balloon-pci")), devices.toString());
            assertTrue(!devices.contains("virtio-gpu-pci") && !devices.contains("pci-device"), devices.toString());
            assertEquals("[{\"name\": \"addr\", \"type\": \"int32\"}, {\"name\": \"iommu_platform\", \"type\": \"bool\"}, "
                + "{\"name\": \"ats\", \"type\": \"bool\"}, {\"name\": \"disable-legacy\", \"type\": \"OnOffAuto\"}, "
                + "{\"name\": \"disable-modern\", \"type\": \"bool\"}, {\"name\": \"drive\", \"type\": \"str\"}, "
                + "{\"name\": \"bootindex\", \"type\": \"int32\"}, "
                + "{\"name\": \"iothread\", \"type\": \"link<iothread>\"}, {\"name\": \"ioeventfd\", \"type\": \"bool\"}]",
                QmpClient.text(q.execute(
                "{\"execute\": \"device-list-properties\", \"arguments\": {\"typename\": \"virtio-blk-pci\"}}").members().get("return")));
            assertEquals("{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'virtio-gpu-pci' not found\"}}",
                QmpClient.text(q.execute("{\"execute\": \"device-list-properties\", \"arguments\": {\"typename\": \"virtio-gpu-pci\"}}")));
            assertEquals("{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'gone' not found\"}}",
                QmpClient.text(q.execute("{\"execute\": \"device_del\", \"arguments\": {\"id\": \"gone\"}}")));
            assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Migration capability 'xbzrle' is not supported by jvisor\"}}",
                QmpClient.text(q.execute("{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
                    + "{\"capabilities\": [{\"capability\": \"xbzrle\", \"state\": true}]}}")));
            assertEquals("{\"return\": {}}", QmpClient.text(q.execute("{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
                + "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}}")));
            assertEquals("{\"return\": [{\"capability\": \"events\", \"state\": true}]}",
                QmpClient.text(q.execute("{\"execute\": \"query-migrate-capabilities\"}")));

            assertEquals("{\"error\": {\"class\": \"DeviceNotActive\", \"desc\": \"No balloon device has been activated\"}}",
                QmpClient.text(q.execute("{\"execute\": \"query-balloon\"}")));
            assertEquals("{\"return\": []}", QmpClient.text(q.execute("{\"execute\": \"query-iothreads\"}")));

            // no vCPU: the lifecycle still works (a reset or pause has nothing to wait for)
            assertEquals("{\"return\": []}", QmpClient.text(q.execute("{\"execute\": \"query-cpus-fast\"}")));
            assertEquals("{\"return\": {}}", QmpClient.text(q.execute("{\"execute\": \"cont\"}")));
            q.event("RESUME");
            assertEquals("{\"return\": {}}", QmpClient.text(q.execute("{\"execute\": \"system_reset\"}")));
            q.event("RESET");
            assertEquals("{\"return\": {}}", QmpClient.text(q.execute("{\"execute\": \"stop\"}")));
            q.event("STOP");

            jvisor.terminate();         // SIGTERM, as libvirt ends an emulator: it ends (the hang guard fails otherwise)
            jvisor.waitFor(60);
        }
    }
}
