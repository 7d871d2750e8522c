package org.jvisor.qmp;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.jvisor.api.VcpuInfo;
import org.jvisor.api.VirtualMachine;
import org.jvisor.cpu.CpuModel;
import org.jvisor.qmp.QmpCommandTable.Param;
import org.jvisor.qmp.QmpCommandTable.Type;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * The part of QEMU's object tree (QOM) that management tools walk: /machine with its containers,
 * /machine/peripheral holding each -device that has an id= (libvirt checks its devices are there
 * after a start), and the vCPUs at /machine/unattached/device[N] (of their -cpu model's type). qom-list,
 * qom-get of "type" (and of a max or host vCPU's migratable, and of a balloon's guest-stats and
 * guest-stats-polling-interval, which qom-set sets). The peripherals change as device_add plugs
 * devices and DEVICE_DELETED takes them out.
 */
final class QomTree {
    private final VirtualMachine vm;
    private final Map<String, String> peripherals;

    private QomTree(VirtualMachine vm, Map<String, String> peripherals) {
        this.vm = vm;
        this.peripherals = peripherals;
    }

    static void register(QmpCommands c, VirtualMachine vm, Map<String, String> peripherals) {
        QomTree t = new QomTree(vm, peripherals);
        c.add("qom-list", List.of(new Param("path", Type.STRING, true)), t::list);
        c.add("qom-get", List.of(new Param("path", Type.STRING, true), new Param("property", Type.STRING, true)), t::get);
        c.add("qom-set", List.of(new Param("path", Type.STRING, true), new Param("property", Type.STRING, true),
            new Param("value", Type.ANY, true)), t::set);
    }

    /** The QOM type at {@code path}, or null when nothing is there. */
    private String typeAt(String path) {
        return switch (path) {
            case "/machine" -> switch (vm.config().machineType()) {
                case PC -> "pc-i440fx-7.2-machine";
                case Q35 -> "pc-q35-7.2-machine";
                case MICROVM -> "microvm-machine";
                case NONE -> "none-machine";
            };
            case "/machine/peripheral", "/machine/peripheral-anon", "/machine/unattached" -> "container";
            default -> {
                if (path.startsWith("/machine/peripheral/")) {
                    yield peripherals.get(path.substring("/machine/peripheral/".length()));
                }
                for (VcpuInfo v : vm.vcpus()) {
                    if (path.equals("/machine/unattached/device[" + v.index() + "]")) {
                        yield vcpuType();
                    }
                }
                yield null;
            }
        };
    }

    private JsonValue list(JsonObject a) throws QmpError {
        String path = normalize(((JsonValue.JsonString) a.members().get("path")).value());
        String type = typeAt(path);
        if (type == null) {
            throw notFound(path);
        }
        List<JsonValue> list = new ArrayList<>();
        list.add(prop("type", "string"));
        switch (path) {
            case "/machine" -> {
                list.add(prop("peripheral", "child<container>"));
                list.add(prop("peripheral-anon", "child<container>"));
                list.add(prop("unattached", "child<container>"));
            }
            case "/machine/peripheral" -> peripherals.forEach((id, driver) -> list.add(prop(id, "child<" + driver + ">")));
            case "/machine/unattached" -> {
                for (VcpuInfo v : vm.vcpus()) {
                    list.add(prop("device[" + v.index() + "]", "child<" + vcpuType() + ">"));
                }
            }
            default -> {
                if (isBalloon(type)) {
                    list.add(prop("guest-stats", "guest-stats"));
                    list.add(prop("guest-stats-polling-interval", "int"));
                }
                if (hasMigratable(type)) {
                    list.add(prop("migratable", "bool"));
                }
            }
        }
        return new JsonArray(list);
    }

    /** The vCPUs' QOM type: their -cpu model's ("qemu64-x86_64-cpu", "host-x86_64-cpu"). */
    private String vcpuType() {
        CpuModel m = CpuModel.named(vm.config().cpu().model());
        return m != null ? m.typeName() : CpuModel.QEMU64.typeName();
    }

    /** A vCPU of max or host, which have QEMU's migratable property. */
    private boolean hasMigratable(String type) {
        for (CpuModel m : CpuModel.values()) {
            if (m.typeName().equals(type)) {
                return m.hasMigratable();
            }
        }
        return false;
    }

    /** qom-get's and qom-set's object: its QOM type at {@code path}, and the property asked for. */
    private record Target(String type, String property) {
    }

    private Target target(JsonObject a) throws QmpError {
        String path = normalize(((JsonValue.JsonString) a.members().get("path")).value());
        String type = typeAt(path);
        if (type == null) {
            throw notFound(path);
        }
        return new Target(type, ((JsonValue.JsonString) a.members().get("property")).value());
    }

    private JsonValue get(JsonObject a) throws QmpError {
        Target t = target(a);
        String type = t.type();
        String property = t.property();
        if (property.equals("type")) {
            return new JsonValue.JsonString(type);
        }
        if (hasMigratable(type) && property.equals("migratable")) {
            return new JsonValue.JsonBool(vm.config().cpu().migratable());
        }
        if (isBalloon(type) && property.equals("guest-stats-polling-interval")) {
            return new JsonValue.JsonInt(vm.balloonStatsInterval().orElse(0));
        }
        if (isBalloon(type) && property.equals("guest-stats")) {
            var stats = vm.balloonStats().orElseThrow(() -> QmpError.generic("guest hasn't updated any stats yet"));
            if (stats.updatedMillis() == 0) {
                throw QmpError.generic("guest hasn't updated any stats yet");  // QEMU's words
            }
            JsonObject.Builder figures = JsonObject.builder();
            stats.stats().forEach(figures::put);
            return JsonObject.builder().put("stats", figures.build()).put("last-update", stats.updatedMillis() / 1000).build();
        }
        throw QmpError.generic("Property '" + type + "." + property + "' not found");
    }

    /**
     * qom-set: the balloon's guest-stats-polling-interval (seconds, 0 stops), what libvirt's
     * {@code <memballoon><stats period='N'/>} and virsh dommemstat --period set.
     */
    private JsonValue set(JsonObject a) throws QmpError {
        Target t = target(a);
        String type = t.type();
        String property = t.property();
        if (!isBalloon(type) || !property.equals("guest-stats-polling-interval")) {
            throw QmpError.generic("Property '" + type + "." + property + "' not found");
        }
        if (!(a.members().get("value") instanceof JsonValue.JsonInt v)) {
            throw QmpError.generic("Invalid parameter type for 'value', expected: integer");
        }
        if (v.value() < 0 || v.value() > 0xFFFF_FFFFL / 1000) {
            throw QmpError.generic("timer value must be " + (v.value() < 0 ? "positive" : "smaller than " + 0xFFFF_FFFFL / 1000));
        }
        vm.setBalloonStatsInterval((int) v.value());
        return JsonObject.EMPTY;
    }

    private static boolean isBalloon(String type) {
        return type.startsWith("virtio-balloon-");
    }

    private static String normalize(String path) {
        return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    }

    private static QmpError notFound(String path) {
        return new QmpError(QmpError.ErrorClass.DeviceNotFound, "Device '" + path + "' not found");
    }

    private static JsonObject prop(String name, String type) {
        return JsonObject.builder().put("name", name).put("type", type).build();
    }
}
