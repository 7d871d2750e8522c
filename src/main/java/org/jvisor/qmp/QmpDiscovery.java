package org.jvisor.qmp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jvisor.cpu.CpuModel;
import org.jvisor.qmp.QmpCommandTable.Param;
import org.jvisor.qmp.QmpCommandTable.Type;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * The commands a management tool asks what the emulator is with (libvirt's capability probe):
 * query-qmp-schema, qom-list-types, qom-list-properties, device-list-properties, query-machines,
 * query-cpu-definitions, query-command-line-options, query-migrate-capabilities. The answers
 * describe what jvisor has, no more: its machines (pc-i440fx-7.2 alias pc, pc-q35-7.2 alias q35, microvm, none), its
 * vCPU models (qemu64, max, host, base: CpuModel), its devices with the properties its -device takes,
 * and the -object types it creates. QOM type names and parents are QEMU's.
 */
final class QmpDiscovery {
    /** A QOM type: its parent, whether it is abstract, its properties (name and QOM type name). */
    private record QomType(String parent, boolean isAbstract, Map<String, String> props) {
    }

    private static final Map<String, QomType> TYPES = new LinkedHashMap<>();

    private static void type(String name, String parent, boolean isAbstract, String... props) {
        Map<String, String> p = new LinkedHashMap<>();
        for (int i = 0; i < props.length; i += 2) {
            p.put(props[i], props[i + 1]);
        }
        TYPES.put(name, new QomType(parent, isAbstract, p));
    }

    static {
        type("object", null, true);
        type("device", "object", true);
        type("machine", "object", true, "dump-guest-core", "bool", "memory-backend", "link<memory-backend>", "usb", "bool");
        // smm, vmport and hpet: each only off in jvisor (-machine refuses on), listed so that libvirt
        // spells <smm state='off'/>, <vmport state='off'/> and an absent HPET as -machine properties
        type("x86-machine", "machine", true, "smm", "OnOffAuto");
        type("generic-pc-machine", "x86-machine", true, "vmport", "OnOffAuto", "hpet", "bool");
        type("pc-i440fx-7.2-machine", "generic-pc-machine", false, "kernel-decompress", "string");
        type("pc-q35-7.2-machine", "generic-pc-machine", false, "kernel-decompress", "string");
        type("microvm-machine", "x86-machine", false, "kernel-decompress", "string");
        type("none-machine", "machine", false);
        type("cpu", "device", true);
        type("x86_64-cpu", "cpu", true);
        type("qemu64-x86_64-cpu", "x86_64-cpu", false);
        type("base-x86_64-cpu", "x86_64-cpu", false);
        // migratable: -cpu max|host,migratable=on|off; listed, libvirt writes it for host-passthrough
        // (QEMU_CAPS_CPU_MIGRATABLE) instead of asking the running vCPU for it
        type("max-x86_64-cpu", "x86_64-cpu", false, "migratable", "bool");
        type("host-x86_64-cpu", "max-x86_64-cpu", false);
        type("accel", "object", true);
        type("tcg-accel", "accel", false);
        type("kvm-accel", "accel", false);
        type("pci-device", "device", true, "addr", "int32");
        type("virtio-pci", "pci-device", true, "iommu_platform", "bool", "ats", "bool", "disable-legacy", "OnOffAuto",
            "disable-modern", "bool");
        type("x86-iommu", "device", true, "intremap", "OnOffAuto", "device-iotlb", "bool");
        type("base-pci-bridge", "pci-device", true);
        type("pcie-port", "base-pci-bridge", true);
        type("pcie-root-port-base", "pcie-port", true);
        type("virtio-device", "device", true);
        type("virtio-serial-port", "device", true, "chardev", "str", "name", "str", "nr", "uint32");
        type("isa-device", "device", true);
        // the power management functions, for their -global disable_s3/disable_s4 (libvirt's
        // <pm> needs them listed); not -device models
        type("PIIX4_PM", "pci-device", false, "disable_s3", "uint8", "disable_s4", "uint8");
        type("ICH9-LPC", "pci-device", false, "disable_s3", "uint8", "disable_s4", "uint8");
        // libvirt 9.0 takes a "vmport" type as leave to write <vmport state='off'/> (-machine
        // vmport=off); jvisor has no VMware port, and -machine vmport=on and -device vmport are refused
        type("vmport", "isa-device", false);
        type("ide-device", "device", true);
        // the concrete devices: the one list -device checks against
        for (DeviceModel m : DeviceModel.values()) {
            TYPES.put(m.qemuName(), new QomType(m.parent(), false, m.properties()));
        }
        type("secret_common", "object", true, "format", "string");
        type("secret", "secret_common", false, "file", "string", "data", "string");
        type("memory-backend", "object", true, "size", "int", "prealloc", "bool", "dump", "bool", "merge", "bool", "share", "bool");
        type("memory-backend-ram", "memory-backend", false);
        type("event-loop-base", "object", true, "aio-max-batch", "int");
        type("iothread", "event-loop-base", false, "poll-max-ns", "int", "poll-grow", "int", "poll-shrink", "int");
        // QEMU 7.2's rng backends (libvirt looks for rng-random and rng-builtin before it uses them)
        type("rng-backend", "object", true, "opened", "bool");
        type("rng-builtin", "rng-backend", false);
        type("rng-random", "rng-backend", false, "filename", "string");
        type("chardev", "object", true);
        for (String c : List.of("socket", "file", "pty", "null", "stdio")) {
            type("chardev-" + c, "chardev", false);
        }
    }

    /** query-machines: name, alias, default, vCPU limit and the RAM id that memory-backend= replaces. */
    private record MachineInfo(String name, String alias, boolean isDefault, int cpuMax, String ramId) {
    }

    private static final List<MachineInfo> MACHINES = List.of(
        new MachineInfo("pc-i440fx-7.2", "pc", true, 255, "pc.ram"),
        new MachineInfo("pc-q35-7.2", "q35", false, 255, "pc.ram"),
        new MachineInfo("microvm", null, false, 255, "microvm.ram"),
        new MachineInfo("none", null, false, 1, "ram"));

    /**
     * Classes jvisor does not have that libvirt 9.0 asks qom-list-properties about whether or not
     * qom-list-types listed them, and whose "not found" answer it does not survive (libvirtd
     * crashes reading the missing property list): an empty list says "no properties", which
     * enables nothing.
     */
    private static final java.util.Set<String> PROBED_UNCONDITIONALLY = java.util.Set.of("memory-backend-file");

    private QmpDiscovery() {
    }

    /** The commands for a machine on tcg (what a test without a machine asks). */
    static void register(QmpCommandTable c) {
        register(c, () -> "tcg");
    }

    /** The commands, query-cpu-definitions answering for the engine {@code accelerator} names ("kvm", "tcg"). */
    static void register(QmpCommandTable c, java.util.function.Supplier<String> accelerator) {
        c.add("query-qmp-schema", List.of(), a -> QmpSchema.of(c));
        c.add("qom-list-types", List.of(new Param("implements", Type.STRING, false), new Param("abstract", Type.BOOL, false)),
            QmpDiscovery::listTypes);
        c.add("qom-list-properties", List.of(new Param("typename", Type.STRING, true)), a -> properties(a, false));
        c.add("device-list-properties", List.of(new Param("typename", Type.STRING, true)), a -> properties(a, true));
        c.add("query-machines", List.of(new Param("compat-props", Type.BOOL, false)), a -> machines());
        c.add("query-cpu-definitions", List.of(), a -> cpus(accelerator.get()));
        c.add("query-command-line-options", List.of(new Param("option", Type.STRING, false)), QmpDiscovery::options);
    }

    private static boolean implementsType(String name, String ancestor) {
        for (String t = name; t != null; t = TYPES.get(t).parent()) {
            if (t.equals(ancestor)) {
                return true;
            }
        }
        return false;
    }

    private static JsonValue listTypes(JsonObject a) {
        String impl = a.get("implements").map(v -> ((JsonValue.JsonString) v).value()).orElse(null);
        boolean withAbstract = a.get("abstract").map(v -> ((JsonValue.JsonBool) v).value()).orElse(false);
        List<JsonValue> list = new ArrayList<>();
        for (Map.Entry<String, QomType> e : TYPES.entrySet()) {
            if (e.getValue().isAbstract() && !withAbstract || impl != null && !implementsType(e.getKey(), impl)) {
                continue;
            }
            JsonObject.Builder b = JsonObject.builder().put("name", e.getKey());
            if (e.getValue().isAbstract()) {
                b.put("abstract", true);
            }
            if (e.getValue().parent() != null) {
                b.put("parent", e.getValue().parent());
            }
            list.add(b.build());
        }
        return new JsonArray(list);
    }

    /**
     * A type's properties, its ancestors' included (qom-list-properties); device-list-properties
     * only for device types that can be created, as QEMU refuses an abstract one.
     */
    private static JsonValue properties(JsonObject a, boolean device) throws QmpError {
        String name = ((JsonValue.JsonString) a.members().get("typename")).value();
        QomType t = TYPES.get(name);
        if (t == null && !device && PROBED_UNCONDITIONALLY.contains(name)) {
            return JsonArray.EMPTY;
        }
        if (t == null) {
            throw new QmpError(QmpError.ErrorClass.DeviceNotFound, device ? "Device '" + name + "' not found"
                : "Class '" + name + "' not found");
        }
        if (device && (!implementsType(name, "device") || t.isAbstract())) {
            throw QmpError.generic(t.isAbstract() ? "Parameter 'typename' expects a non-abstract device type"
                : "Parameter 'typename' expects device");
        }
        List<JsonValue> list = new ArrayList<>();
        if (!device) {
            list.add(JsonObject.builder().put("name", "type").put("type", "string").build());
        }
        List<String> chain = new ArrayList<>();
        for (String n = name; n != null; n = TYPES.get(n).parent()) {
            chain.addFirst(n);
        }
        for (String n : chain) {
            for (Map.Entry<String, String> p : TYPES.get(n).props().entrySet()) {
                list.add(JsonObject.builder().put("name", p.getKey()).put("type", p.getValue()).build());
            }
        }
        return new JsonArray(list);
    }

    private static JsonValue machines() {
        List<JsonValue> list = new ArrayList<>();
        for (MachineInfo m : MACHINES) {
            JsonObject.Builder b = JsonObject.builder().put("hotpluggable-cpus", false).put("name", m.name())
                .put("numa-mem-supported", false).put("default-cpu-type", "qemu64-x86_64-cpu")
                .put("cpu-max", m.cpuMax()).put("deprecated", false).put("default-ram-id", m.ramId());
            if (m.isDefault()) {
                b.put("is-default", true);
            }
            if (m.alias() != null) {
                b.put("alias", m.alias());
            }
            b.put("acpi", !m.name().equals("none"));
            list.add(b.build());
        }
        return new JsonArray(list);
    }

    /**
     * query-cpu-definitions: jvisor's models (CpuModel) as QEMU 7.2 lists them. Each runs on the
     * engine as it is (its flags are the engine's), so unavailable-features is empty, but for host
     * off kvm, which QEMU 7.2 lists with ["kvm"] (checked: -machine none,accel=tcg).
     */
    private static JsonValue cpus(String accelerator) {
        List<JsonValue> list = new ArrayList<>();
        for (CpuModel m : CpuModel.values()) {
            JsonArray unavailable = m.kvmOnly() && !accelerator.equals("kvm")
                ? new JsonArray(List.of(new JsonValue.JsonString("kvm"))) : JsonArray.EMPTY;
            list.add(JsonObject.builder().put("name", m.qemuName()).put("typename", m.typeName())
                .put("unavailable-features", unavailable).put("static", m.isStatic())
                .put("migration-safe", m.migrationSafe()).put("deprecated", false).build());
        }
        return new JsonArray(list);
    }

    /** The command-line options with key=value parameters that jvisor takes, as QEMU lists them. */
    private static final Map<String, List<String>> OPTIONS = new LinkedHashMap<>();

    static {
        // vmport: libvirt 9.0 writes <vmport state='off'/> (virt-install's default) only where this lists it
        OPTIONS.put("machine", List.of("type", "accel", "usb", "dump-guest-core", "memory-backend", "kernel-decompress",
            "mem-merge", "vmport", "smm", "hpet"));
        OPTIONS.put("accel", List.of("accel", "thread"));
        OPTIONS.put("smp-opts", List.of("cpus", "maxcpus", "sockets", "dies", "cores", "threads"));
        OPTIONS.put("boot-opts", List.of("order", "once", "menu", "strict", "reboot-timeout", "splash-time"));
        OPTIONS.put("rtc", List.of("base", "clock", "driftfix"));
        OPTIONS.put("sandbox", List.of("enable", "obsolete", "elevateprivileges", "spawn", "resourcecontrol"));
        OPTIONS.put("overcommit", List.of("mem-lock", "cpu-pm"));
        OPTIONS.put("msg", List.of("timestamp", "guest-name"));
        OPTIONS.put("name", List.of("guest", "process", "debug-threads"));
        OPTIONS.put("chardev", List.of("backend", "path", "server", "wait", "fd", "append", "host", "port"));
        OPTIONS.put("mon", List.of("chardev", "mode", "pretty"));
        OPTIONS.put("add-fd", List.of("fd", "set", "opaque"));
        OPTIONS.put("drive", List.of("file", "format", "if", "id", "readonly", "cache"));
        OPTIONS.put("netdev", List.of("type", "id", "ifname"));
    }

    private static JsonValue options(JsonObject a) throws QmpError {
        String only = a.get("option").map(v -> ((JsonValue.JsonString) v).value()).orElse(null);
        if (only != null && !OPTIONS.containsKey(only)) {
            throw QmpError.generic("invalid option name: " + only);
        }
        List<JsonValue> list = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : OPTIONS.entrySet()) {
            if (only != null && !only.equals(e.getKey())) {
                continue;
            }
            List<JsonValue> params = new ArrayList<>();
            for (String p : e.getValue()) {
                params.add(JsonObject.builder().put("name", p).put("type", "string").build());
            }
            list.add(JsonObject.builder().put("parameters", new JsonArray(params)).put("option", e.getKey()).build());
        }
        return new JsonArray(list);
    }
}
