package org.jvisor.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.jvisor.config.JitOptions;
import org.jvisor.config.MachineConfig;
import org.jvisor.sandbox.RunWith;
import org.jvisor.sandbox.SandboxPolicy;
import org.jvisor.qmp.MonitorConfig;

/**
 * QEMU-style command line to {@link MachineConfig}. Options take QEMU's spelling so users' habits
 * (and scripts, and benchmarks that swap the binary) carry over.
 */
public final class CommandLine {
    static final long DEFAULT_MEMORY = 128L << 20;
    private static final Set<String> TRACE_EVENTS = Set.of("exits");
    private static final Set<String> DEBUG_ITEMS = Set.of("guest_errors", "unimp", "boot", "jit", "firmware");

    /** What main should do. */
    public sealed interface Action {
        /**
         * Build the machine and run it; {@code startPaused} is -S (status prelaunch until "cont"),
         * {@code monitors} the QMP monitors (-qmp, -mon), {@code pidfile} -pidfile (or null),
         * {@code daemonize} -daemonize, {@code sandbox} the -sandbox policy (null: off),
         * {@code runWith} the user and root to take once the machine is built (-run-with, -runas,
         * -chroot), {@code incoming} the URI of -incoming to restore from (or null), and
         * {@code incomingDefer} -incoming defer (wait for QMP's migrate-incoming).
         */
        record Run(MachineConfig config, boolean startPaused, List<MonitorConfig> monitors, Path pidfile,
                   boolean daemonize, SandboxPolicy sandbox, RunWith runWith, String incoming, boolean incomingDefer)
                implements Action {
        }

        record Help() implements Action {
        }

        record Version() implements Action {
        }
    }

    private CommandLine() {
    }

    public static Action parse(String[] args) throws UsageException {
        try {
            return parseArgs(args);
        } catch (java.nio.file.InvalidPathException e) {
            // a file name with a NUL byte (a control-socket client can send one): the option's error
            throw new UsageException("'" + e.getInput().replace("\0", "\\0") + "' is not a file name: " + e.getReason(), e);
        }
    }

    private static Action parseArgs(String[] args) throws UsageException {
        MachineConfig.Accel accel = MachineConfig.Accel.AUTO;
        boolean accelGiven = false;
        JitOptions jit = JitOptions.fromSystemProperties();
        long memory = -1;   // -1 until -m: RAM then takes a memory backend's size, or the default
        MemoryBackendOptions memoryBackends = new MemoryBackendOptions();
        int cpus = 1;
        Path kernel = null;
        Path bios = null;
        String bootText = null;
        Path initrd = null;
        String append = null;
        MachineSpec machine = new MachineSpec(MachineConfig.MachineType.PC, true);
        MachineConfig.SerialConfig serial = null;
        boolean noReboot = false;
        boolean snapshot = false;
        boolean noShutdown = false;
        boolean startPaused = false;
        SandboxPolicy sandbox = null;
        RunWith runWith = new RunWith(null, null);
        String incoming = null;
        boolean incomingDefer = false;
        List<MachineConfig.DebugExitConfig> debugExits = new ArrayList<>();
        List<MachineConfig.VirtioDeviceConfig> virtioDevices = new ArrayList<>();
        List<MachineConfig.DriveConfig> drives = new ArrayList<>();
        List<MachineConfig.NetdevConfig> netdevs = new ArrayList<>();
        Set<String> traces = new LinkedHashSet<>();
        Set<String> debug = new LinkedHashSet<>();
        ChardevOptions chardevs = new ChardevOptions();
        String name = null;
        Path pidfile = null;
        boolean daemonize = false;
        boolean nographic = false;

        for (int i = 0; i < args.length; i++) {
            String raw = args[i];
            if (raw.equals("--help") || raw.equals("-help") || raw.equals("-h")) {
                return new Action.Help();
            }
            if (raw.equals("--version") || raw.equals("-version")) {
                return new Action.Version();
            }
            if (!raw.startsWith("-") || raw.equals("-")) {
                throw new UsageException("unexpected argument '" + raw + "' (options start with '-'; see --help)");
            }
            // QEMU accepts --option as -option.
            String opt = raw.startsWith("--") ? raw.substring(1) : raw;
            switch (opt) {
                case "-enable-kvm" -> {
                    accel = MachineConfig.Accel.KVM;
                    accelGiven = true;
                }
                case "-nographic", "-display" -> {
                    if (opt.equals("-display")) {
                        String v = value(args, ++i, opt, "a display type (only 'none' is supported)");
                        if (!v.equals("none")) {
                            throw new UsageException("-display: '" + v + "' is not supported; jvisor has no graphics (use -display none)");
                        }
                    } else {
                        nographic = true;
                        if (serial == null) {
                            serial = new MachineConfig.SerialConfig.Stdio();
                        }
                    }
                }
                case "-snapshot" -> snapshot = true;
                case "-no-reboot" -> noReboot = true;
                case "-no-shutdown" -> noShutdown = true;
                case "-S" -> startPaused = true;
                case "-run-with" -> {
                    try {
                        RunWith r = RunWith.parse(value(args, ++i, opt, "user=USER[,chroot=DIR]"));
                        runWith = new RunWith(r.user() != null ? r.user() : runWith.user(),
                            r.chroot() != null ? r.chroot() : runWith.chroot());
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(e.getMessage());
                    }
                }
                case "-runas" -> runWith = runWith.withUser(value(args, ++i, opt, "a user name or uid:gid"));
                case "-chroot" -> runWith = runWith.withChroot(value(args, ++i, opt, "a directory"));
                case "-sandbox" -> {
                    try {
                        sandbox = SandboxPolicy.parse(value(args, ++i, opt, "on or off, with QEMU's properties"));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(e.getMessage());
                    }
                }
                case "-incoming" -> {
                    String v = value(args, ++i, opt, "file:PATH (a jvisor snapshot) or defer");
                    incomingDefer = v.equals("defer");
                    incoming = incomingDefer ? null : parseIncoming(v);
                }
                case "-qmp", "-qmp-pretty" -> chardevs.qmp(opt, value(args, ++i, opt, "unix:PATH,server=on,wait=off or tcp:HOST:PORT,server=on,wait=off"),
                    opt.equals("-qmp-pretty"));
                case "-mon" -> chardevs.mon(value(args, ++i, opt, "chardev=ID,mode=control"));
                case "-monitor" -> throw new UsageException("-monitor: the human monitor (HMP) is not supported; use QMP "
                    + "(-qmp unix:PATH,server=on,wait=off) and human-monitor-command for its 'info status'");
                case "-name" -> name = parseName(value(args, ++i, opt, "a guest name"));
                case "-pidfile" -> pidfile = Path.of(value(args, ++i, opt, "a file to write jvisor's process id to"));
                case "-daemonize" -> daemonize = true;
                case "-accel" -> {
                    OptionList o = OptionList.parse(opt, value(args, ++i, opt, "kvm, tcg or auto"), true);
                    o.allowOnly(Set.of("thread", "jit", "jit-threshold"), "");
                    accel = switch (o.implied() == null ? "" : o.implied()) {
                        case "kvm" -> MachineConfig.Accel.KVM;
                        case "tcg" -> MachineConfig.Accel.TCG;
                        case "auto" -> MachineConfig.Accel.AUTO;
                        default -> throw new UsageException("-accel: '" + o.implied() + "' is not an accelerator (expected kvm, tcg or auto)");
                    };
                    if (accelGiven) {
                        throw new UsageException("-accel: more than one accelerator given");
                    }
                    accelGiven = true;
                    jit = parseJit(o, accel, jit);
                }
                case "-m" -> memory = parseMemory(value(args, ++i, opt, "a size such as 512M or 2G"));
                case "-smp" -> cpus = parseSmp(value(args, ++i, opt, "a vCPU count"));
                case "-kernel" -> kernel = Path.of(value(args, ++i, opt, "a kernel file"));
                case "-bios" -> bios = Path.of(value(args, ++i, opt, "a BIOS image file"));
                case "-boot" -> bootText = value(args, ++i, opt, "order=DRIVES,menu=on|off");
                case "-initrd" -> initrd = Path.of(value(args, ++i, opt, "an initial ramdisk file"));
                case "-append" -> append = value(args, ++i, opt, "a kernel command line");
                case "-M", "-machine" -> machine = parseMachine(value(args, ++i, opt, "a machine type (pc or microvm)"),
                    machine, memoryBackends);
                case "-object" -> memoryBackends.object(value(args, ++i, opt, "memory-backend-memfd,id=ID,size=SIZE"));
                case "-numa" -> memoryBackends.numa(value(args, ++i, opt, "node,memdev=ID"));
                case "-serial" -> serial = parseSerial(value(args, ++i, opt, "stdio, file:PATH, chardev:ID or none"));
                case "-chardev" -> chardevs.chardev(value(args, ++i, opt, "a character device description"));
                case "-device" -> {
                    OptionList o = OptionList.parse(opt, value(args, ++i, opt, "a device description"), true);
                    if (o.implied() == null || o.implied().isEmpty()) {
                        throw new UsageException("-device: the device's name comes first (e.g. virtio-blk-pci,drive=ID)");
                    }
                    MachineConfig.Transport transport = MachineConfig.Transport.ofDeviceName(o.implied());
                    String base = transport == null ? "" : o.implied().substring(0, o.implied().lastIndexOf('-'));
                    if (VhostUserOptions.handlesDevice(o.implied())) {
                        virtioDevices.add(VhostUserOptions.parse(o, chardevs));
                    } else if (base.equals("virtio-rng")) {
                        o.allowOnly(Set.of("ioeventfd"), o.implied());
                        virtioDevices.add(new MachineConfig.VirtioDeviceConfig.VirtioRng(transport,
                            parseOnOff(o.implied(), "ioeventfd", o.get("ioeventfd"))));
                    } else if (base.equals("virtio-blk")) {
                        o.allowOnly(Set.of("drive"), o.implied());
                        if (o.get("drive") == null) {
                            throw new UsageException("-device " + o.implied() + ": drive=ID is required");
                        }
                        virtioDevices.add(new MachineConfig.VirtioDeviceConfig.VirtioBlk(o.get("drive"), transport));
                    } else if (base.equals("virtio-net")) {
                        virtioDevices.add(NetOptions.parseNic(o, transport));
                    } else if (ChardevOptions.handlesDevice(base, o.implied())) {
                        chardevs.device(o, transport, virtioDevices);
                    } else {
                        debugExits.add(parseDevice(o));
                    }
                }
                case "-drive" -> {
                    MachineConfig.DriveConfig d = parseDrive(value(args, ++i, opt, "a drive description"), drives.size());
                    drives.add(d);
                    if (d.ifVirtio()) {
                        // its transport is the machine's, known once -machine is read (null until then);
                        // the disk keeps its command-line position among the virtio devices (vda, vdb...)
                        virtioDevices.add(new MachineConfig.VirtioDeviceConfig.VirtioBlk(d.id(), null));
                    }
                }
                case "-netdev" -> netdevs.add(NetOptions.parseNetdev(value(args, ++i, opt, "a network backend such as tap,id=ID"), netdevs));
                case "-trace" -> {
                    String v = value(args, ++i, opt, "a trace event");
                    String ev = v.startsWith("events=") ? v.substring(7) : v.startsWith("enable=") ? v.substring(7) : v;
                    if (!TRACE_EVENTS.contains(ev)) {
                        throw new UsageException("-trace: unknown trace event '" + ev + "' (known: " + String.join(", ", TRACE_EVENTS) + ")");
                    }
                    traces.add(ev);
                }
                case "-d" -> {
                    for (String item : value(args, ++i, opt, "log items").split(",")) {
                        if (!DEBUG_ITEMS.contains(item)) {
                            throw new UsageException("-d: unknown log item '" + item + "' (known: guest_errors, unimp, boot, jit, firmware)");
                        }
                        debug.add(item);
                    }
                }
                default -> throw new UsageException("unknown option '" + raw + "' (see --help)");
            }
        }
        MachineConfig.Firmware firmware = parseBoot(bios, bootText);
        if (kernel == null && (initrd != null || append != null)) {
            throw new UsageException((initrd != null ? "-initrd" : "-append") + " needs -kernel");
        }
        if (kernel == null && machine.type() == MachineConfig.MachineType.MICROVM) {
            throw new UsageException("-machine microvm boots a kernel directly: give -kernel (it has no firmware here)");
        }
        MachineConfig.MemoryBackendConfig memoryBackend = memoryBackends.resolve(memory);
        if (memory < 0) {
            memory = memoryBackend != null ? memoryBackend.size() : DEFAULT_MEMORY;
        }
        chardevs.serialUses(serial);
        serial = chardevs.finish(serial, virtioDevices);
        if (daemonize) {
            // QEMU (vl.c): a daemon has no terminal; its console must go elsewhere
            if (nographic && serial instanceof MachineConfig.SerialConfig.Stdio) {
                throw new UsageException("-nographic cannot be used with -daemonize");
            }
            if (serial instanceof MachineConfig.SerialConfig.Stdio
                    || chardevs.chardevs().stream().anyMatch(c -> c instanceof MachineConfig.ChardevConfig.Stdio)) {
                throw new UsageException("-daemonize: stdio cannot be a guest console (give -serial file:PATH, -serial none "
                    + "or a socket chardev)");
            }
            if (serial == null) {
                serial = new MachineConfig.SerialConfig.None();
            }
        }
        if (serial == null) {
            serial = new MachineConfig.SerialConfig.Stdio();
        }
        if (snapshot) {
            // QEMU's -snapshot: every drive as snapshot=on
            drives.replaceAll(d -> d.withSnapshot(true));
        }
        // if=virtio puts the disk on the machine's own transport.
        MachineConfig.Transport onBoard = machine.type() == MachineConfig.MachineType.MICROVM
            ? MachineConfig.Transport.MMIO : MachineConfig.Transport.PCI;
        virtioDevices.replaceAll(d -> d instanceof MachineConfig.VirtioDeviceConfig.VirtioBlk b && b.transport() == null
            ? new MachineConfig.VirtioDeviceConfig.VirtioBlk(b.driveId(), onBoard) : d);
        for (MachineConfig.VirtioDeviceConfig d : virtioDevices) {
            if (d.transport() != onBoard) {
                throw new UsageException("-device " + d.qemuName() + ": the " + machine.type().qemuName()
                    + " machine has no " + (d.transport() == MachineConfig.Transport.PCI ? "PCI bus" : "virtio-mmio transports")
                    + " (use " + onBoard.deviceName(d.model()) + ")");
            }
        }
        NetOptions.checkPeers(netdevs, virtioDevices);
        if (incomingDefer && chardevs.monitors().isEmpty()) {
            throw new UsageException("-incoming defer: the machine waits for QMP's migrate-incoming, so it needs a monitor "
                + "(-qmp unix:PATH,server=on,wait=off)");
        }
        return new Action.Run(new MachineConfig(accel, memory, cpus, kernel, initrd, append, machine.decompressOnHost(), serial,
            noReboot, noShutdown, List.copyOf(debugExits), List.copyOf(drives), List.copyOf(virtioDevices), Set.copyOf(traces),
            Set.copyOf(debug), machine.type(), chardevs.chardevs(), List.copyOf(netdevs), jit, name, memoryBackend, firmware), startPaused, chardevs.monitors(), pidfile, daemonize,
            sandbox, runWith, incoming, incomingDefer);
    }

    /**
     * -bios and QEMU's -boot [order=]DRIVES[,once=DRIVES][,menu=on|off][,splash-time=MS]
     * [,reboot-timeout=MS][,strict=on|off]: drive letters a-p, c the first disk, d the CD-ROM,
     * n the network.
     */
    static MachineConfig.Firmware parseBoot(Path bios, String text) throws UsageException {
        MachineConfig.Firmware d = MachineConfig.Firmware.DEFAULT;
        if (text == null) {
            return new MachineConfig.Firmware(bios, null, false, d.splashTime(), d.rebootTimeout());
        }
        OptionList o = OptionList.parse("-boot", text, true);
        o.allowOnly(Set.of("order", "once", "menu", "splash-time", "reboot-timeout", "strict", "splash"), "");
        String order = o.get("order") != null ? o.get("order") : o.get("once") != null ? o.get("once") : o.implied();
        if (order != null && !order.matches("[a-p]+")) {
            throw new UsageException("-boot: order='" + order + "' is not a list of drive letters (c disk, d CD-ROM, n network)");
        }
        boolean menu = onOff("-boot", "menu", o.get("menu") == null ? "off" : o.get("menu"));
        return new MachineConfig.Firmware(bios, order, menu, bootMillis(o, "splash-time", d.splashTime(), 0),
            bootMillis(o, "reboot-timeout", d.rebootTimeout(), -1));
    }

    private static int bootMillis(OptionList o, String key, int dflt, int min) throws UsageException {
        String v = o.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            int ms = Integer.parseInt(v);
            if (ms < min || ms > 0xFFFF) {
                throw new NumberFormatException();
            }
            return ms;
        } catch (NumberFormatException e) {
            throw new UsageException("-boot: " + key + "='" + v + "' is not a time in ms (" + min + "-65535)");
        }
    }

    /** QEMU's -name NAME or -name guest=NAME[,debug-threads=on|off][,process=P]. */
    private static String parseName(String text) throws UsageException {
        OptionList o = OptionList.parse("-name", text, true);
        o.allowOnly(Set.of("guest", "debug-threads", "process"), "");
        String name = o.implied() != null ? o.implied() : o.get("guest");
        if (name == null || name.isEmpty()) {
            throw new UsageException("-name: no name given (expected -name NAME or -name guest=NAME)");
        }
        if (o.get("debug-threads") != null) {
            onOff("-name", "debug-threads", o.get("debug-threads"));   // jvisor's threads always have names
        }
        return name;
    }

    /**
     * -incoming URI: file:PATH (a snapshot file), unix:PATH or tcp:HOST:PORT (listen there for the
     * source), exec:CMD (the command's output); defer is handled by the caller.
     */
    private static String parseIncoming(String v) throws UsageException {
        try {
            return org.jvisor.api.VirtualMachine.checkMigrationUri(v);
        } catch (IllegalArgumentException e) {
            throw new UsageException("-incoming " + v + ": " + e.getMessage(), e);
        }
    }

    private static String value(String[] args, int i, String opt, String expected) throws UsageException {
        if (i >= args.length) {
            throw new UsageException(opt + " needs an argument: " + expected);
        }
        return args[i];
    }

    /** QEMU's -m: a number of MiB, or a number with a K/M/G/T suffix; "size=" prefix allowed. */
    /** tcg's translator settings: {@code jit=on|off}, {@code jit-threshold=N} (0: translate every block at once). */
    private static JitOptions parseJit(OptionList o, MachineConfig.Accel accel, JitOptions jit) throws UsageException {
        String on = o.get("jit");
        String threshold = o.get("jit-threshold");
        if ((on != null || threshold != null) && accel == MachineConfig.Accel.KVM) {
            throw new UsageException("-accel kvm: jit and jit-threshold are tcg's (the bytecode translator)");
        }
        if (on != null) {
            jit = jit.withEnabled(onOff("-accel", "jit", on));
        }
        if (threshold != null) {
            try {
                jit = jit.withThreshold(Integer.parseInt(threshold));
            } catch (IllegalArgumentException e) {
                throw new UsageException("-accel: jit-threshold must be a count of block entries (0 or more), not '" + threshold + "'");
            }
        }
        return jit;
    }

    static long parseMemory(String text) throws UsageException {
        String t = text.startsWith("size=") ? text.substring(5) : text;
        String bad = "-m: '" + text + "' is not a memory size (expected a number with an optional K, M, G or T suffix, e.g. 512M)";
        if (t.isEmpty()) {
            throw new UsageException(bad);
        }
        char last = Character.toUpperCase(t.charAt(t.length() - 1));
        long unit = switch (last) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            case 'T' -> 1L << 40;
            default -> 0;
        };
        String digits = unit == 0 ? t : t.substring(0, t.length() - 1);
        if (unit == 0) {
            unit = 1L << 20;
        }
        if (digits.equalsIgnoreCase("i") || digits.isEmpty()) {
            throw new UsageException(bad);
        }
        double n;
        try {
            n = Double.parseDouble(digits);
        } catch (NumberFormatException e) {
            throw new UsageException(bad);
        }
        if (!(n > 0) || n * unit > (1L << 46) || digits.contains("e") || digits.contains("E")) {
            throw new UsageException(bad);
        }
        long bytes = (long) (n * unit);
        return bytes & ~0xFFFL;
    }

    /** What -machine says: the machine type and where a bzImage's payload is decompressed. */
    private record MachineSpec(MachineConfig.MachineType type, boolean decompressOnHost) {
    }

    /**
     * -machine pc|microvm[,kernel-decompress=host|guest]. The property picks where a bzImage's
     * payload is decompressed: on the host (default, jvisor's fast path) or by the kernel's own
     * decompressor in the guest, as QEMU does.
     */
    private static MachineSpec parseMachine(String text, MachineSpec before, MemoryBackendOptions memoryBackends)
            throws UsageException {
        OptionList o = OptionList.parse("-machine", text, true);
        o.allowOnly(Set.of("type", "kernel-decompress", "memory-backend"), "");
        if (o.get("memory-backend") != null) {
            memoryBackends.machineUses(o.get("memory-backend"));
        }
        String typeName = o.implied() != null ? o.implied() : o.get("type");
        if (typeName == null && o.get("kernel-decompress") == null) {
            return before;  // -machine memory-backend=ID alone keeps the type chosen before
        }
        MachineConfig.MachineType type = switch (typeName == null ? before.type().qemuName() : typeName) {
            case "pc", "q35" -> MachineConfig.MachineType.PC;
            case "microvm" -> MachineConfig.MachineType.MICROVM;
            default -> throw new UsageException("-machine: '" + typeName + "' is not a machine type jvisor has (known: pc, microvm)");
        };
        String where = o.get("kernel-decompress");
        if (where == null || where.equals("host")) {
            return new MachineSpec(type, true);
        }
        if (where.equals("guest")) {
            return new MachineSpec(type, false);
        }
        throw new UsageException("-machine: kernel-decompress='" + where + "' (expected host or guest)");
    }


    /** A QEMU boolean property of -device DEVICE (on/off, yes/no, true/false); absent means on. */
    private static boolean parseOnOff(String device, String key, String value) throws UsageException {
        return onOff("-device " + device, key, value);
    }

    /** QEMU's boolean property values; a property given without a value is on. */
    private static boolean onOff(String where, String key, String value) throws UsageException {
        if (value == null) {
            return true;
        }
        return switch (value) {
            case "on", "yes", "true" -> true;
            case "off", "no", "false" -> false;
            default -> throw new UsageException(where + ": " + key + "='" + value + "' (expected on or off)");
        };
    }

    /** QEMU's -drive for raw and qcow2 images on virtio (or if=none, for a -device virtio-blk-pci,drive=ID). */
    private static MachineConfig.DriveConfig parseDrive(String text, int index) throws UsageException {
        OptionList o = OptionList.parse("-drive", text, false);
        o.allowOnly(Set.of("file", "format", "if", "id", "readonly", "cache", "snapshot"), "");
        String file = o.get("file");
        if (file == null || file.isEmpty()) {
            throw new UsageException("-drive: file=PATH is required");
        }
        String format = o.get("format");
        if (format != null && !format.equals("raw") && !format.equals("qcow2")) {
            throw new UsageException("-drive: format=" + format + " is not supported (raw or qcow2)");
        }
        boolean snapshot = onOff("-drive", "snapshot", o.get("snapshot") == null ? "off" : o.get("snapshot"));
        String iface = o.get("if") == null ? "virtio" : o.get("if");
        if (!iface.equals("virtio") && !iface.equals("none")) {
            throw new UsageException("-drive: if=" + iface + " is not supported (virtio or none)");
        }
        String ro = o.get("readonly") == null ? "off" : o.get("readonly");
        if (!ro.equals("on") && !ro.equals("off")) {
            throw new UsageException("-drive: readonly=" + ro + " (expected on or off)");
        }
        String cache = o.get("cache") == null ? "writeback" : o.get("cache");
        if (!cache.equals("none") && !cache.equals("writeback")) {
            throw new UsageException("-drive: cache=" + cache + " is not supported (none or writeback)");
        }
        if (iface.equals("none") && o.get("id") == null) {
            throw new UsageException("-drive: if=none needs id=ID for a -device virtio-blk-pci,drive=ID");
        }
        String id = o.get("id") != null ? o.get("id") : "drive" + index;
        return new MachineConfig.DriveConfig(id, Path.of(file), format, ro.equals("on"), cache, iface.equals("virtio"),
            snapshot);
    }

    private static int parseSmp(String text) throws UsageException {
        OptionList o = OptionList.parse("-smp", text, true);
        o.allowOnly(Set.of("cpus", "maxcpus", "sockets", "cores", "threads"), "");
        String n = o.implied() != null ? o.implied() : o.get("cpus");
        if (n == null) {
            throw new UsageException("-smp: no vCPU count given (expected e.g. -smp 2)");
        }
        try {
            int c = Integer.parseInt(n);
            if (c < 1 || c > 255) {
                throw new UsageException("-smp: " + c + " vCPUs is out of range (1-255)");
            }
            return c;
        } catch (NumberFormatException e) {
            throw new UsageException("-smp: '" + n + "' is not a vCPU count");
        }
    }

    private static MachineConfig.SerialConfig parseSerial(String text) throws UsageException {
        if (text.equals("stdio") || text.equals("mon:stdio")) {
            return new MachineConfig.SerialConfig.Stdio();
        }
        if (text.equals("none") || text.equals("null")) {
            return new MachineConfig.SerialConfig.None();
        }
        if (text.startsWith("chardev:") && text.length() > 8) {
            return new MachineConfig.SerialConfig.Chardev(text.substring(8));
        }
        if (text.startsWith("file:") && text.length() > 5) {
            return new MachineConfig.SerialConfig.File(Path.of(text.substring(5)));
        }
        throw new UsageException("-serial: '" + text + "' is not a character device (expected stdio, file:PATH, chardev:ID or none)");
    }

    private static MachineConfig.DebugExitConfig parseDevice(OptionList o) throws UsageException {
        String driver = o.implied();
        if (driver == null && o.get("driver") != null) {
            driver = o.get("driver");
        }
        if (driver == null) {
            throw new UsageException("-device: no device type given");
        }
        if (!driver.equals("isa-debug-exit")) {
            throw new UsageException("-device: '" + driver + "' is not a device jvisor has (known: isa-debug-exit, virtio-rng-pci, virtio-blk-pci, virtio-net-pci, virtio-serial-pci, virtio-rng-device, virtio-blk-device, virtio-net-device, virtio-serial-device, virtconsole, virtserialport, vhost-user-blk-pci, vhost-user-fs-pci)");
        }
        o.allowOnly(Set.of("iobase", "iosize", "driver"), "isa-debug-exit");
        int iobase = (int) parseNumber(o, "iobase", 0x501, 0xFFFF);
        int iosize = (int) parseNumber(o, "iosize", 0x02, 0x10000);
        if (iosize < 1 || iobase + iosize > 0x10000) {
            throw new UsageException(String.format("-device isa-debug-exit: ports [%#x, +%#x) lie outside the 64 KiB port space", iobase, iosize));
        }
        return new MachineConfig.DebugExitConfig(iobase, iosize);
    }

    private static long parseNumber(OptionList o, String key, long dflt, long max) throws UsageException {
        String v = o.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            long n = v.toLowerCase(Locale.ROOT).startsWith("0x") ? Long.parseLong(v.substring(2), 16) : Long.parseLong(v);
            if (n < 0 || n > max) {
                throw new UsageException("-device " + o.implied() + ": " + key + "=" + v + " is out of range (0-" + max + ")");
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("-device " + o.implied() + ": " + key + "='" + v + "' is not a number");
        }
    }
}
