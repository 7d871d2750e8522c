package org.jvisor.qmp;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.jvisor.api.RunState;
import org.jvisor.api.VirtualMachine;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * The human monitor's commands (HMP), answered as QEMU 7.2 prints them (each text checked against
 * qemu-system-x86_64 7.2 on the same guest), lines ending in CRLF. One instance serves a machine's
 * interactive monitors ({@link HmpSession}) and QMP's human-monitor-command, as in QEMU. A command
 * that acts on the machine runs the QMP command that does it ({@link QmpCommands}); its failure is
 * HMP's "Error: " line. HMP reports its errors in the text, not as QMP errors.
 */
final class HumanMonitor {
    /** One command: QEMU's name ("stop|s": the name and its alias), its argument synopsis and help. */
    private record Command(String names, String params, String help, Handler handler) {
        String helpLine() {
            return names + " " + params + " -- " + help + "\r\n";
        }

        boolean answersTo(String word) {
            for (String n : names.split("\\|")) {
                if (n.equals(word)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** A command's work: the rest of its line (trimmed) to its output. */
    @FunctionalInterface
    private interface Handler {
        String run(String name, String args, Context context) throws HmpError;
    }

    /** What a command knows of where it runs: the current vCPU and the session's history. */
    record Context(int cpu, List<String> history) {
    }

    /** A command's refusal in HMP's words: the text, and whether "Try help" follows. */
    static final class HmpError extends Exception {
        private final boolean tryHelp;

        HmpError(String message, boolean tryHelp) {
            super(message);
            this.tryHelp = tryHelp;
        }
    }

    private final QmpCommands commands;
    private final VirtualMachine vm;
    private final String packageName;
    private final Map<String, Command> table = new TreeMap<>();
    private final Map<String, Command> info = new TreeMap<>();
    private final MemoryDump memory;

    HumanMonitor(QmpCommands commands, VirtualMachine vm, String packageName) {
        this.commands = commands;
        this.vm = vm;
        this.packageName = packageName;
        this.memory = new MemoryDump(vm);
        HmpInfo infos = new HmpInfo(commands, vm);
        command("change", "device [-f] filename [format [read-only-mode]]",
            "change a removable medium, optional format, use -f to force the operation", (n, a, c) -> change(a));
        command("cont|c", "", "resume emulation", (n, a, c) -> action(n, a, "cont"));
        command("device_add", "driver[,prop=value][,...]", "add device, like -device on the command line",
            (n, a, c) -> deviceAdd(a));
        command("device_del", "device", "remove device", (n, a, c) -> {
            String id = oneWord(n, a, "string expected");
            return qmp("device_del", JsonObject.builder().put("id", id).build());
        });
        command("eject", "[-f] device", "eject a removable medium (use -f to force it)", (n, a, c) -> eject(a));
        command("help|?", "[cmd]", "show the help", (n, a, c) -> help(a));
        command("info", "[subcommand]", "show various information about the system state", this::info);
        command("quit|q", "", "quit the emulator", (n, a, c) -> action(n, a, "quit"));
        command("stop|s", "", "stop emulation", (n, a, c) -> action(n, a, "stop"));
        command("system_powerdown", "", "send system power down event", (n, a, c) -> action(n, a, "system_powerdown"));
        command("system_reset", "", "reset the system", (n, a, c) -> action(n, a, "system_reset"));
        command("x", "/fmt addr", "virtual memory dump starting at 'addr'", (n, a, c) -> memory.x(a, c.cpu()));
        command("xp", "/fmt addr", "physical memory dump starting at 'addr'", (n, a, c) -> memory.xp(a));

        info("block", "[-n] [-v] [device]",
            "show info of one block device or all block devices (-n: show named nodes; -v: show details)",
            (n, a, c) -> infos.block(a));
        info("chardev", "", "show the character devices", (n, a, c) -> infos.chardev());
        info("cpus", "", "show infos for each CPU", (n, a, c) -> infos.cpus(c.cpu()));
        info("history", "", "show the command line history", (n, a, c) -> history(c.history()));
        info("kvm", "", "show KVM information", (n, a, c) ->
            "kvm support: " + ("kvm".equals(vm.accelerator()) ? "enabled" : "disabled") + "\r\n");
        info("name", "", "show the current VM name", (n, a, c) -> vm.name().map(v -> v + "\r\n").orElse(""));
        info("registers", "[-a|vcpu]", "show the cpu registers (-a: show register info for all cpus; vcpu: specific vCPU to "
            + "query; show the current CPU's registers if no argument is specified)", (n, a, c) -> infos.registers(a, c.cpu()));
        info("status", "", "show the current VM status (running|paused)", (n, a, c) -> infoStatus());
        info("version", "", "show the version of QEMU", (n, a, c) ->
            QmpCommands.MAJOR + "." + QmpCommands.MINOR + "." + QmpCommands.MICRO + packageName + "\r\n");
    }

    private void command(String names, String params, String help, Handler handler) {
        Command c = new Command(names, params, help, handler);
        table.put(names.split("\\|")[0], c);
    }

    private void info(String name, String params, String help, Handler handler) {
        info.put(name, new Command("info " + name, params, help, handler));
    }

    /** human-monitor-command: {"command-line": LINE[, "cpu-index": N]}. */
    JsonValue execute(JsonObject arguments) throws QmpError {
        JsonValue cpu = arguments.members().get("cpu-index");
        int index = 0;
        if (cpu instanceof JsonValue.JsonInt i) {
            if (i.value() < 0 || i.value() >= vm.vcpus().size()) {
                throw QmpError.generic("Parameter 'cpu-index' expects a CPU number");
            }
            index = (int) i.value();
        }
        String line = ((JsonValue.JsonString) arguments.members().get("command-line")).value().strip();
        return new JsonValue.JsonString(run(line, new Context(index, List.of())));
    }

    /** Runs one line typed at an interactive monitor (vCPU 0 current) and returns what it prints. */
    String run(String line, List<String> history) {
        return run(line, new Context(0, history));
    }

    private String run(String line, Context context) {
        if (line.isEmpty()) {
            return "";
        }
        int end = 0;
        while (end < line.length() && !Character.isWhitespace(line.charAt(end)) && line.charAt(end) != '/') {
            end++;      // as QEMU: "xp/2x 0" is xp with its format
        }
        String word = line.substring(0, end);
        String args = line.substring(end).strip();
        Command c = find(table, word);
        if (c == null) {
            return "unknown command: '" + word + "'\r\n";
        }
        try {
            return c.handler().run(word, args, context);
        } catch (HmpError e) {
            return e.getMessage() + "\r\n" + (e.tryHelp ? "Try \"help " + word + "\" for more information\r\n" : "");
        }
    }

    /** The command a typed word names (its name or alias), or null. */
    private static Command find(Map<String, Command> in, String word) {
        for (Command c : in.values()) {
            if (c.answersTo(word)) {
                return c;
            }
        }
        return null;
    }

    /** Where the word starting at {@code from} ends (QEMU reads a command name up to white space). */
    static int wordEnd(String s, int from) {
        int i = from;
        while (i < s.length() && !Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }

    /** "info SUBCOMMAND ...": QEMU's list without one; its errors name "info X" as the command. */
    private String info(String name, String args, Context context) throws HmpError {
        if (args.isEmpty()) {
            StringBuilder out = new StringBuilder();
            info.values().forEach(c -> out.append(c.helpLine()));
            return out.toString();
        }
        int end = wordEnd(args, 0);
        String sub = args.substring(0, end);
        String rest = args.substring(end).strip();
        Command c = info.get(sub);
        if (c == null) {
            return "unknown command: 'info " + sub + "'\r\n";
        }
        if (c.params().isEmpty() && !rest.isEmpty()) {
            return sub + ": extraneous characters at the end of line\r\nTry \"help info " + sub + "\" for more information\r\n";
        }
        try {
            return c.handler().run(sub, rest, context);
        } catch (HmpError e) {
            return e.getMessage() + "\r\n" + (e.tryHelp ? "Try \"help info " + sub + "\" for more information\r\n" : "");
        }
    }

    /** help [cmd | info sub]: every command's line, or the one asked for. */
    private String help(String args) {
        if (args.isEmpty()) {
            StringBuilder out = new StringBuilder();
            table.values().forEach(c -> out.append(c.helpLine()));
            return out.toString();
        }
        String[] words = args.split("\\s+");
        if (words[0].equals("info") && words.length > 1) {
            Command c = info.get(words[1]);
            return c == null ? "unknown command: 'info " + words[1] + "'\r\n" : c.helpLine();
        }
        Command c = find(table, words[0]);
        return c == null ? "unknown command: '" + words[0] + "'\r\n" : c.helpLine();
    }

    /** info history: QEMU's "N: 'line'" for each line typed, oldest first. */
    private static String history(List<String> lines) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < lines.size(); i++) {
            out.append(i).append(": '").append(lines.get(i)).append("'\r\n");
        }
        return out.toString();
    }

    /** A command without arguments that runs the QMP command {@code qmp}. */
    private String action(String typed, String args, String qmp) throws HmpError {
        if (!args.isEmpty()) {
            throw extraneous(typed);
        }
        return qmp(qmp, JsonObject.EMPTY);
    }

    /** QEMU names the command as its table does ("stop|s") in this one error. */
    private HmpError extraneous(String typed) {
        Command c = find(table, typed);
        return new HmpError((c != null ? c.names() : typed) + ": extraneous characters at the end of line", true);
    }

    /** The one word a command takes; none is {@code missing} (QEMU's "NAME: WHAT expected"). */
    private String oneWord(String typed, String args, String missing) throws HmpError {
        if (args.isEmpty()) {
            throw new HmpError(typed + ": " + missing, true);
        }
        if (wordEnd(args, 0) != args.length()) {
            throw extraneous(typed);
        }
        return args;
    }

    /** HMP "eject [-f] DEVICE": QMP eject of a -drive (with force for -f). */
    private String eject(String args) throws HmpError {
        List<String> words = words(args);
        boolean force = !words.isEmpty() && words.getFirst().equals("-f");
        if (force) {
            words.removeFirst();
        }
        if (words.isEmpty()) {
            throw new HmpError("eject: block device name expected", true);
        }
        if (words.size() > 1) {
            throw extraneous("eject");
        }
        return qmp("eject", JsonObject.builder().put("device", words.getFirst()).put("force", force).build());
    }

    /** HMP "change DEVICE [-f] FILE [FORMAT]": QMP blockdev-change-medium. */
    private String change(String args) throws HmpError {
        List<String> words = words(args);
        if (words.isEmpty()) {
            throw new HmpError("change: block device name expected", true);
        }
        String device = words.removeFirst();
        boolean force = !words.isEmpty() && words.getFirst().equals("-f");
        if (force) {
            words.removeFirst();
        }
        if (words.isEmpty()) {
            throw new HmpError("change: filename expected", true);
        }
        if (words.size() > 2) {
            throw extraneous("change");
        }
        JsonObject.Builder a = JsonObject.builder().put("device", device).put("filename", words.getFirst());
        if (words.size() == 2) {
            a.put("format", words.get(1));
        }
        if (force) {
            a.put("force", true);
        }
        return qmp("blockdev-change-medium", a.build());
    }

    /**
     * HMP "device_add DRIVER[,PROP=VALUE]...": QMP device_add with each property a string (as
     * -device gives them). QEMU's words for a missing driver.
     */
    private String deviceAdd(String args) throws HmpError {
        if (args.isEmpty()) {
            return "Error: Parameter 'driver' is missing\r\n";
        }
        JsonObject.Builder a = JsonObject.builder();
        String[] parts = args.split(",", -1);
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            int eq = p.indexOf('=');
            if (i == 0 && eq < 0) {
                a.put("driver", p);
            } else if (eq < 0) {
                a.put(p, "on");             // QEMU's option syntax: a bare name is name=on
            } else {
                a.put(p.substring(0, eq), p.substring(eq + 1));
            }
        }
        JsonObject o = a.build();
        if (!o.members().containsKey("driver")) {
            return "Error: Parameter 'driver' is missing\r\n";
        }
        return qmp("device_add", o);
    }

    private static List<String> words(String args) {
        List<String> list = new ArrayList<>();
        for (String w : args.split("\\s+")) {
            if (!w.isEmpty()) {
                list.add(w);
            }
        }
        return list;
    }

    /** Runs QMP {@code name}: "" on success, HMP's "Error: ..." line on failure. */
    private String qmp(String name, JsonObject arguments) {
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
