package org.jvisor.qmp;

import java.util.List;
import java.util.Map;

import org.jvisor.api.RunState;
import org.jvisor.api.VirtualMachine;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * human-monitor-command: the few HMP commands a management tool sends through QMP, answered as
 * QEMU's human monitor prints them (monitor/hmp-cmds.c), lines ending in CRLF. HMP reports its
 * errors in the text, not as QMP errors: an unknown command is "unknown command: 'X'".
 */
final class HumanMonitor {
    /** HMP command → the QMP command it runs (its reply is empty text on success). */
    private static final Map<String, String> ACTIONS = Map.of(
        "stop", "stop", "cont", "cont", "c", "cont", "system_reset", "system_reset",
        "system_powerdown", "system_powerdown", "quit", "quit", "q", "quit");
    private static final List<String> INFO = List.of(
        "info kvm  -- show KVM information",
        "info name  -- show the current VM name",
        "info status  -- show the current VM status (running|paused)",
        "info version  -- show the version of QEMU");

    private final QmpCommands commands;
    private final VirtualMachine vm;
    private final String packageName;

    HumanMonitor(QmpCommands commands, VirtualMachine vm, String packageName) {
        this.commands = commands;
        this.vm = vm;
        this.packageName = packageName;
    }

    JsonValue execute(JsonObject arguments) throws QmpError {
        JsonValue cpu = arguments.members().get("cpu-index");
        if (cpu instanceof JsonValue.JsonInt i && (i.value() < 0 || i.value() >= vm.vcpus().size())) {
            throw QmpError.generic("Parameter 'cpu-index' expects a CPU number");
        }
        String line = ((JsonValue.JsonString) arguments.members().get("command-line")).value().strip();
        return new JsonValue.JsonString(run(line));
    }

    private String run(String line) throws QmpError {
        if (line.isEmpty()) {
            return "";
        }
        String[] words = line.split("\\s+");
        if (words[0].equals("info")) {
            if (words.length == 1) {
                return String.join("\r\n", INFO) + "\r\n";
            }
            if (words.length > 2) {
                return words[1] + ": extraneous characters at the end of line\r\n";
            }
            return switch (words[1]) {
                case "status" -> infoStatus();
                case "version" -> QmpCommands.MAJOR + "." + QmpCommands.MINOR + "." + QmpCommands.MICRO + packageName + "\r\n";
                case "name" -> vm.name().map(n -> n + "\r\n").orElse("");
                case "kvm" -> "kvm support: " + ("kvm".equals(vm.accelerator()) ? "enabled" : "disabled") + "\r\n";
                default -> "unknown command: 'info " + words[1] + "'\r\n";
            };
        }
        if (words[0].equals("eject")) {
            return eject(words);
        }
        if (words[0].equals("change")) {
            return change(words);
        }
        String qmp = ACTIONS.get(words[0]);
        if (qmp == null) {
            return "unknown command: '" + words[0] + "'\r\n";
        }
        if (words.length > 1) {
            return words[0] + ": extraneous characters at the end of line\r\n";
        }
        try {
            commands.execute(qmp);
            return "";
        } catch (QmpError e) {
            return "Error: " + e.getMessage() + "\r\n";
        }
    }

    /** HMP "eject [-f] DEVICE": QMP eject of a -drive (with force for -f). */
    private String eject(String[] words) {
        boolean force = words.length > 1 && words[1].equals("-f");
        int at = force ? 2 : 1;
        if (words.length <= at) {
            return "eject: block device name expected\r\nTry \"help eject\" for more information\r\n";
        }
        if (words.length > at + 1) {
            return "eject: extraneous characters at the end of line\r\n";
        }
        return run("eject", JsonObject.builder().put("device", words[at]).put("force", force).build());
    }

    /** HMP "change DEVICE FILE [FORMAT]": QMP blockdev-change-medium. */
    private String change(String[] words) {
        if (words.length < 2) {
            return "change: block device name expected\r\nTry \"help change\" for more information\r\n";
        }
        if (words.length < 3) {
            return "change: filename expected\r\nTry \"help change\" for more information\r\n";
        }
        if (words.length > 4) {
            return "change: extraneous characters at the end of line\r\n";
        }
        JsonObject.Builder a = JsonObject.builder().put("device", words[1]).put("filename", words[2]);
        if (words.length == 4) {
            a.put("format", words[3]);
        }
        return run("blockdev-change-medium", a.build());
    }

    /** Runs QMP {@code name}: "" on success, HMP's "Error: ..." line on failure. */
    private String run(String name, JsonObject arguments) {
        try {
            commands.execute(name, arguments);
            return "";
        } catch (QmpError e) {
            return "Error: " + e.getMessage() + "\r\n";
        }
    }

    /** hmp_info_status: "running", "paused", or "paused (STATE)" for a stop that is not a pause. */
    private String infoStatus() {
        RunState s = vm.status();
        if (s.isRunning()) {
            return "VM status: running\r\n";
        }
        return "VM status: paused" + (s == RunState.PAUSED ? "" : " (" + s.qemuName() + ")") + "\r\n";
    }
}
