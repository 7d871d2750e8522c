package org.jvisor.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.HashMap;
import java.util.Set;

import org.jvisor.backend.block.DiscardMode;
import org.jvisor.config.JitOptions;
import org.jvisor.gdb.GdbEndpoint;
import org.jvisor.config.MachineConfig;
import org.jvisor.sandbox.RunWith;
import org.jvisor.sandbox.SandboxPolicy;
import org.jvisor.qmp.HumanMonitorConfig;
import org.jvisor.qmp.MonitorConfig;
import org.jvisor.qmp.QomNames;

/**
 * QEMU-style command line to {@link MachineConfig}. Options take QEMU's spelling so users' habits
 * (and scripts, and benchmarks that swap the binary) carry over.
 */
public final class CommandLine {
    static final long DEFAULT_MEMORY = 128L << 20;
    private static final List<String> TRACE_EVENTS = List.of("exits", "migration");
    private static final Set<String> DEBUG_ITEMS = Set.of("guest_errors", "unimp", "boot", "jit", "firmware");

    /** What main should do. */
    public sealed interface Action {
        /**
         * Build the machine and run it; {@code startPaused} is -S (status prelaunch until "cont"),
         * {@code monitors} the QMP monitors (-qmp, -mon), {@code pidfile} -pidfile (or null),
         * {@code daemonize} -daemonize, {@code sandbox} the -sandbox policy (null: off),
         * {@code runWith} the user and root to take once the machine is built (-run-with, -runas,
         * -chroot), {@code incoming} the URI of -incoming to restore from (or null), and
         * {@code incomingDefer} -incoming defer (wait for QMP's migrate-incoming), {@code qomNames}
         * the -device ids and -blockdev disks as QMP names them (qom-list, query-block),
         * {@code msgTimestamps} -msg timestamp=on, {@code processName} -name process= (or null),
         * {@code gdb} where the gdbstub listens (-s, -gdb; null: none).
         */
        record Run(MachineConfig config, boolean startPaused, List<MonitorConfig> monitors, Path pidfile,
                   boolean daemonize, SandboxPolicy sandbox, RunWith runWith, String incoming, boolean incomingDefer,
                   QomNames qomNames, boolean msgTimestamps, String processName, List<HumanMonitorConfig> humanMonitors,
                   GdbEndpoint gdb)
                implements Action {
            /** Whether a human monitor or the guest's console is on the host's stdio (raw terminal mode). */
            public boolean usesStdio() {
                return config.usesStdio() || humanMonitors.stream().anyMatch(HumanMonitorConfig::usesStdio);
            }
        }

        /** Print {@code text} (--help, -cpu help) and exit 0. */
        record Help(String text) implements Action {
            public Help() {
                this(org.jvisor.cli.Help.TEXT);
            }
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
        MachineOptions.Spec machine = MachineOptions.Spec.DEFAULT;
        // IDE drive indexes and names depend on the machine's controller (PIIX3 on pc, AHCI on q35)
        IdeLayout ideLayout = IdeLayout.of(args);
        MachineConfig.SerialConfig serial = null;
        boolean noReboot = false;
        boolean snapshot = false;
        boolean noShutdown = false;
        boolean startPaused = false;
        GdbEndpoint gdb = null;
        SandboxPolicy sandbox = null;
        RunWith runWith = new RunWith(null, null);
        String incoming = null;
        boolean incomingDefer = false;
        FdSets fdSets = new FdSets();
        DeviceOptions devices = new DeviceOptions();
        ObjectOptions objects = new ObjectOptions();
        BlockdevOptions blockdevs = new BlockdevOptions();
        CompatOptions compat = new CompatOptions();
        boolean memoryGiven = false;
        List<MachineConfig.DriveConfig> drives = new ArrayList<>();
        List<MachineConfig.IdeDriveConfig> ideDrives = new ArrayList<>();
        List<MachineConfig.NetdevConfig> netdevs = new ArrayList<>();
        Set<String> traces = new LinkedHashSet<>();
        Set<String> debug = new LinkedHashSet<>();
        ChardevOptions chardevs = new ChardevOptions(fdSets);
        String name = null;
        String processName = null;
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
            if (opt.equals("-cpu") && i + 1 < args.length && CpuOptions.isHelp(args[i + 1])) {
                return new Action.Help(CpuOptions.help());   // as QEMU: the list, then exit 0
            }
            int used = compat.handle(opt, args, i);
            if (used > 0) {
                i += used - 1;
                continue;
            }
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
                    }
                }
                case "-snapshot" -> snapshot = true;
                case "-no-reboot" -> noReboot = true;
                case "-no-shutdown" -> noShutdown = true;
                case "-no-hpet" -> {
                    // QEMU 7.2's spelling of -machine hpet=off (libvirt's for <timer name='hpet' present='no'/>):
                    // jvisor's machines have no HPET
                }
                case "-S" -> startPaused = true;
                case "-s" -> gdb = GdbEndpoint.DEFAULT;   // QEMU: shorthand for -gdb tcp::1234
                case "-gdb" -> {
                    try {
                        gdb = GdbEndpoint.parse(value(args, ++i, opt, "tcp:[HOST]:PORT, unix:PATH or none"));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("-gdb: " + e.getMessage(), e);
                    }
                }
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
                case "-monitor" -> chardevs.monitor(value(args, ++i, opt,
                    "stdio, unix:PATH,server=on,wait=off, tcp:HOST:PORT,server=on,wait=off, chardev:ID or none"));
                case "-name" -> {
                    OptionList n = parseName(value(args, ++i, opt, "a guest name"));
                    name = n.implied() != null ? n.implied() : n.get("guest");
                    processName = n.get("process");
                }
                case "-pidfile" -> pidfile = Path.of(value(args, ++i, opt, "a file to write jvisor's process id to"));
                case "-daemonize" -> daemonize = true;
                case "-accel" -> {
                    OptionList o = OptionList.parse(opt, value(args, ++i, opt, "kvm, tcg or auto"), true);
                    o.allowOnly(Set.of("thread", "jit", "jit-threshold", "jit-burst", "jit-steady"), "");
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
                case "-m" -> {
                    memory = parseMemory(value(args, ++i, opt, "a size such as 512M or 2G"));
                    memoryGiven = true;
                }
                case "-smp" -> cpus = parseSmp(value(args, ++i, opt, "a vCPU count"));
                case "-kernel" -> kernel = Path.of(value(args, ++i, opt, "a kernel file"));
                case "-bios" -> bios = Path.of(value(args, ++i, opt, "a BIOS image file"));
                case "-boot" -> bootText = value(args, ++i, opt, "order=DRIVES,menu=on|off");
                case "-initrd" -> initrd = Path.of(value(args, ++i, opt, "an initial ramdisk file"));
                case "-append" -> append = value(args, ++i, opt, "a kernel command line");
                case "-M", "-machine" -> machine = MachineOptions.parse(
                    value(args, ++i, opt, "a machine type (pc, microvm, none)"), machine);
                case "-numa" -> memoryBackends.numa(value(args, ++i, opt, "node,memdev=ID"));
                case "-serial" -> serial = parseSerial(value(args, ++i, opt, "stdio, file:PATH, chardev:ID or none"));
                case "-chardev" -> chardevs.chardev(value(args, ++i, opt, "a character device description"));
                case "-device" -> devices.add(value(args, ++i, opt, "a device description"), chardevs);
                case "-object" -> {
                    String v = value(args, ++i, opt, "an object description");
                    if (MemoryBackendOptions.handles(v)) {
                        memoryBackends.object(v);   // shareable RAM (memfd, file): vhost-user backends map it
                    } else {
                        objects.add(v, fdSets);
                    }
                }
                case "-blockdev" -> blockdevs.add(value(args, ++i, opt, "a block node description"), fdSets);
                case "-add-fd" -> fdSets.add(value(args, ++i, opt, "set=N,fd=M"));
                case "-hda", "-hdb", "-hdc", "-hdd", "-cdrom" -> {
                    // QEMU: -hdX FILE is -drive file=FILE,index=X,media=disk; -cdrom is index 2, media=cdrom
                    String file = value(args, ++i, opt, "a disk image");
                    boolean cd = opt.equals("-cdrom");
                    int index = cd ? 2 : opt.charAt(3) - 'a';
                    ParsedDrive p = ideDrive(opt, file, null, false, null, index,
                        cd ? MachineConfig.IdeDriveConfig.Media.CDROM : MachineConfig.IdeDriveConfig.Media.DISK, ideDrives,
                        ideLayout);
                    drives.add(p.drive());
                    ideDrives.add(p.ide());
                }
                case "-drive" -> {
                    ParsedDrive p = parseDrive(value(args, ++i, opt, "a drive description"), drives.size(), ideDrives,
                        ideLayout);
                    MachineConfig.DriveConfig d = p.drive();
                    drives.add(d);
                    if (p.ide() != null) {
                        ideDrives.add(p.ide());
                    }
                    if (d.ifVirtio()) {
                        // its transport is the machine's, known once -machine is read (null until then);
                        // the disk keeps its command-line position among the virtio devices (vda, vdb...)
                        devices.virtioDevices().add(new MachineConfig.VirtioDeviceConfig.VirtioBlk(d.id(), null));
                    }
                }
                case "-netdev" -> netdevs.add(NetOptions.parseNetdev(value(args, ++i, opt, "a network backend such as tap,id=ID"), netdevs));
                case "-nic" -> {
                    // its transport is the machine's unless model= says, known once -machine is read
                    var nic = NetOptions.parseNicOption(value(args, ++i, opt, "a network backend and NIC such as user,model=virtio"),
                        netdevs);
                    if (nic != null) {
                        devices.virtioDevices().add(nic);
                    }
                }
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
        devices.checkMachine(machine.type());
        if (devices.iommu() != null && machine.type() != MachineConfig.MachineType.Q35) {
            // QEMU's words: intel-iommu is a sysbus device only q35 takes
            throw new UsageException("-device intel-iommu: Parameter 'driver' expects a dynamic sysbus device type for "
                + "the machine (intel-iommu needs -M q35)");
        }
        if (kernel == null && machine.type() == MachineConfig.MachineType.MICROVM) {
            throw new UsageException("-machine microvm boots a kernel directly: give -kernel (it has no firmware here)");
        }
        if (machine.accel() != null) {
            if (accelGiven && machine.accel() != accel) {
                throw new UsageException("-machine accel=: a different accelerator than -accel's was given");
            }
            accel = machine.accel();
        }
        boolean memMerge = machine.memMerge();
        if (machine.memoryBackend() != null) {
            if (memoryBackends.has(machine.memoryBackend())) {
                memoryBackends.machineUses(machine.memoryBackend());
            } else {
                long size = objects.ramBackendSize(machine.memoryBackend());
                if (memoryGiven && size != memory) {
                    throw new UsageException("-machine memory-backend=" + machine.memoryBackend() + ": its size (" + size
                        + ") differs from -m (" + memory + ")");
                }
                memory = parseMemory((size >> 10) + "K");
                memMerge = objects.ramBackendMerge(machine.memoryBackend(), memMerge);
            }
        }
        MachineConfig.MemoryBackendConfig memoryBackend = memoryBackends.resolve(memoryGiven ? memory : -1);
        if (memory < 0) {
            memory = memoryBackend != null ? memoryBackend.size() : DEFAULT_MEMORY;
        }
        if (machine.type() == MachineConfig.MachineType.NONE && (kernel != null || !devices.virtioDevices().isEmpty())) {
            throw new UsageException("-machine none has no guest: give no -kernel and no devices");
        }
        if (devices.isaSerialChardev() != null) {
            if (serial != null) {
                throw new UsageException("-device isa-serial: jvisor has one serial port (COM1), which -serial already gives");
            }
            serial = new MachineConfig.SerialConfig.Chardev(devices.isaSerialChardev());
        }
        // QEMU (vl.c): -nographic puts the default serial port on stdio, shared with the human
        // monitor (mon:stdio) unless a monitor was asked for; -nodefaults has neither default
        boolean defaultMonitor = nographic && !compat.noDefaults() && !chardevs.monitorGiven();
        if (serial == null && nographic && !compat.noDefaults()) {
            serial = defaultMonitor ? new MachineConfig.SerialConfig.MonStdio() : new MachineConfig.SerialConfig.Stdio();
        }
        if (serial == null && compat.noDefaults()) {
            serial = new MachineConfig.SerialConfig.None();
        }
        List<MachineConfig.VirtioDeviceConfig> virtioDevices = new ArrayList<>(devices.virtioDevices());
        devices.resolveRng(virtioDevices, objects);
        List<MachineConfig.DebugExitConfig> debugExits = devices.debugExits();
        chardevs.serialUses(serial);
        serial = chardevs.finish(serial, virtioDevices, defaultMonitor && !daemonize);
        if (daemonize) {
            // QEMU (vl.c): a daemon has no terminal; its console must go elsewhere
            if (nographic && (serial instanceof MachineConfig.SerialConfig.Stdio || serial instanceof MachineConfig.SerialConfig.MonStdio)
                    && !compat.noDefaults()) {
                throw new UsageException("-nographic cannot be used with -daemonize");
            }
            if (serial instanceof MachineConfig.SerialConfig.Stdio || serial instanceof MachineConfig.SerialConfig.MonStdio
                    || chardevs.humanMonitors().stream().anyMatch(HumanMonitorConfig::usesStdio)
                    || chardevs.chardevs().stream().anyMatch(c -> c instanceof MachineConfig.ChardevConfig.Stdio)) {
                throw new UsageException("-daemonize: stdio cannot be a guest console (give -serial file:PATH, -serial none "
                    + "or a socket chardev)");
            }
            if (serial == null) {
                serial = new MachineConfig.SerialConfig.None();
            }
            // the daemon is a second JVM started by ProcessBuilder, which closes every descriptor
            // above 2 in the child (QEMU's fork keeps them): refuse rather than lose them
            String inherited = !fdSets.isEmpty() ? "-add-fd"
                : chardevs.hasInheritedSocket() ? "-chardev socket,fd="
                : netdevs.stream().anyMatch(n -> n instanceof MachineConfig.NetdevConfig.Stream st
                    && st.address() instanceof MachineConfig.StreamAddress.Fd) ? "-netdev stream,addr.type=fd"
                : netdevs.stream().anyMatch(n -> n instanceof MachineConfig.NetdevConfig.TapFd) ? "-netdev tap,fd=" : null;
            if (inherited != null) {
                throw new UsageException("-daemonize cannot be used with " + inherited + ": jvisor's daemon is a new JVM "
                    + "that does not inherit the descriptors (start jvisor without -daemonize, as libvirt does)");
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
            ? new MachineConfig.VirtioDeviceConfig.VirtioBlk(b.driveId(), onBoard)
            : d instanceof MachineConfig.VirtioDeviceConfig.VirtioNet n && n.transport() == null
            ? new MachineConfig.VirtioDeviceConfig.VirtioNet(n.netdevId(), n.mac(), onBoard) : d);
        for (MachineConfig.VirtioDeviceConfig d : virtioDevices) {
            if (d.transport() != onBoard) {
                throw new UsageException("-device " + d.qemuName() + ": the " + machine.type().qemuName()
                    + " machine has no " + (d.transport() == MachineConfig.Transport.PCI ? "PCI bus" : "virtio-mmio transports")
                    + " (use " + onBoard.deviceName(d.model()) + ")");
            }
        }
        // -blockdev nodes that a device uses become its disks (a -drive id is one already)
        Map<String, String> blockNodes = new HashMap<>();
        for (String empty : devices.emptyDrives()) {
            // QEMU reports an anonymous drive as a -blockdev node's: "device" "", the device as "qdev"
            drives.add(new MachineConfig.DriveConfig(empty, null, "raw", true, "writeback", false, false));
            blockNodes.put(empty, devices.deviceIdOfDrive(empty));
        }
        for (String drive : devices.blockDrives()) {
            if (drives.stream().anyMatch(d -> d.id().equals(drive))) {
                continue;
            }
            MachineConfig.DriveConfig d = blockdevs.drive("-device virtio-blk-pci,drive=" + drive, drive);
            if (d == null) {
                throw new UsageException("-device " + (devices.ideDevices().stream().anyMatch(i -> i.drive().equals(drive))
                    ? "ide-hd/ide-cd" : "virtio-blk") + ": drive=" + drive + ": no -drive id or -blockdev node-name '" + drive + "'");
            }
            drives.add(d);
            blockNodes.put(drive, devices.deviceIdOfDrive(drive));
        }
        // -device ide-hd/ide-cd: at the bus and unit given, else the first free place (as QEMU)
        List<MachineConfig.AhciConfig> ahciControllers = ahciControllers(devices);
        for (DeviceOptions.IdeDevice dev : devices.ideDevices()) {
            if (dev.controller() != null) {
                continue;
            }
            String opt = "-device " + (dev.media() == MachineConfig.IdeDriveConfig.Media.CDROM ? "ide-cd" : "ide-hd");
            if (dev.bus() > ideLayout.bus(ideLayout.maxIndex())) {
                throw new UsageException(opt + ": Bus 'ide." + dev.bus() + "' not found (the IDE buses are ide.0 and ide.1)");
            }
            if (dev.unit() >= ideLayout.unitsPerBus()) {
                throw new UsageException(opt + ",drive=" + dev.drive() + ": unit=" + dev.unit() + " does not exist (an AHCI "
                    + "port has one device, unit 0)");
            }
            int index = -1;
            for (int at = 0; at <= ideLayout.maxIndex() && index < 0; at++) {
                if ((dev.bus() < 0 || ideLayout.bus(at) == dev.bus()) && (dev.unit() < 0 || ideLayout.unit(at) == dev.unit())
                        && (!indexTaken(ideDrives, at) || (dev.bus() >= 0 && (dev.unit() >= 0 || ideLayout.ahci())))) {
                    index = at;
                }
            }
            if (index < 0) {
                throw new UsageException(opt + ",drive=" + dev.drive() + ": no free IDE unit"
                    + (dev.bus() >= 0 ? " on ide." + dev.bus() : ""));
            }
            if (indexTaken(ideDrives, index)) {
                throw new UsageException(opt + ",drive=" + dev.drive() + ": unit " + ideLayout.unit(index) + " of ide."
                    + ideLayout.bus(index) + " is taken");
            }
            if (ideDrives.stream().anyMatch(i -> i.driveId().equals(dev.drive()))) {
                throw new UsageException(opt + ",drive=" + dev.drive() + ": the drive is already in use");
            }
            ideDrives.add(new MachineConfig.IdeDriveConfig(dev.drive(), index, dev.media()));
        }
        if (!ideDrives.isEmpty() && machine.type() != MachineConfig.MachineType.PC
                && machine.type() != MachineConfig.MachineType.Q35) {
            throw new UsageException("-drive if=ide: the " + machine.type().qemuName() + " machine has no IDE controller "
                + "(use if=virtio)");
        }
        NetOptions.checkPeers(netdevs, virtioDevices);
        for (Map.Entry<String, String> e : devices.ioThreadUsers().entrySet()) {
            if (!objects.isIoThread(e.getKey())) {
                // QEMU 7.2's words
                throw new UsageException("-device " + e.getValue() + ": Property '" + e.getValue() + ".iothread' can't find value '"
                    + e.getKey() + "' (give -object iothread,id=" + e.getKey() + ")");
            }
        }
        if (incomingDefer && chardevs.monitors().isEmpty()) {
            throw new UsageException("-incoming defer: the machine waits for QMP's migrate-incoming, so it needs a monitor "
                + "(-qmp unix:PATH,server=on,wait=off)");
        }
        if (gdb != null && accel == MachineConfig.Accel.KVM) {
            // breakpoints and steps on kvm need KVM_SET_GUEST_DEBUG, which jvisor does not drive
            throw new UsageException("-gdb: the gdbstub works on the tcg engine only; use -accel tcg");
        }
        return new Action.Run(new MachineConfig(accel, memory, cpus, kernel, initrd, append, machine.decompressOnHost(), serial,
            noReboot, noShutdown, List.copyOf(debugExits), List.copyOf(drives), List.copyOf(virtioDevices), Set.copyOf(traces),
            Set.copyOf(debug), machine.type(), chardevs.chardevs(), List.copyOf(netdevs), jit, name, memoryBackend, firmware,
            devices.pciSlots(), devices.iommu(), devices.pciDma(), ideDrives, objects.ioThreads(), ahciControllers,
            compat.cpu(), compat.uuid(), devices.pcieRootPorts(), devices.pciBuses(), devices.deviceIds(), memMerge,
            machine.rngSeed(), compat.acpiPcieHotplug()), startPaused, chardevs.monitors(), pidfile, daemonize,
            sandbox, runWith, incoming, incomingDefer,
            new QomNames(devices.peripherals(), blockNodes, devices.driveUsers(), blockdevs.nodes(), HotplugOptions.PARSER),
            compat.timestamps(), processName, chardevs.humanMonitors(), gdb);
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

    /** QEMU's -name NAME or -name guest=NAME[,debug-threads=on|off][,process=P], checked. */
    private static OptionList parseName(String text) throws UsageException {
        OptionList o = OptionList.parse("-name", text, true);
        o.allowOnly(Set.of("guest", "debug-threads", "process"), "");
        String name = o.implied() != null ? o.implied() : o.get("guest");
        if (name == null || name.isEmpty()) {
            throw new UsageException("-name: no name given (expected -name NAME or -name guest=NAME)");
        }
        if (o.get("debug-threads") != null) {
            onOff("-name", "debug-threads", o.get("debug-threads"));   // jvisor's threads always have names
        }
        if (o.get("process") != null && o.get("process").isEmpty()) {
            throw new UsageException("-name: process= is empty (give the name ps should show)");
        }
        return o;
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
    /**
     * tcg's translator settings: {@code jit=on|off}, {@code jit-threshold=N} (0: translate every
     * block at once), {@code jit-burst=N} (0: no burst, the threshold alone), {@code jit-steady=N}
     * (0: kernel code waits for the threshold).
     */
    private static JitOptions parseJit(OptionList o, MachineConfig.Accel accel, JitOptions jit) throws UsageException {
        String on = o.get("jit");
        String threshold = o.get("jit-threshold");
        String burst = o.get("jit-burst");
        String steady = o.get("jit-steady");
        if ((on != null || threshold != null || burst != null || steady != null) && accel == MachineConfig.Accel.KVM) {
            throw new UsageException("-accel kvm: jit, jit-threshold, jit-burst and jit-steady are tcg's (the bytecode translator)");
        }
        if (on != null) {
            jit = jit.withEnabled(onOff("-accel", "jit", on));
        }
        if (threshold != null) {
            jit = jit.withThreshold(entryCount("jit-threshold", threshold));
        }
        if (burst != null) {
            jit = jit.withBurst(entryCount("jit-burst", burst));
        }
        if (steady != null) {
            jit = jit.withSteady(entryCount("jit-steady", steady));
        }
        return jit;
    }

    /** -accel's {@code key=text}: a count of block entries, 0 or more. */
    private static int entryCount(String key, String text) throws UsageException {
        try {
            int n = Integer.parseInt(text);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // refused below, with the option's name
        }
        throw new UsageException("-accel: " + key + " must be a count of block entries (0 or more), not '" + text + "'");
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

    /** QEMU's boolean property values; a property given without a value is on. */
    static boolean onOff(String where, String key, String value) throws UsageException {
        if (value == null) {
            return true;
        }
        return switch (value) {
            case "on", "yes", "true" -> true;
            case "off", "no", "false" -> false;
            default -> throw new UsageException(where + ": " + key + "='" + value + "' (expected on or off)");
        };
    }

    /** A parsed -drive: the image, and where it sits on the IDE controller (null: not if=ide). */
    private record ParsedDrive(MachineConfig.DriveConfig drive, MachineConfig.IdeDriveConfig ide) {
        ParsedDrive withCache(String cache, boolean snapshot, String discard) {
            MachineConfig.DriveConfig d = drive;
            return new ParsedDrive(new MachineConfig.DriveConfig(d.id(), d.file(), d.format(), d.readOnly(), cache,
                d.ifVirtio(), snapshot, discard), ide);
        }
    }

    /**
     * QEMU's -drive for raw and qcow2 images on virtio, on the IDE controller (if=ide, with
     * index= and media=), or if=none for a -device virtio-blk-pci,drive=ID.
     */
    private static ParsedDrive parseDrive(String text, int index, List<MachineConfig.IdeDriveConfig> ideDrives,
                                          IdeLayout layout) throws UsageException {
        OptionList o = OptionList.parse("-drive", text, false);
        o.allowOnly(Set.of("file", "format", "if", "id", "readonly", "cache", "snapshot", "index", "media", "discard"), "");
        String file = o.get("file");
        if (file != null && file.isEmpty()) {
            file = null;
        }
        // without file=, an empty CD-ROM drive (media=cdrom, or if=none for a -device ide-cd)
        boolean mayBeEmpty = "cdrom".equals(o.get("media")) || "none".equals(o.get("if"));
        if (file == null && !mayBeEmpty) {
            throw new UsageException("-drive: file=PATH is required (only a CD-ROM drive, media=cdrom, may be empty)");
        }
        String format = o.get("format");
        if (format != null && !format.equals("raw") && !format.equals("qcow2")) {
            throw new UsageException("-drive: format=" + format + " is not supported (raw or qcow2)");
        }
        boolean snapshot = onOff("-drive", "snapshot", o.get("snapshot") == null ? "off" : o.get("snapshot"));
        String iface = o.get("if") == null ? "virtio" : o.get("if");
        if (!iface.equals("virtio") && !iface.equals("none") && !iface.equals("ide")) {
            throw new UsageException("-drive: if=" + iface + " is not supported (virtio, ide or none)");
        }
        String ro = o.get("readonly") == null ? "off" : o.get("readonly");
        if (!ro.equals("on") && !ro.equals("off")) {
            throw new UsageException("-drive: readonly=" + ro + " (expected on or off)");
        }
        String cache = o.get("cache") == null ? "writeback" : o.get("cache");
        if (!cache.equals("none") && !cache.equals("writeback")) {
            throw new UsageException("-drive: cache=" + cache + " is not supported (none or writeback)");
        }
        // QEMU's discard=ignore|off|unmap|on (default ignore): whether the guest's discards free space
        DiscardMode discard = DiscardMode.byName(o.get("discard") == null ? "ignore" : o.get("discard"));
        if (discard == null) {
            throw new UsageException("-drive: discard=" + o.get("discard") + " (expected ignore, off, unmap or on)");
        }
        if (iface.equals("none") && o.get("id") == null) {
            throw new UsageException("-drive: if=none needs id=ID for a -device virtio-blk-pci,drive=ID");
        }
        if (!iface.equals("ide") && (o.get("index") != null || o.get("media") != null && !iface.equals("none"))) {
            throw new UsageException("-drive: " + (o.get("index") != null ? "index=" : "media=") + " is for if=ide drives");
        }
        if (iface.equals("ide")) {
            String media = o.get("media") == null ? "disk" : o.get("media");
            if (!media.equals("disk") && !media.equals("cdrom")) {
                throw new UsageException("-drive: media=" + media + " (expected disk or cdrom)");
            }
            int at = -1;
            if (o.get("index") != null) {
                try {
                    at = Integer.parseInt(o.get("index"));
                } catch (NumberFormatException e) {
                    throw new UsageException("-drive: index='" + o.get("index") + "' is not a number");
                }
            }
            return ideDrive("-drive", file, format, ro.equals("on"), o.get("id"), at, media.equals("cdrom")
                ? MachineConfig.IdeDriveConfig.Media.CDROM : MachineConfig.IdeDriveConfig.Media.DISK, ideDrives, layout)
                .withCache(cache, snapshot, discard.qemuName());
        }
        String id = o.get("id") != null ? o.get("id") : "drive" + index;
        return new ParsedDrive(new MachineConfig.DriveConfig(id, file == null ? null : Path.of(file), format, ro.equals("on"), cache,
            iface.equals("virtio"), snapshot, discard.qemuName()), null);
    }

    /**
     * An IDE drive at {@code index} (-1: the first free one, as QEMU fills bus 0 then bus 1), named
     * as QEMU names it ("ide0-hd0", "ide1-cd0"; on q35 "ide2-cd0") unless {@code id} is given; a
     * CD-ROM is read-only.
     */
    private static ParsedDrive ideDrive(String opt, String file, String format, boolean readOnly, String id, int index,
                                        MachineConfig.IdeDriveConfig.Media media,
                                        List<MachineConfig.IdeDriveConfig> taken, IdeLayout layout) throws UsageException {
        boolean cd = media == MachineConfig.IdeDriveConfig.Media.CDROM;
        if (file == null ? !cd : file.isEmpty()) {
            throw new UsageException(opt + ": a disk image is required");
        }
        int at = index;
        if (at < 0) {
            at = 0;
            while (at <= layout.maxIndex() && indexTaken(taken, at)) {
                at++;
            }
            if (at > layout.maxIndex()) {
                throw new UsageException(opt + ": " + layout.full());
            }
        } else if (at > layout.maxIndex()) {
            throw new UsageException(opt + ": index=" + at + " is out of range (" + layout.range() + ")");
        } else if (indexTaken(taken, at)) {
            throw new UsageException(opt + ": drive with bus=" + layout.bus(at) + ", unit=" + layout.unit(at) + " (index="
                + at + ") exists");
        }
        String name = id != null ? id : "ide" + layout.bus(at) + "-" + (cd ? "cd" : "hd") + layout.unit(at);
        MachineConfig.DriveConfig d = new MachineConfig.DriveConfig(name, file == null ? null : Path.of(file), format,
            readOnly || cd, "writeback",
            false, false);
        return new ParsedDrive(d, new MachineConfig.IdeDriveConfig(name, at, media));
    }

    /**
     * The -device ahci controllers with the -device ide-hd/ide-cd,bus=ID.PORT drives on them: one
     * device per port (unit 0), each drive once.
     */
    private static List<MachineConfig.AhciConfig> ahciControllers(DeviceOptions devices) throws UsageException {
        List<MachineConfig.AhciConfig> out = new ArrayList<>();
        Set<String> used = new java.util.HashSet<>();
        for (DeviceOptions.AhciController c : devices.ahciControllers()) {
            List<MachineConfig.IdeDriveConfig> drives = new ArrayList<>();
            for (DeviceOptions.IdeDevice dev : devices.ideDevices()) {
                if (c.id() == null || !c.id().equals(dev.controller())) {
                    continue;
                }
                String opt = "-device " + (dev.media() == MachineConfig.IdeDriveConfig.Media.CDROM ? "ide-cd" : "ide-hd")
                    + ",drive=" + dev.drive();
                int port = dev.bus();
                if (dev.unit() > 0) {
                    throw new UsageException(opt + ": unit=" + dev.unit() + " does not exist (an AHCI port has one device, unit 0)");
                }
                if (indexTaken(drives, port)) {
                    throw new UsageException(opt + ": port " + port + " of " + c.id() + " is taken");
                }
                if (!used.add(dev.drive())) {
                    throw new UsageException(opt + ": the drive is already in use");
                }
                drives.add(new MachineConfig.IdeDriveConfig(dev.drive(), port, dev.media()));
            }
            out.add(new MachineConfig.AhciConfig(c.id(), c.slot(), drives));
        }
        for (DeviceOptions.IdeDevice dev : devices.ideDevices()) {
            if (dev.controller() != null && devices.ahciControllers().stream().noneMatch(c -> dev.controller().equals(c.id()))) {
                throw new UsageException("-device " + (dev.media() == MachineConfig.IdeDriveConfig.Media.CDROM ? "ide-cd" : "ide-hd")
                    + ": Bus '" + dev.controller() + "." + dev.bus() + "' not found (no -device ahci,id=" + dev.controller() + ")");
            }
        }
        return out;
    }

    /**
     * Where IDE drives go: pc's PIIX3 has buses ide.0 and ide.1 of two units (index = bus * 2 +
     * unit), q35's AHCI six buses ide.0-ide.5 of one unit each (index = bus), as in QEMU.
     */
    record IdeLayout(boolean ahci) {
        /** The layout of the machine the command line asks for (its last -machine, as parsed later). */
        static IdeLayout of(String[] args) {
            MachineOptions.Spec m = MachineOptions.Spec.DEFAULT;
            for (int i = 0; i + 1 < args.length; i++) {
                if (args[i].equals("-M") || args[i].equals("-machine")) {
                    try {
                        m = MachineOptions.parse(args[i + 1], m);
                    } catch (UsageException e) {
                        // reported with its context when the option is parsed in order
                    }
                }
            }
            return new IdeLayout(m.type() == MachineConfig.MachineType.Q35);
        }

        int maxIndex() {
            return ahci ? MachineConfig.IdeDriveConfig.MAX_AHCI_INDEX : MachineConfig.IdeDriveConfig.MAX_INDEX;
        }

        int unitsPerBus() {
            return ahci ? 1 : 2;
        }

        int bus(int index) {
            return index / unitsPerBus();
        }

        int unit(int index) {
            return index % unitsPerBus();
        }

        String range() {
            return ahci ? "the AHCI controller has 0-5" : "the IDE controller has 0-3";
        }

        String full() {
            return ahci ? "the AHCI controller has six ports (index 0-5), all taken"
                : "the IDE controller has four drives (index 0-3), all taken";
        }
    }

    private static boolean indexTaken(List<MachineConfig.IdeDriveConfig> taken, int index) {
        return taken.stream().anyMatch(t -> t.index() == index);
    }

    private static int parseSmp(String text) throws UsageException {
        OptionList o = OptionList.parse("-smp", text, true);
        o.allowOnly(Set.of("cpus", "maxcpus", "sockets", "dies", "cores", "threads"), "");
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
        if (text.equals("stdio")) {
            return new MachineConfig.SerialConfig.Stdio();
        }
        if (text.equals("mon:stdio")) {
            return new MachineConfig.SerialConfig.MonStdio();   // shared with the human monitor
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
}
