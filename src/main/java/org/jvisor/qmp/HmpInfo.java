package org.jvisor.qmp;

import java.util.List;
import java.util.Map;

import org.jvisor.api.VirtualMachine;
import org.jvisor.cpu.X86State;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * The human monitor's "info" texts that come from a QMP query (query-block, query-chardev,
 * query-cpus-fast) or from the vCPUs (registers), in QEMU 7.2's layout (checked against its
 * output on the same guest).
 */
final class HmpInfo {
    private final QmpCommands commands;
    private final VirtualMachine vm;

    HmpInfo(QmpCommands commands, VirtualMachine vm) {
        this.commands = commands;
        this.vm = vm;
    }

    /**
     * info block [DEVICE]: per disk "NAME (NODE): FILE (FORMAT)" or "NAME: [not inserted]", then
     * where it is attached, whether it is removable and its cache mode; a blank line between disks.
     */
    String block(String args) throws HumanMonitor.HmpError {
        if (args.startsWith("-")) {
            throw new HumanMonitor.HmpError("jvisor: info block's -n and -v are not supported", false);
        }
        if (HumanMonitor.wordEnd(args, 0) != args.length()) {
            throw new HumanMonitor.HmpError("block: extraneous characters at the end of line", true);
        }
        StringBuilder out = new StringBuilder();
        for (JsonValue v : array(query("query-block"))) {
            Map<String, JsonValue> b = ((JsonObject) v).members();
            String qdev = string(b.get("qdev"));
            String device = string(b.get("device"));
            String name = device.isEmpty() ? qdev : device;
            if (!args.isEmpty() && !args.equals(name)) {
                continue;
            }
            if (!out.isEmpty()) {
                out.append("\r\n");
            }
            out.append(name);
            Map<String, JsonValue> inserted = b.get("inserted") instanceof JsonObject o ? o.members() : null;
            if (inserted != null) {
                if (!device.isEmpty()) {
                    out.append(" (").append(string(inserted.get("node-name"))).append(")");
                }
                out.append(": ").append(string(inserted.get("file"))).append(" (").append(string(inserted.get("drv")))
                    .append(bool(inserted.get("ro")) ? ", read-only" : "").append(")\r\n");
            } else {
                out.append(": [not inserted]\r\n");
            }
            if (!device.isEmpty() && !qdev.isEmpty()) {
                out.append("    Attached to:      ").append(qdev).append("\r\n");
            }
            if (bool(b.get("removable"))) {
                out.append("    Removable device: ").append(bool(b.get("locked")) ? "" : "not ").append("locked, tray ")
                    .append(bool(b.get("tray_open")) ? "open" : "closed").append("\r\n");
            }
            if (inserted != null && inserted.get("cache") instanceof JsonObject cache) {
                Map<String, JsonValue> c = cache.members();
                out.append("    Cache mode:       ").append(bool(c.get("writeback")) ? "writeback" : "writethrough")
                    .append(bool(c.get("direct")) ? ", direct" : "").append(bool(c.get("no-flush")) ? ", ignore flushes" : "")
                    .append("\r\n");
            }
        }
        if (!args.isEmpty() && out.isEmpty()) {
            return "Device '" + args + "' not found\r\n";
        }
        return out.toString();
    }

    /** info chardev: "LABEL: filename=FILENAME" for each. */
    String chardev() throws HumanMonitor.HmpError {
        StringBuilder out = new StringBuilder();
        for (JsonValue v : array(query("query-chardev"))) {
            Map<String, JsonValue> c = ((JsonObject) v).members();
            out.append(string(c.get("label"))).append(": filename=").append(string(c.get("filename"))).append("\r\n");
        }
        return out.toString();
    }

    /** info cpus: "* CPU #0: thread_id=N" ('*' marks the monitor's current vCPU). */
    String cpus(int current) throws HumanMonitor.HmpError {
        StringBuilder out = new StringBuilder();
        for (JsonValue v : array(query("query-cpus-fast"))) {
            Map<String, JsonValue> c = ((JsonObject) v).members();
            long index = ((JsonValue.JsonInt) c.get("cpu-index")).value();
            out.append(index == current ? '*' : ' ').append(" CPU #").append(index).append(": thread_id=")
                .append(((JsonValue.JsonInt) c.get("thread-id")).value()).append("\r\n");
        }
        return out.toString();
    }

    /**
     * info registers [-a|N]: the current vCPU's registers, every vCPU's (-a) or vCPU N's; a number
     * beyond the last is QEMU's "CPU#N not available".
     */
    String registers(String args, int current) throws HumanMonitor.HmpError {
        List<X86State> states;
        try {
            states = vm.vcpuRegisters();
        } catch (IllegalStateException e) {
            return "Error: " + e.getMessage() + "\r\n";
        }
        if (args.equals("-a")) {
            StringBuilder out = new StringBuilder();
            for (int i = 0; i < states.size(); i++) {
                out.append(RegisterDump.format(i, states.get(i)));
            }
            return out.toString();
        }
        int cpu = current;
        if (!args.isEmpty()) {
            long n = new Expression(args).evaluateAll();
            if (n < 0 || n >= states.size()) {
                return "CPU#" + n + " not available\r\n";
            }
            cpu = (int) n;
        }
        if (cpu >= states.size()) {
            return "CPU#" + cpu + " not available\r\n";
        }
        return RegisterDump.format(cpu, states.get(cpu));
    }

    private JsonValue query(String name) throws HumanMonitor.HmpError {
        try {
            return commands.execute(name);
        } catch (QmpError e) {
            throw new HumanMonitor.HmpError("Error: " + e.getMessage(), false);
        }
    }

    private static List<JsonValue> array(JsonValue v) {
        return v instanceof JsonValue.JsonArray a ? a.elements() : List.of();
    }

    private static String string(JsonValue v) {
        return v instanceof JsonValue.JsonString s ? s.value() : "";
    }

    private static boolean bool(JsonValue v) {
        return v instanceof JsonValue.JsonBool b && b.value();
    }
}
