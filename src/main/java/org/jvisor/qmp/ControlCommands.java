package org.jvisor.qmp;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.jvisor.api.ResourceUsage;
import org.jvisor.api.VmExit;
import org.jvisor.qmp.QmpCommandTable.Param;
import org.jvisor.qmp.QmpCommandTable.Type;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * The control socket's commands: QMP's framing and negotiation, with jvisor's own commands for
 * the machines of a server (vm-create, vm-list, vm-destroy) instead of one machine's. Each
 * machine then has its own QMP monitors, given in its arguments.
 */
final class ControlCommands implements QmpService {
    private final VmHost host;
    private final JsonObject version;
    private final QmpCommandTable table = new QmpCommandTable();

    ControlCommands(VmHost host, String packageName) {
        this.host = host;
        this.version = JsonObject.builder()
            .put("qemu", JsonObject.builder().put("micro", QmpCommands.MICRO).put("minor", QmpCommands.MINOR)
                .put("major", QmpCommands.MAJOR).build())
            .put("package", packageName).build();
        table.add("qmp_capabilities", List.of(new Param("enable", Type.ARRAY, false)), a -> JsonObject.EMPTY);
        table.add("query-version", List.of(), a -> version);
        table.add("query-commands", List.of(), a -> table.names());
        table.add("vm-create", List.of(new Param("name", Type.STRING, true), new Param("args", Type.ARRAY, true)),
            this::create);
        table.add("vm-list", List.of(), a -> list());
        table.add("vm-destroy", List.of(new Param("name", Type.STRING, true)), this::destroy);
        table.add("quit", List.of(), a -> {
            host.quit();
            return JsonObject.EMPTY;
        });
    }

    @Override
    public JsonObject version() {
        return version;
    }

    @Override
    public QmpCommandTable commands() {
        return table;
    }

    /** VM_ENDED {"name", "status", "reason", "guest"}: a machine is gone, its name free again. */
    @Override
    public AutoCloseable subscribe(Consumer<JsonObject> sink) {
        return host.addListener(e -> sink.accept(JsonObject.builder()
            .put("timestamp", QmpEvents.timestamp(Instant.now()))
            .put("event", "VM_ENDED")
            .put("data", exit(JsonObject.builder().put("name", e.name()), e.exit()))
            .build()));
    }

    private JsonValue create(JsonObject a) throws QmpError {
        String name = ((JsonValue.JsonString) a.members().get("name")).value();
        List<JsonValue> elements = ((JsonArray) a.members().get("args")).elements();
        List<String> args = new ArrayList<>(elements.size());
        for (int i = 0; i < elements.size(); i++) {
            if (!(elements.get(i) instanceof JsonValue.JsonString s)) {
                throw QmpError.generic("Invalid parameter type for 'args[" + i + "]', expected: string");
            }
            args.add(s.value());
        }
        try {
            return summary(host.create(name, args));
        } catch (VmHost.Refused e) {
            throw QmpError.generic(e.getMessage());
        }
    }

    private JsonValue list() {
        List<JsonValue> list = new ArrayList<>();
        for (VmHost.VmSummary s : host.list()) {
            list.add(summary(s));
        }
        return new JsonArray(list);
    }

    private JsonValue destroy(JsonObject a) throws QmpError {
        try {
            return exit(JsonObject.builder(), host.destroy(((JsonValue.JsonString) a.members().get("name")).value()));
        } catch (VmHost.Refused e) {
            throw new QmpError(QmpError.ErrorClass.DeviceNotFound, e.getMessage());
        }
    }

    private static JsonObject exit(JsonObject.Builder b, VmExit exit) {
        return b.put("status", exit.status()).put("reason", exit.cause().qemuName())
            .put("guest", exit.cause().guest()).build();
    }

    /** One machine: its state and what it costs the host (CPU time in ns, guest RAM in bytes). */
    private static JsonObject summary(VmHost.VmSummary s) {
        ResourceUsage u = s.usage();
        List<JsonValue> monitors = new ArrayList<>();
        s.monitors().forEach(m -> monitors.add(new JsonValue.JsonString(m)));
        return JsonObject.builder()
            .put("name", s.name())
            .put("status", s.status().qemuName())
            .put("accelerator", s.accelerator())
            .put("cpu-time-ns", u.cpuTime().toNanos())
            .put("vcpu-time-ns", u.vcpuTime().toNanos())
            .put("ram-bytes", u.guestRamBytes())
            .put("ram-resident-bytes", u.guestRamResidentBytes())
            .put("monitors", new JsonArray(monitors))
            .build();
    }
}
