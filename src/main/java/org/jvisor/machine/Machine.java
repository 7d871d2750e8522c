package org.jvisor.machine;

import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Consumer;

import org.jvisor.backend.rng.BuiltinEntropy;
import org.jvisor.backend.rng.EntropySource;
import org.jvisor.backend.rng.FileEntropy;
import org.jvisor.backend.chr.CharBackend;
import org.jvisor.backend.chr.EscapeFilter;
import org.jvisor.backend.chr.MuxConsole;
import org.jvisor.backend.chr.NullBackend;
import org.jvisor.backend.chr.StreamBackend;
import org.jvisor.boot.BootException;
import org.jvisor.boot.ImagePool;
import org.jvisor.cpu.Accelerator;
import org.jvisor.cpu.CpuModel;
import org.jvisor.cpu.CpuModelException;
import org.jvisor.cpu.GuestCpuid;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.Vcpu;
import org.jvisor.cpu.X86State;
import org.jvisor.devices.PlatformControl;
import org.jvisor.devices.acpi.AcpiPciHotplug;
import org.jvisor.devices.acpi.AcpiPm;
import org.jvisor.devices.ahci.Ich9Ahci;
import org.jvisor.devices.fwcfg.FwCfg;
import org.jvisor.devices.ide.AtaDisk;
import org.jvisor.devices.ide.AtapiCdrom;
import org.jvisor.devices.ide.IdeDrive;
import org.jvisor.devices.ide.Piix3Ide;
import org.jvisor.devices.ide.Piix3IsaBridge;
import org.jvisor.devices.pci.Ich9LpcBridge;
import org.jvisor.devices.pci.PcieRootPort;
import org.jvisor.devices.legacy.DebugConsole;
import org.jvisor.devices.legacy.IsaDebugExit;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.block.DiscardMode;
import org.jvisor.backend.block.BlockImages;
import org.jvisor.devices.virtio.BlockStats;
import org.jvisor.devices.virtio.VirtioBlk;
import org.jvisor.devices.virtio.VirtioConsole;
import org.jvisor.devices.virtio.VirtioCore;
import org.jvisor.devices.virtio.VirtioDevice;
import org.jvisor.devices.virtio.PollWindow;
import org.jvisor.devices.virtio.VirtioIoThread;
import org.jvisor.devices.virtio.VirtioMmioTransport;
import org.jvisor.devices.virtio.VirtioPciFunction;
import org.jvisor.devices.virtio.VirtioNet;
import org.jvisor.devices.virtio.VirtioBalloon;
import org.jvisor.devices.virtio.VirtioRng;
import org.jvisor.config.HotplugDevice;
import org.jvisor.config.MacAddress;
import org.jvisor.backend.net.NetBackend;
import org.jvisor.backend.net.Passt;
import org.jvisor.backend.net.PasstNetBackend;
import org.jvisor.backend.net.StreamNetBackend;
import org.jvisor.backend.net.TapBackend;
import org.jvisor.tcg.UnitLibrary;
import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.IdentityDma;
import org.jvisor.boot.acpi.Dmar;
import org.jvisor.boot.acpi.Dsdt;
import org.jvisor.boot.acpi.Madt;
import org.jvisor.devices.iommu.IntelIommu;
import org.jvisor.devices.iommu.IommuDma;
import org.jvisor.devices.iommu.VtdOptions;
import org.jvisor.devices.legacy.Serial16550;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.RamBacking;
import org.jvisor.backend.vhost.VhostUserException;
import org.jvisor.devices.virtio.VhostUserDevice;
import org.jvisor.devices.virtio.VhostUserKind;
import org.jvisor.config.MachineConfig;

/**
 * A PC built from a {@link MachineConfig}: RAM, the io and memory address spaces, the platform
 * devices, a CPU engine and one thread per vCPU. {@link #create} builds it ready to boot (kernel in
 * RAM, vCPU threads waiting); {@link #resume}, {@link #pause}, {@link #systemReset} and
 * {@link #pressPowerButton} are the mechanisms a lifecycle (org.jvisor.api) drives. What the
 * platform and the vCPUs ask for (power off, reset, a failure) goes to the event sink given to
 * {@code create}, on the thread that asks; the machine itself decides nothing.
 */
public final class Machine implements AutoCloseable {
    /** The names of vCPU threads start with this ("vcpu-0", ...), as QEMU's "CPU 0/TCG" name them. */
    public static final String VCPU_THREAD_PREFIX = "vcpu-";

    static final int COM1_BASE = 0x3F8;
    static final int COM1_IRQ = 4;
    /** QEMU's pc: the PIIX3 (ISA bridge and IDE) in slot 1. */
    static final int IDE_SLOT = 1;
    /** QEMU's q35: the ICH9 LPC bridge (function 0) and SATA controller (function 2) in slot 0x1f. */
    static final int ICH9_SLOT = 0x1F;
    static final int ICH9_AHCI_FUNCTION = 2;
    private static final long MMIO_LIMIT = 1L << 52;

    private final MachineConfig config;
    private final PrintStream log;
    private final GuestMemory ram;
    private final AddressSpace io;
    private final AddressSpace mmio;
    private final Accelerator accel;
    /** The -device virtio-balloon-*, or null. */
    private VirtioBalloon balloon;
    private final String accelExplanation;
    private final CharBackend serialBackend;
    private PcPlatform platform;
    private IntelIommu iommu;
    private final RunControl control;
    private final List<VcpuRunner> runners = new ArrayList<>();
    private final Consumer<MachineEvent> events;
    private final List<AttachedDrive> drives = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The CD-ROM drives by -drive id: their media change while the machine runs. */
    private final Map<String, CdromSlot> cdroms = new java.util.concurrent.ConcurrentHashMap<>();
    private final KernelLoader loader;
    /** Every device with its backends and I/O thread: start, reset, close (and later snapshots) loop over it. */
    private final DeviceRegistry devices;
    private Chardevs chardevs;
    /** -serial mon:stdio's console, shared with the human monitor; null otherwise. */
    private MuxConsole mux;
    /** The virtio I/O threads, drained before a snapshot saves the queues. */
    private final List<VirtioIoThread> ioThreads = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** -object iothread: the threads devices share by iothread=ID, by id, in command-line order. */
    private final Map<String, VirtioIoThread> sharedIoThreads = new LinkedHashMap<>();
    /** Each virtio device's core by its registry id, for the -trace exits report's notify counts. */
    private final Map<String, VirtioCore> virtioCores = java.util.Collections.synchronizedMap(new LinkedHashMap<>());
    private final List<String> snapshotBlockers = new ArrayList<>();
    /** A vhost-user device on its PCI function (for -trace exits). */
    private record VhostUserPci(VhostUserDevice device, VirtioPciFunction function) {
    }

    /** The vhost-user devices by id. */
    private final Map<String, VhostUserPci> vhostUserDevices = new LinkedHashMap<>();
    /** The run state the snapshot this machine was restored from was saved in ("running", "paused"), or null. */
    private String incomingRunState;
    private volatile long lastPauseNanos;
    /** The incoming migration's trace until the guest resumes (-trace migration), else null. */
    private volatile MigrationTrace incomingTrace;
    /** Built by {@link #createIncoming}: no boot, no vCPUs yet, waiting for {@link #restore}. */
    private boolean awaitingIncoming;
    private final MachineDebug debug;

    /** A disk as the machine opened it: its -drive, the image's virtual size in bytes and format (raw, qcow2), its statistics. */
    public record AttachedDrive(MachineConfig.DriveConfig config, long size, String format, BlockStats stats) {
    }

    /** vCPU {@code index} runs on the host thread {@code hostThreadId} (a Linux TID, 0 before the thread started). */
    public record VcpuThread(int index, long hostThreadId) {
    }

    private Machine(MachineConfig config, PrintStream log, GuestMemory ram, Accelerator accel, String explanation,
                    AddressSpace io, AddressSpace mmio, CharBackend serialBackend, KernelLoader loader,
                    Consumer<MachineEvent> events) {
        this.events = events;
        this.config = config;
        this.log = log;
        this.ram = ram;
        this.io = io;
        this.mmio = mmio;
        this.accel = accel;
        this.accelExplanation = explanation;
        this.serialBackend = serialBackend;
        this.loader = loader;
        // -machine none has no vCPUs: nothing for a pause to wait for
        this.control = new RunControl(config.machineType() == MachineConfig.MachineType.NONE ? 0 : config.cpus());
        this.devices = new DeviceRegistry(msg -> log.println("jvisor: " + msg));
        this.debug = new MachineDebug(this, ram);
    }

    /**
     * Builds the machine, loads the kernel and starts the vCPU threads, which wait until
     * {@link #resume}. Every problem with the configuration is a {@link MachineException}; on
     * failure everything opened so far is closed again.
     *
     * @param log    where jvisor's own messages go (each line starts with "jvisor: ")
     * @param events receives what the platform and the vCPUs ask of the machine, on their threads
     */
    public static Machine create(MachineConfig config, PrintStream log, Consumer<MachineEvent> events)
            throws MachineException {
        return create(config, log, events, new UnitLibrary(), new ImagePool(), null);
    }

    /**
     * As {@link #create(MachineConfig, PrintStream, Consumer)}; with {@code incoming}, the machine
     * is restored from that snapshot file instead of booted (QEMU's -incoming): the configuration
     * must match the one saved, the kernel is not loaded, and the vCPUs wait, paused, where the
     * snapshot left them. A snapshot that cannot be restored is a {@link MachineException} naming
     * the file and what is wrong, and nothing of the machine is left running.
     */
    public static Machine create(MachineConfig config, PrintStream log, Consumer<MachineEvent> events, MigrationEndpoint incoming)
            throws MachineException {
        return create(config, log, events, new UnitLibrary(), new ImagePool(), incoming);
    }

    /**
     * As {@link #create(MachineConfig, PrintStream, Consumer, Path)}, with tcg translations taken
     * from and added to {@code translations}, and the kernel and initrd held through {@code images},
     * both of which other machines in this process may share.
     */
    public static Machine create(MachineConfig config, PrintStream log, Consumer<MachineEvent> events,
                                 UnitLibrary translations, ImagePool images, MigrationEndpoint incoming)
            throws MachineException {
        return create(config, log, events, translations, images, incoming == null ? Start.BOOT : Start.RESTORE, incoming);
    }

    /** How a new machine begins: booted, restored from a file at once, or waiting for {@link #restore}. */
    private enum Start { BOOT, RESTORE, AWAIT_RESTORE }

    private static Machine create(MachineConfig config, PrintStream log, Consumer<MachineEvent> events,
                                  UnitLibrary translations, ImagePool images, Start start, MigrationEndpoint incoming)
            throws MachineException {
        KernelLoader loader;
        try {
            loader = KernelLoader.read(config, images);
        } catch (BootException e) {
            throw new MachineException(e.getMessage());
        }
        GuestMemory ram;
        try {
            ram = allocateRam(config, loader.romSize());
        } catch (IllegalArgumentException e) {
            throw new MachineException((config.memoryBackend() == null ? "-m: "
                : "-object " + config.memoryBackend().qemuType() + ",id=" + config.memoryBackend().id() + ": ") + e.getMessage(), e);
        }
        AddressSpace io = new AddressSpace("io", 0x10000);
        AddressSpace mmio = new AddressSpace("memory", MMIO_LIMIT);
        MachineBus bus = new MachineBus(ram, io, mmio);
        AcceleratorChoice.Chosen chosen;
        try {
            chosen = AcceleratorChoice.open(config.accel(), bus, config.cpus(), config.jit(), translations);
        } catch (MachineException e) {
            ram.close();
            throw e;
        }
        CharBackend serial;
        // Ctrl-A x on the console: the user quits (status 0, as QEMU).
        EscapeFilter.Actions quit = () -> events.accept(new MachineEvent.ConsoleQuit("C-a x on the console"));
        Chardevs chardevs;
        try {
            chardevs = Chardevs.open(config.chardevs(), quit, msg -> log.println("jvisor: " + msg));
        } catch (MachineException e) {
            chosen.accelerator().close();
            ram.close();
            throw e;
        }
        MuxConsole[] mux = new MuxConsole[1];
        try {
            serial = openSerial(config.serial(), quit, chardevs, mux);
        } catch (IOException e) {
            chardevs.close();
            chosen.accelerator().close();
            ram.close();
            throw new MachineException("-serial: " + e.getMessage());
        }
        Machine m = new Machine(config, log, ram, chosen.accelerator(), chosen.explanation(), io, mmio, serial, loader,
            events);
        m.chardevs = chardevs;
        m.mux = mux[0];
        try {
            m.wireDevices();
            if (loader.firmware() != null) {
                // The ROM never changes and is not part of a snapshot's RAM: there from the start
                ram.loadRom(loader.firmware().bytes());
            }
            switch (start) {
                case BOOT -> {
                    if (config.machineType() != MachineConfig.MachineType.NONE) {
                        m.prepareBoot();   // none: no kernel, no vCPUs; the monitors are all there is
                    }
                }
                case RESTORE -> {
                    m.awaitingIncoming = true;
                    loader.release();
                    m.restore(incoming);
                }
                case AWAIT_RESTORE -> {
                    m.awaitingIncoming = true;
                    loader.release();
                }
            }
        } catch (MachineException | RuntimeException e) {
            m.close(); // what was built so far: its devices, backends, threads, the engine and RAM
            throw e;
        }
        return m;
    }

    /**
     * Guest RAM: anonymous, or from -machine memory-backend=ID's memfd or file, which must be -m's
     * size; with mem-merge=on, open to the host's page merging.
     */
    private static GuestMemory allocateRam(MachineConfig config, long romSize) {
        GuestMemory ram = mapRam(config, romSize);
        if (config.memMerge()) {
            try {
                ram.mergeIdenticalPages();
            } catch (RuntimeException e) {
                ram.close();
                throw e;
            }
        }
        return ram;
    }

    private static GuestMemory mapRam(MachineConfig config, long romSize) {
        MachineConfig.MemoryBackendConfig b = config.memoryBackend();
        // the machine's 32-bit hole: where low RAM must end (q35 with firmware: below its ECAM)
        long lowLimit = PcPciLayout.lowRamLimit(config);
        if (b == null) {
            return GuestMemory.allocate(config.memoryBytes(), new RamBacking.Anonymous(), romSize, lowLimit);
        }
        if (b.size() != config.memoryBytes()) {
            throw new IllegalArgumentException("Machine memory size does not match the size of the memory backend ("
                + (config.memoryBytes() >> 20) + " MiB, backend " + (b.size() >> 20) + " MiB)");
        }
        RamBacking backing = switch (b) {
            case MachineConfig.MemoryBackendConfig.Memfd m -> new RamBacking.Memfd(m.id(), m.share(), m.seal());
            case MachineConfig.MemoryBackendConfig.File f -> new RamBacking.File(f.memPath(), f.share());
        };
        return GuestMemory.allocate(config.memoryBytes(), backing, romSize, lowLimit);
    }

    private static CharBackend openSerial(MachineConfig.SerialConfig cfg, EscapeFilter.Actions escapes, Chardevs chardevs,
                                          MuxConsole[] mux)
            throws IOException, MachineException {
        return switch (cfg) {
            case MachineConfig.SerialConfig.MonStdio m -> {
                mux[0] = new MuxConsole(new FileOutputStream(FileDescriptor.out), System.in, escapes);
                yield mux[0].console();
            }
            case MachineConfig.SerialConfig.Stdio s -> {
                OutputStream stdout = new FileOutputStream(FileDescriptor.out);
                yield new StreamBackend(stdout, System.in, new EscapeFilter(escapes, stdout));
            }
            case MachineConfig.SerialConfig.File f -> {
                OutputStream out = Files.newOutputStream(f.path());
                yield new StreamBackend(out, null);
            }
            case MachineConfig.SerialConfig.Streams s -> new StreamBackend(s.output(), s.input());
            case MachineConfig.SerialConfig.None n -> new NullBackend();
            case MachineConfig.SerialConfig.Chardev c -> chardevs.get(c.id());
        };
    }

    private void wireDevices() throws MachineException {
        PlatformControl platformControl = new PlatformControl() {
            @Override
            public void exit(int status, String reason) {
                events.accept(new MachineEvent.Exit(status, reason));
            }

            @Override
            public void reset(String reason) {
                events.accept(new MachineEvent.Reset(reason));
            }

            @Override
            public void powerOff(String reason) {
                events.accept(new MachineEvent.PowerOff(reason));
            }
        };
        int vcpus = config.machineType() == MachineConfig.MachineType.NONE ? 0 : config.cpus();
        for (Accelerator.EngineState st : accel.engineState(vcpus)) {   // first: restored before every device
            devices.add(MachineDevice.of(st.id(), st.state()));
        }
        this.platform = new PcPlatform(accel, config.cpus(), io, mmio, ram, platformControl, loader.isLinux(),
            config.machineType().hasPci()
                ? PcPciLayout.of(config) : null,
            loader.firmware() != null, config.machineType() == MachineConfig.MachineType.Q35,
            PcHotplugSlots.notHotpluggable(config).orElse(null),
            PcHotplugSlots.acpiPcieHotplug(config)
                ? OptionalInt.of(PcHotplugSlots.rootPortBsels(config.pcieRootPorts()).size()) : OptionalInt.empty(),
            devices, msg -> log.println("jvisor: " + msg));
        // The guest's own _EJ0 (acpiphp's slot power off) takes the device out, as QEMU 7.2's
        if (platform.acpiPciHotplug() != null) {
            platform.acpiPciHotplug().guestEject((bsel, slot) -> guestEjected(null, slot));
        }
        if (platform.acpiRootPortHotplug() != null) {
            platform.acpiRootPortHotplug().guestEject((bsel, slot) -> guestEjected(bsel, slot));
        }
        if (config.iommu() != null) {
            this.iommu = buildIommu(config.iommu());
        }
        if (accel.providesInterruptControllers() && Boolean.FALSE.equals(config.cpu().x2apic())) {
            throw new MachineException("-cpu " + config.cpu().model() + ",-x2apic: jvisor's kvm vCPUs always offer "
                + "x2APIC (KVM's in-kernel local APIC and CPUID); x2apic can be turned off on tcg only");
        }
        if (platform.lapic(0) != null) {
            TcgEngine.offerLocalApic(accel, x2apicOnTcg());
        }
        presentCpuModel();
        Serial16550 com1 = new Serial16550(serialBackend, this.platform.irq(COM1_IRQ));
        io.register("serial0 (16550A)", COM1_BASE, 8, com1);
        // No reset, as always: host input queued for the UART survives a reboot. Its backend is
        // the machine's (opened with it, closed after every device).
        devices.add(MachineDevice.of("serial0", com1).onStart(com1::start));
        if (config.machineType() == MachineConfig.MachineType.Q35) {
            if (!config.ideDrives().isEmpty() || loader.firmware() != null) {
                wireIch9();
            }
        } else if (!config.ideDrives().isEmpty()) {
            wireIde();
        }
        for (MachineConfig.IoThreadConfig t : config.ioThreads()) {
            VirtioIoThread thread = new VirtioIoThread(t.id(), new PollWindow(t.pollMaxNs(), t.pollGrow(), t.pollShrink()),
                HostThreads::currentThreadId);
            sharedIoThreads.put(t.id(), thread);
            ioThreads.add(thread);
        }
        List<Dsdt.RootPort> acpiPorts = new ArrayList<>();
        Map<Integer, Integer> bsels = PcHotplugSlots.rootPortBsels(config.pcieRootPorts());
        for (int i = 0; i < config.pcieRootPorts().size(); i++) {
            MachineConfig.PcieRootPortConfig c = config.pcieRootPorts().get(i);
            WiredRootPort wired = wireRootPort(c);
            Integer bsel = bsels.get(i);
            if (bsel != null && platform.acpiRootPortHotplug() != null) {
                rootPortBsels.put(wired.port(), bsel);
            }
            // QEMU's DSDT visits the ports in its child-bus order, the port created last first
            acpiPorts.addFirst(new Dsdt.RootPort(wired.devfn(), bsel == null ? OptionalInt.empty() : OptionalInt.of(bsel)));
        }
        if (platform.acpiRootPortHotplug() != null && loader.acpi() != null) {
            loader.acpi().acpiPcieHotplug(acpiPorts);
        }
        int mmioSlots = 0;
        for (int index = 0; index < config.virtioDevices().size(); index++) {
            MachineConfig.VirtioDeviceConfig device = config.virtioDevices().get(index);
            int mark = devices.size();
            // Backends go into the registry as they open (before their device, so they close after it).
            VirtioDevice model = switch (device) {
                case MachineConfig.VirtioDeviceConfig.VirtioRng r -> virtioRng(r);
                case MachineConfig.VirtioDeviceConfig.VirtioBalloon b -> virtioBalloon(b);
                case MachineConfig.VirtioDeviceConfig.VirtioBlk b -> virtioBlk(openDrive(b.driveId()), b.driveId());
                case MachineConfig.VirtioDeviceConfig.VirtioSerial v -> virtioSerial(v);
                case MachineConfig.VirtioDeviceConfig.VirtioNet n -> virtioNet(openNetdev(n.netdevId()), n);
                case MachineConfig.VirtioDeviceConfig.VhostUserBlk v -> openVhostUser(v.qemuName(), v.chardev(),
                    new VhostUserKind.Blk(v.numQueues() > 0 ? v.numQueues() : config.cpus(), v.configWce()), v.queueSize(),
                    device.model() + perModel.getOrDefault(device.model(), 0));
                case MachineConfig.VirtioDeviceConfig.VhostUserFs v -> openVhostUser(v.qemuName(), v.chardev(),
                    new VhostUserKind.Fs(v.tag(), v.numRequestQueues()), v.queueSize(),
                    device.model() + perModel.getOrDefault(device.model(), 0));
            };
            DeviceName name = nextName(device);
            String iothread = device instanceof MachineConfig.VirtioDeviceConfig.VirtioBlk b ? b.iothread() : null;
            switch (device.transport()) {
                case PCI -> {
                    int slot = virtioPci(model, name.name(), name.thread(), iothread, device.ioeventfd(), device.irqfd(),
                        config.pciSlots().get(index), config.pciBuses().get(index), device.qemuName(), config.pciDma(index));
                    if (config.deviceId(index) != null) {
                        coldPlugged(config.deviceId(index), mark, device, model, config.pciBuses().get(index), slot);
                    }
                }
                case MMIO -> {
                    VirtioMmioSlot slot;
                    try {
                        slot = VirtioMmioSlot.of(mmioSlots);
                    } catch (IllegalArgumentException e) {
                        throw new MachineException("-device " + device.qemuName() + ": " + e.getMessage());
                    }
                    virtioMmio(model, name.name() + "@virtio-mmio." + mmioSlots++, name.thread(), iothread, slot,
                        device.ioeventfd());
                }
            }
        }
        for (int i = 0; i < config.ahciControllers().size(); i++) {
            wireExtraAhci(config.ahciControllers().get(i), i + 1);
        }
        openUnusedNetdevs();
        if (iommu != null && loader.acpi() != null) {
            VtdOptions o = iommu.options();
            loader.acpi().dmar(new Dmar.Unit(IntelIommu.BASE, o.awBits(), o.intremap(), o.deviceIotlb(), Madt.IOAPIC_ID,
                platform.pciDevfns()));
        }
        try {
            platform.assignPciResources();
        } catch (RuntimeException e) {
            throw new MachineException("PCI: " + e.getMessage());
        }
        if (loader.firmware() != null) {
            wireFirmware();
        }
        for (MachineConfig.DebugExitConfig d : config.debugExits()) {
            try {
                io.register("isa-debug-exit", d.iobase(), d.iosize(), new IsaDebugExit(platformControl));
            } catch (IllegalArgumentException e) {
                throw new MachineException("-device isa-debug-exit: " + e.getMessage());
            }
            devices.add(MachineDevice.of(String.format("isa-debug-exit@%#x", d.iobase()), null));
        }
    }

    /**
     * What firmware reads of the machine: fw_cfg at 0x510 with FirmwareConfig's items, the boot
     * order in CMOS; and with -d firmware, its debug console (port 0x402) on jvisor's log.
     */
    private void wireFirmware() {
        FwCfg fwcfg = new FwCfg(FirmwareConfig.items(config, ram, loader.acpi(), bootDisks(), loader.smbios(ram)), deviceDma());
        io.register("fw_cfg", PcPlatform.FW_CFG_PORT, FwCfg.SIZE, fwcfg);
        devices.add(MachineDevice.of("fw_cfg", fwcfg).onReset(fwcfg::reset));
        String order = config.firmware().bootOrder();
        platform.setBootOrder(order == null ? "cad" : order); // QEMU pc's default order
        if (config.debugLog().contains("firmware")) {
            io.register("debugcon", DebugConsole.PORT, 1, new DebugConsole(msg -> log.println("jvisor: firmware: " + msg)));
        }
    }

    /**
     * Connects a vhost-user device to its backend (QEMU's realize): RAM must be shareable, the
     * backend there and able; a blk's num-queues defaults to one per vCPU, as in QEMU 7.2.
     */
    private VhostUserDevice openVhostUser(String qemuName, String chardev, VhostUserKind kind, int queueSize, String name)
            throws MachineException {
        MachineConfig.ChardevConfig.SocketClient c = chardevs.socketClient(chardev);
        try {
            VhostUserDevice d = VhostUserDevice.open(new VhostUserDevice.Options(kind, c.path(), c.reconnectSeconds(), queueSize),
                ram, msg -> log.println("jvisor: " + msg), name);
            devices.add(MachineDevice.of("vhost-user:" + chardev, null).onClose(d::close));
            snapshotBlockers.add(name + " (vhost-user)");
            return d;
        } catch (VhostUserException e) {
            throw new MachineException("-device " + qemuName + ",chardev=" + chardev + ": " + e.getMessage(), e);
        }
    }

    /** Devices a snapshot cannot save (their state lives in another process), by name. */
    List<String> snapshotBlockers() {
        return List.copyOf(snapshotBlockers);
    }

    /** A virtio-blk on the drive {@code id} just opened as {@code backend}, counting into the drive's statistics. */
    private VirtioBlk virtioBlk(BlockBackend backend, String id) {
        return new VirtioBlk(backend, id, VirtioBlk.DEFAULT_QUEUE_SIZE, msg -> log.println("jvisor: " + msg),
            drives.getLast().stats());
    }

    /** A virtio-net on {@code backend}; as QEMU, only NICs without mac= count up from 52:54:00:12:34:56. */
    private VirtioNet virtioNet(NetBackend backend, MachineConfig.VirtioDeviceConfig.VirtioNet n) {
        return new VirtioNet(backend, n.mac() != null ? n.mac() : MacAddress.QEMU_DEFAULT.plus(defaultMacs++));
    }

    /** What the next device of a model is called, and its I/O thread. */
    private record DeviceName(String name, String thread) {
    }

    /**
     * The device's id starts "virtio-blk0", "virtio-rng1"... (numbered per model, hot-plugged ones
     * included); its I/O thread keeps the name it always had (numbered for disks and NICs only).
     */
    private DeviceName nextName(MachineConfig.VirtioDeviceConfig device) {
        String name = device.model() + (perModel.merge(device.model(), 1, Integer::sum) - 1);
        return new DeviceName(name, device instanceof MachineConfig.VirtioDeviceConfig.VirtioBlk
            || device instanceof MachineConfig.VirtioDeviceConfig.VirtioNet ? name : device.model());
    }

    /** Undoes the registration of the drive opened last (its device is gone, or never came). */
    private Runnable forgetLastDrive() {
        AttachedDrive drive = drives.getLast();
        return () -> drives.remove(drive);
    }

    /**
     * Opens the image of -drive id=ID (raw or qcow2, given or probed, with its backing chain):
     * missing, locked, corrupt or too small images are refused here.
     */
    private BlockBackend openDrive(String id) throws MachineException {
        return openDrive(id, false);
    }

    /**
     * As {@link #openDrive(String)}; a {@code removable} drive's medium is closed by its
     * {@link CdromSlot} (it may change), and it may have none (-drive without file=): null.
     */
    private BlockBackend openDrive(String id, boolean removable) throws MachineException {
        for (MachineConfig.DriveConfig d : config.drives()) {
            if (d.id().equals(id)) {
                return openDrive(d, removable);
            }
        }
        throw new MachineException("no -drive with id=" + id);
    }

    /** As {@link #openDrive(String, boolean)}, for the drive {@code d} (a -drive, or a node device_add names). */
    private BlockBackend openDrive(MachineConfig.DriveConfig d, boolean removable) throws MachineException {
        if (d.file() == null) {
            if (!removable) {
                throw new MachineException("-drive id=" + d.id() + ": a disk needs file=PATH (only a CD-ROM may be empty)");
            }
            drives.add(new AttachedDrive(d, 0, "", new BlockStats()));
            return null;
        }
        try {
            BlockBackend backend = BlockImages.open(d.file(), d.format(), d.readOnly(),
                CacheMode.parse(d.cache()), d.snapshot(), DiscardMode.byName(d.discard()), msg -> log.println("jvisor: -drive " + d.file() + ": " + msg));
            // Closed after its device's I/O thread: every completed request has reached
            // the image, and the close flushes it.
            if (!removable) {
                devices.add(MachineDevice.of("drive:" + d.id(), null).onClose(() -> {
                    backend.flush();
                    backend.close();
                }));
            }
            drives.add(new AttachedDrive(d, backend.size(), BlockImages.formatName(backend), new BlockStats()));
            return backend;
        } catch (IOException | RuntimeException e) {
            throw new MachineException("-drive file=" + d.file() + ": " + e.getMessage(), e);
        }
    }

    /** -device virtio-serial-pci/-device with its virtconsole/virtserialport ports on their chardevs. */
    private VirtioConsole virtioSerial(MachineConfig.VirtioDeviceConfig.VirtioSerial v) throws MachineException {
        List<VirtioConsole.PortSpec> ports = new ArrayList<>();
        for (MachineConfig.VirtioSerialPortConfig p : v.ports()) {
            ports.add(new VirtioConsole.PortSpec(p.nr(), p.name(), p.console(), chardevs.get(p.chardev())));
        }
        return new VirtioConsole(v.maxPorts(), ports, msg -> log.println("jvisor: " + msg));
    }

    /**
     * Opens the backend of -netdev ...,id=ID: a tap (a bad name, no permission or a busy tap are
     * refused here), a stream socket (listening, or connected to its peer), or passt for user
     * networking (started, connected, and ended with the machine).
     */
    /**
     * The balloon: inflated pages go back to the host (and, on tcg, any decoded code on them is
     * dropped, as for DMA); the driver's new {@code actual} becomes a BALLOON_CHANGE event.
     */
    private VirtioBalloon virtioBalloon(MachineConfig.VirtioDeviceConfig.VirtioBalloon b) {
        IdentityDma.WriteListener code = TcgEngine.dmaListener(accel);
        VirtioBalloon device = new VirtioBalloon(ram.size(), b.deflateOnOom(), (gpa, length) -> {
            if (!ram.discard(gpa, length)) {
                return false;
            }
            code.written(gpa, length);
            return true;
        }, actualBytes -> events.accept(new MachineEvent.BalloonChanged(actualBytes)), msg -> log.println("jvisor: " + msg));
        balloon = device;
        return device;
    }

    /** The virtio-balloon, if the machine has one. */
    public Optional<VirtioBalloon> balloon() {
        return Optional.ofNullable(balloon);
    }

    /** A virtio-rng on its backend, which it owns. */
    private VirtioRng virtioRng(MachineConfig.VirtioDeviceConfig.VirtioRng r) throws MachineException {
        EntropySource source = switch (r.backend()) {
            case MachineConfig.RngBackend.Builtin b -> new BuiltinEntropy();
            case MachineConfig.RngBackend.RandomFile f -> {
                try {
                    yield FileEntropy.open(f.file());
                } catch (IOException e) {
                    throw new MachineException("virtio-rng: " + e.getMessage(), e);
                }
            }
        };
        // the device owns its source and closes both (its own later looks at the queue first) with
        // its registry entry, before guest RAM is unmapped
        return new VirtioRng(source, r.maxBytes(), r.periodMillis(), System::nanoTime, msg -> log.println("jvisor: " + msg));
    }

    private NetBackend openNetdev(String id) throws MachineException {
        for (MachineConfig.NetdevConfig n : config.netdevs()) {
            if (n.id().equals(id)) {
                return openNetdev(n);
            }
        }
        throw new MachineException("-device virtio-net: no -netdev with id=" + id);
    }

    /** Opens {@code n} (a -netdev, or netdev_add's); its registry entry "netdev:ID" closes it. */
    private NetBackend openNetdev(MachineConfig.NetdevConfig n) throws MachineException {
        java.util.function.Consumer<String> netLog = msg -> log.println("jvisor: " + msg);
        try {
            NetBackend backend = switch (n) {
                case MachineConfig.NetdevConfig.Tap t -> TapBackend.open(t.id(), t.ifname(), VirtioNet.HDR_SIZE, netLog);
                case MachineConfig.NetdevConfig.TapFd t -> openTapFd(t, netLog);
                case MachineConfig.NetdevConfig.Stream st -> StreamNetBackend.open("-netdev stream,id=" + st.id(),
                    st.server(), switch (st.address()) {
                        case MachineConfig.StreamAddress.Unix u -> new StreamNetBackend.Address.Unix(u.path());
                        case MachineConfig.StreamAddress.Inet i -> new StreamNetBackend.Address.Inet(i.host(), i.port());
                        case MachineConfig.StreamAddress.Fd f -> new StreamNetBackend.Address.Inherited(f.fd());
                    }, VirtioNet.HDR_SIZE, netLog);
                case MachineConfig.NetdevConfig.User u -> openPasst(u, netLog);
            };
            devices.add(MachineDevice.of(NETDEV + n.id(), null).onClose(backend::close));
            return backend;
        } catch (IOException e) {
            throw new MachineException(e.getMessage(), e);
        }
    }

    /**
     * QMP netdev_add: opens {@code n} while the machine runs, for a NIC device_add plugs next
     * (libvirt's attach-interface sends the two).
     *
     * @throws MachineException if the id is taken or the backend cannot be opened
     */
    public void addNetdev(MachineConfig.NetdevConfig n) throws MachineException {
        synchronized (hotplugLock) {
            if (devices.byId(NETDEV + n.id()).isPresent()) {
                if (n instanceof MachineConfig.NetdevConfig.TapFd t) {
                    closeDescriptors(t);   // handed over with the netdev: no one else closes them
                }
                throw new MachineException("Duplicate ID '" + n.id() + "' for netdev");   // QEMU's words
            }
            unusedNetdevs.put(n.id(), openNetdev(n));
        }
    }

    /** Whether netdev {@code id} is open (a -netdev, or one netdev_add opened and netdev_del did not close). */
    public boolean hasNetdev(String id) {
        return devices.byId(NETDEV + id).isPresent();
    }

    /**
     * QMP netdev_del: closes netdev {@code id}, which no NIC may use (device_del the NIC first,
     * as libvirt does).
     *
     * @throws MachineException if there is no such netdev, or a NIC uses it
     */
    public void removeNetdev(String id) throws MachineException {
        synchronized (hotplugLock) {
            java.util.Optional<MachineDevice> open = devices.byId(NETDEV + id);
            if (unusedNetdevs.remove(id) == null) {
                throw new MachineException(open.isPresent() ? "netdev '" + id + "' is in use by a NIC: device_del the NIC first"
                    : "Device '" + id + "' not found");
            }
            devices.remove(open.stream().toList());
        }
    }

    /**
     * -netdev tap,fd=N: the tap backend on descriptor N, which it now owns. jvisor has no
     * vhost-net: asked for without vhostforce (refused earlier), QEMU 7.2 warns and serves the
     * tap itself (net/tap.c net_init_tap_one), and so does jvisor; a passed vhostfd is closed.
     */
    private static NetBackend openTapFd(MachineConfig.NetdevConfig.TapFd t, java.util.function.Consumer<String> log)
            throws IOException {
        String what = "-netdev tap,id=" + t.id() + ",fd=" + t.fd();
        if (t.vhostFd() >= 0) {
            closeDescriptor(t.vhostFd());
        }
        if (t.vhost()) {
            log.accept("warning: " + what + ": vhost-net requested but could not be initialized (jvisor has none; its"
                + " virtio-net serves the tap)");
        }
        org.jvisor.sys.Fd fd;
        try {
            fd = org.jvisor.sys.Fd.inherit(t.fd(), what);
        } catch (org.jvisor.sys.SysException e) {
            // QEMU 7.2's words (net/tap.c): "NAME: Can't use file descriptor N: Bad file descriptor"
            throw new IOException(what + ": " + t.id() + ": Can't use file descriptor " + t.fd() + ": " + e.errno().description(), e);
        }
        return TapBackend.adopt(t.id(), fd, VirtioNet.HDR_SIZE, log);
    }

    /** Closes the descriptors a -netdev tap,fd= handed over, when it is refused before its backend takes them. */
    private static void closeDescriptors(MachineConfig.NetdevConfig.TapFd t) {
        closeDescriptor(t.fd());
        if (t.vhostFd() >= 0) {
            closeDescriptor(t.vhostFd());
        }
    }

    private static void closeDescriptor(int fd) {
        try {
            org.jvisor.sys.Fd.inherit(fd, "passed descriptor").close();
        } catch (org.jvisor.sys.SysException e) {
            // not open: nothing to close
        }
    }

    /** -netdev user: passt started and connected; closing the backend closes the connection, then ends passt. */
    private static NetBackend openPasst(MachineConfig.NetdevConfig.User u, java.util.function.Consumer<String> log)
            throws IOException {
        String what = "-netdev user,id=" + u.id();
        // passt's -4 and -6 turn the other protocol off
        List<String> options = !u.ipv6() ? List.of("-4") : !u.ipv4() ? List.of("-6") : List.of();
        Passt passt = Passt.start(what, u.hostForwards().stream()
            .map(f -> new Passt.Forward(f.udp(), f.hostAddress(), f.hostPort(), f.guestPort())).toList(), options);
        StreamNetBackend stream;
        try {
            stream = StreamNetBackend.connected(what + " (passt)", passt.connect(), VirtioNet.HDR_SIZE, log);
        } catch (IOException | RuntimeException e) {
            passt.close();
            throw e;
        }
        return new PasstNetBackend(stream, passt);
    }

    /** The registry id of an open netdev is this and its id (while open, its id is taken). */
    private static final String NETDEV = "netdev:";
    /** The -netdevs no NIC uses, open (as QEMU's), by id: a NIC device_add plugs takes one. */
    private final Map<String, NetBackend> unusedNetdevs = new java.util.concurrent.ConcurrentHashMap<>();

    /** As QEMU: a -netdev no NIC uses is opened all the same (its tap exists), with a warning. */
    private void openUnusedNetdevs() throws MachineException {
        for (MachineConfig.NetdevConfig n : config.netdevs()) {
            if (config.virtioDevices().stream().noneMatch(d -> d instanceof MachineConfig.VirtioDeviceConfig.VirtioNet v
                && v.netdevId().equals(n.id()))) {
                log.println("jvisor: warning: netdev " + n.id() + " has no peer");
                unusedNetdevs.put(n.id(), openNetdev(n.id()));   // device_add may give it a NIC
            }
        }
    }

    /**
     * A virtio device on PCI in the next free slot, its queues processed on an I/O thread of its
     * own; its id is {@code name@pci.0:SS.0}. The function has no reset of its own: the bus's
     * reset resets it.
     */
    /** The PCI slots of the virtio-blk disks, in command-line order (firmware's boot order). */
    private final List<Integer> virtioDiskSlots = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The firmware paths of the IDE disks (not CD-ROMs), by index. */
    private final List<String> ideDiskPaths = new ArrayList<>();

    /** The disks in the order firmware boots them: IDE (SeaBIOS probes ATA first), then virtio-blk. */
    private List<String> bootDisks() {
        List<String> paths = new ArrayList<>(ideDiskPaths);
        for (int slot : virtioDiskSlots) {
            paths.add(FirmwareConfig.virtioDiskPath(slot));
        }
        return paths;
    }

    /**
     * The ATA disk or ATAPI CD-ROM of {@code c} on its drive, counting into the drive's statistics;
     * a CD-ROM's medium is its {@link CdromSlot}'s, which the host changes ({@link #cdrom}), and the
     * guest moving its tray posts {@link MachineEvent.TrayMoved}.
     */
    private IdeDrive ideDrive(MachineConfig.IdeDriveConfig c, Consumer<String> warn) throws MachineException {
        boolean cd = c.media() == MachineConfig.IdeDriveConfig.Media.CDROM;
        BlockBackend backend = openDrive(c.driveId(), cd);
        BlockStats stats = drives.getLast().stats();
        if (!cd) {
            return new AtaDisk(backend, c.index() + 1, warn, stats);
        }
        AtapiCdrom drive = new AtapiCdrom(backend, c.index() + 1, warn, stats);
        CdromSlot slot = new CdromSlot(c.driveId(), drive, warn, (d, size, format) -> replaceDrive(d, size, format));
        cdroms.put(c.driveId(), slot);
        drive.onTrayMoved(open -> events.accept(new MachineEvent.TrayMoved(c.driveId(), open)));
        devices.add(MachineDevice.of("medium:" + c.driveId(), null).onClose(slot::close));
        return drive;
    }

    /** A CD-ROM's medium changed: its entry among the drives follows (statistics kept). */
    private void replaceDrive(MachineConfig.DriveConfig d, long size, String format) {
        synchronized (drives) {
            for (int i = 0; i < drives.size(); i++) {
                AttachedDrive a = drives.get(i);
                if (a.config().id().equals(d.id())) {
                    drives.set(i, new AttachedDrive(d, size, format, a.stats()));
                }
            }
        }
    }

    /** The CD-ROM drive of -drive id {@code driveId}, if it is one. */
    public Optional<CdromSlot> cdrom(String driveId) {
        return Optional.ofNullable(cdroms.get(driveId));
    }

    /**
     * QEMU's pc IDE: the PIIX3 at 00:01 (ISA bridge function 0, IDE function 1) with the drives of
     * -hda..-hdd, -cdrom and -drive if=ide on its legacy channels (IRQ 14 and 15). Present only
     * when a drive is given, so that machines without one keep their PCI addresses.
     */
    private void wireIde() throws MachineException {
        DmaSpace dma = busMasterDma();
        Piix3Ide ide = new Piix3Ide(platform.irq(Piix3Ide.PRIMARY.irq()), platform.irq(Piix3Ide.SECONDARY.irq()), dma);
        List<MachineConfig.IdeDriveConfig> byIndex = new ArrayList<>(config.ideDrives());
        byIndex.sort(java.util.Comparator.comparingInt(MachineConfig.IdeDriveConfig::index));
        for (MachineConfig.IdeDriveConfig c : byIndex) {
            IdeDrive drive = ideDrive(c, msg -> log.println("jvisor: " + msg));
            ide.channel(c.channel()).attach(c.unit(), drive);
            if (c.media() == MachineConfig.IdeDriveConfig.Media.DISK) {
                ideDiskPaths.add(FirmwareConfig.ideDrivePath(IDE_SLOT, c.channel(), c.unit()));
            }
        }
        Piix3IsaBridge isa = new Piix3IsaBridge();
        platform.addPci(isa, IDE_SLOT, 0);
        platform.addPci(ide, IDE_SLOT, 1);
        bindRequester(dma, IDE_SLOT << 3 | 1);
        ide.registerLegacyPorts(io);
        devices.add(MachineDevice.of(String.format("piix3@pci.0:%02x.0", IDE_SLOT), isa));
        devices.add(MachineDevice.of(String.format("piix3-ide@pci.0:%02x.1", IDE_SLOT), ide));
    }

    /**
     * QEMU's q35 slot 0x1f: the ICH9 LPC bridge at 00:1f.0 and the SATA, an ICH9 AHCI at 00:1f.2
     * with the drives of -hda..-hdd, -cdrom and -drive if=ide on ports 0-5 (QEMU's buses
     * ide.0-ide.5). The AHCI is present only when a drive is given, as the PIIX3 IDE on pc, so
     * that machines without one keep their PCI addresses; the LPC bridge with it, and always when
     * firmware boots, which finds the PM block through it.
     */
    private void wireIch9() throws MachineException {
        Ich9LpcBridge lpc = loader.firmware() != null ? Ich9LpcBridge.withPmBase(AcpiPm.PORT_BASE) : new Ich9LpcBridge();
        platform.addPci(lpc, ICH9_SLOT, 0);
        devices.add(MachineDevice.of(String.format("ich9-lpc@pci.0:%02x.0", ICH9_SLOT), lpc));
        if (config.ideDrives().isEmpty()) {
            return;
        }
        Consumer<String> warn = msg -> log.println("jvisor: " + msg);
        DmaSpace dma = busMasterDma();
        Ich9Ahci ahci = new Ich9Ahci("ahci0", dma, warn);
        List<MachineConfig.IdeDriveConfig> byIndex = new ArrayList<>(config.ideDrives());
        byIndex.sort(java.util.Comparator.comparingInt(MachineConfig.IdeDriveConfig::index));
        for (MachineConfig.IdeDriveConfig c : byIndex) {
            ahci.attach(c.index(), ideDrive(c, warn));
            if (c.media() == MachineConfig.IdeDriveConfig.Media.DISK) {
                ideDiskPaths.add(FirmwareConfig.sataDrivePath(ICH9_SLOT, ICH9_AHCI_FUNCTION, c.index()));
            }
        }
        platform.addPci(ahci, ICH9_SLOT, ICH9_AHCI_FUNCTION);
        bindRequester(dma, ICH9_SLOT << 3 | ICH9_AHCI_FUNCTION);
        devices.add(MachineDevice.of(String.format("ich9-ahci@pci.0:%02x.%d", ICH9_SLOT, ICH9_AHCI_FUNCTION), ahci));
    }

    /** -device ahci: a further ICH9 AHCI at its addr= slot or the first free one, with its drives. */
    private void wireExtraAhci(MachineConfig.AhciConfig c, int n) throws MachineException {
        Consumer<String> warn = msg -> log.println("jvisor: " + msg);
        String name = c.id() != null ? c.id() : "ahci" + n;
        DmaSpace dma = busMasterDma();
        Ich9Ahci ahci = new Ich9Ahci(name, dma, warn);
        for (MachineConfig.IdeDriveConfig d : c.drives()) {
            ahci.attach(d.index(), ideDrive(d, warn));
        }
        int slot;
        try {
            slot = c.slot() != null ? platform.addPci(ahci, c.slot()) : platform.addPci(ahci);
        } catch (IllegalArgumentException e) {
            throw new MachineException("-device ahci" + (c.id() != null ? ",id=" + c.id() : "") + ": " + e.getMessage());
        }
        bindRequester(dma, slot << 3);
        devices.add(MachineDevice.of(String.format("%s@pci.0:%02x.0", name, slot), ahci));
    }

    /** Plugs a virtio-pci function; returns its slot on the root bus, -1 behind a root port. */
    private int virtioPci(VirtioDevice device, String name, String thread, String iothread, boolean ioeventfd, boolean irqfd,
                          Integer wantedSlot, String bus, String qemuName, MachineConfig.PciDmaConfig dma)
            throws MachineException {
        if (dma.iommuPlatform() && device instanceof VhostUserDevice) {
            // its backend reads the rings by the guest's addresses, which behind an IOMMU only IOTLB messages translate
            throw new MachineException("-device " + qemuName + ",iommu_platform=on: jvisor's vhost-user sends no IOTLB "
                + "messages, so the backend could not translate the guest's IOVAs");
        }
        VirtioPciFunction fn = new VirtioPciFunction(device, deviceDma());
        IommuDma translated = null;
        if (dma.iommuPlatform()) {
            // Without an IOMMU the feature is offered all the same, with untranslated DMA (as QEMU does).
            translated = iommu != null ? iommu.unboundDma() : null;
            fn.transport().core().offerAccessPlatform(translated != null ? translated : deviceDma());
        }
        if (dma.ats()) {
            // The ATS capability at 0x100 of a PCI Express function: QEMU 7.2 adds it only behind a
            // PCIe port; jvisor has the root bus only, so the function is a Root Complex Integrated
            // Endpoint there (which Linux lets use ATS). Its device-TLB is its IOMMU view's.
            IommuDma view = translated;
            fn.addAts(view != null ? view::atsControl : (enabled, stu) -> { });
        }
        VirtioIoThread io = processOn(fn.transport().core(), thread, iothread);
        if (ioeventfd) {
            accel.doorbells().ifPresent(fn::useDoorbells);
        }
        if (bus != null) {
            // behind a root port (q35 only, no IOMMU or ATS: the command line made sure)
            try {
                platform.addPci(rootPorts.get(bus), fn);
            } catch (IllegalArgumentException e) {
                io.close();
                throw new MachineException("-device " + qemuName + ",bus=" + bus + ": " + e.getMessage());
            }
            devices.add(virtioDevice(name + "@" + bus + ":00.0", fn, fn.transport().core(), io));
            return -1;
        }
        int slot;
        try {
            slot = wantedSlot == null ? platform.addPci(fn) : platform.addPci(fn, wantedSlot);
        } catch (IllegalArgumentException e) {
            io.close();
            throw new MachineException("-device " + qemuName + ",addr=" + String.format("0x%x", wantedSlot) + ": "
                + e.getMessage());
        } catch (RuntimeException e) {
            io.close();
            throw e;
        }
        if (translated != null) {
            translated.bind(slot << 3);   // bus 0, function 0
        }
        if (device instanceof VirtioBlk) {
            virtioDiskSlots.add(slot);
        }
        String id = String.format("%s@pci.0:%02x.0", name, slot);
        devices.add(virtioDevice(id, fn, fn.transport().core(), io));
        if (device instanceof VhostUserDevice v) {
            // On kvm the backend's call eventfds become irqfds of the queues' MSI-X vectors (the
            // MSIs reach KVM's irqchip unremapped: intremap=on is refused with it). Registered
            // after the function and its backend, so they are unbound first, before the
            // device closes the eventfds.
            if (irqfd) {
                accel.msiIrqfds().ifPresent(fn::useIrqfds);
                devices.add(MachineDevice.of(id + " irqfds", null).onClose(fn::releaseIrqfds));
            }
            vhostUserDevices.put(id, new VhostUserPci(v, fn));
        }
        return slot;
    }

    // ---- hot-plug: QMP device_add and device_del ---------------------------------------------------

    /** A device device_add plugged, by id: where it is and what its removal undoes. */
    private record Plugged(String id, List<MachineDevice> entries, PcieRootPort port, int slot, Runnable forget) {
    }

    private final Object hotplugLock = new Object();
    /** The devices device_add plugged that have an id, by id (what device_del can take out). */
    private final Map<String, Plugged> plugged = new HashMap<>();

    /**
     * QMP device_add: builds {@code d} as -device would and plugs it into the running machine,
     * behind a pcie-root-port on q35 (ACPI PCI hot-plug of the port's bus tells the guest's acpiphp,
     * QEMU 7.2's default; with acpi-pci-hotplug-with-bridge-support=off, or for a guest without
     * ACPI, the port's slot tells its pciehp: PCIe base spec 6.7) or in a free slot of pc's root bus
     * (ACPI PCI hot-plug tells the guest's acpiphp). The guest then finds the function, places its
     * BARs and binds its driver.
     *
     * @throws MachineException with QEMU's words where QEMU has them, naming what is wrong
     */
    public void hotplug(HotplugDevice d) throws MachineException {
        String what = d.typeName() + (d.id() != null ? ",id=" + d.id() : "");
        synchronized (hotplugLock) {
            if (d.id() != null && plugged.containsKey(d.id())) {
                throw new MachineException("Duplicate device ID '" + d.id() + "'");
            }
            if (!config.machineType().hasPci()) {
                throw new MachineException("No 'PCI' bus found for device '" + d.typeName() + "'");   // QEMU's words
            }
            PcieRootPort port = null;
            if (d.bus() != null) {
                port = rootPorts.get(d.bus());
                if (port == null) {
                    throw new MachineException("Bus '" + d.bus() + "' not found");
                }
                if (!port.hotplugCapable()) {
                    throw new MachineException("Bus '" + d.bus() + "' does not support hotplugging");   // QEMU's words
                }
                if (!rootPortBsels.containsKey(port)) {
                    // native: the slot's own checks (QEMU's pcie_cap_slot_pre_plug_cb); through
                    // ACPI QEMU 7.2 asks nothing of the slot's registers (acpi_pcihp_device_pre_plug_cb)
                    try {
                        port.checkHotPlug();
                    } catch (IllegalStateException e) {
                        throw new MachineException(e.getMessage(), e);
                    }
                }
                if (!port.downstreamFunctions().isEmpty()) {
                    throw new MachineException("PCI: slot 0 function 0 not available for " + d.typeName() + ", in use by "
                        + port.downstreamFunctions().getFirst().label());   // QEMU's words
                }
            } else if (platform.acpiPciHotplug() != null && d.slot() != null && !platform.acpiPciHotplug().hotpluggable(d.slot())) {
                throw new MachineException(String.format("PCI: slot %d function 0 not available for %s", d.slot(), d.typeName()));
            } else if (platform.acpiPciHotplug() == null) {
                throw new MachineException("Bus '" + (config.machineType() == MachineConfig.MachineType.Q35 ? "pcie.0" : "pci.0")
                    + "' does not support hotplugging" + (config.machineType() == MachineConfig.MachineType.Q35
                    ? " (on q35, plug devices into a pcie-root-port: bus=ID)" : ""));
            }
            int mark = devices.size();
            Runnable forget = () -> { };
            int slot;
            try {
                MachineConfig.VirtioDeviceConfig device = d.device();
                VirtioDevice model;
                switch (device) {
                    case MachineConfig.VirtioDeviceConfig.VirtioBlk b -> {
                        if (d.drive() == null) {
                            throw new MachineException("Property 'drive' can't find value '" + b.driveId() + "'");
                        }
                        model = virtioBlk(openDrive(d.drive(), false), b.driveId());
                        forget = forgetLastDrive();
                    }
                    case MachineConfig.VirtioDeviceConfig.VirtioNet net -> {
                        NetBackend backend = unusedNetdevs.remove(net.netdevId());
                        if (backend == null) {
                            throw new MachineException("Property 'netdev' can't find value '" + net.netdevId()
                                + "' (a NIC device_add plugs takes a -netdev no other NIC uses)");
                        }
                        model = virtioNet(backend, net);
                        forget = () -> unusedNetdevs.put(net.netdevId(), backend);   // the netdev outlives its NIC, as QEMU's
                    }
                    case MachineConfig.VirtioDeviceConfig.VirtioRng r -> model = virtioRng(r);
                    default -> throw new MachineException(what + ": jvisor does not hot-plug this device");
                }
                DeviceName name = nextName(device);
                slot = virtioPci(model, name.name(), name.thread(), null, device.ioeventfd(), device.irqfd(), d.slot(), d.bus(),
                    d.typeName(), new MachineConfig.PciDmaConfig(false, false));
            } catch (MachineException | RuntimeException e) {
                devices.remove(devices.since(mark));
                forget.run();
                throw e instanceof MachineException m ? m : new MachineException(what + ": " + e.getMessage(), e);
            }
            List<MachineDevice> entries = devices.since(mark);
            for (MachineDevice e : entries) {
                e.start().run();
            }
            if (d.id() != null) {
                plugged.put(d.id(), new Plugged(d.id(), entries, port, slot, forget));
            }
            if (port != null && rootPortBsels.containsKey(port)) {
                // QEMU 7.2's acpi_pcihp_device_plug_cb: the port's slot powered on, then the bus's up bit and GPE
                port.enableSlotPower();
                platform.acpiRootPortHotplug().plugged(rootPortBsels.get(port), AcpiPciHotplug.ROOT_PORT_SLOT);
            } else if (port != null) {
                port.hotPlugged();
            } else {
                platform.acpiPciHotplug().plugged(slot);
            }
        }
    }

    /**
     * A PCI device of the command line with an id, which device_del may take out as it does a
     * hot-plugged one: its registry entries from {@code mark} on (the device, its I/O thread, its
     * image), less a NIC's netdev, which stays open for another NIC (as QEMU's netdev outlives its
     * NIC).
     */
    private void coldPlugged(String id, int mark, MachineConfig.VirtioDeviceConfig device, VirtioDevice model, String bus,
                             int slot) {
        List<MachineDevice> entries = new ArrayList<>(devices.since(mark));
        Runnable forget = () -> { };
        if (device instanceof MachineConfig.VirtioDeviceConfig.VirtioNet n && model instanceof VirtioNet net) {
            entries.removeIf(e -> e.id().equals(NETDEV + n.netdevId()));
            forget = () -> unusedNetdevs.put(n.netdevId(), net.backend());
        }
        if (model instanceof VirtioBlk) {
            forget = forgetLastDrive();
        }
        synchronized (hotplugLock) {
            plugged.put(id, new Plugged(id, List.copyOf(entries), bus != null ? rootPorts.get(bus) : null, slot, forget));
        }
    }

    /**
     * QMP device_del: asks the guest to let go of device {@code id} (the slot's attention button,
     * or ACPI's eject request). Once the guest has (it powers the slot off, or runs _EJ0), the
     * device is taken out and closed and a {@link MachineEvent.DeviceDeleted} follows; a guest that
     * never answers keeps it, as on QEMU.
     *
     * @throws MachineException if {@code id} is not a PCI device with that id, or its unplug is under way
     */
    public void unplug(String id) throws MachineException {
        synchronized (hotplugLock) {
            Plugged p = plugged.get(id);
            if (p == null) {
                throw new MachineException("Device '" + id + "' is not a PCI device jvisor can unplug (virtio-*-pci "
                    + "on the pc machine's root bus or behind a q35 pcie-root-port)");
            }
            Integer bsel = p.port() != null ? rootPortBsels.get(p.port()) : null;
            boolean pending = bsel != null ? platform.acpiRootPortHotplug().unplugPending(bsel, AcpiPciHotplug.ROOT_PORT_SLOT)
                : p.port() != null ? p.port().unplugPending() : platform.acpiPciHotplug().unplugPending(p.slot());
            if (pending) {
                throw new MachineException("Device '" + id + "' is already in the process of unplug");   // QEMU's words
            }
            try {
                if (bsel != null) {
                    platform.acpiRootPortHotplug().requestUnplug(bsel, AcpiPciHotplug.ROOT_PORT_SLOT, () -> unplugged(id));
                } else if (p.port() != null) {
                    p.port().requestUnplug(() -> unplugged(id));
                } else {
                    platform.acpiPciHotplug().requestUnplug(p.slot(), () -> unplugged(id));
                }
            } catch (IllegalStateException e) {
                // the slot refuses (locked, the guest busy with it): say why, as QEMU's pcie_cap_slot_unplug_request_cb
                throw new MachineException("Device '" + id + "': " + e.getMessage(), e);
            }
        }
    }

    /**
     * The guest let go of device {@code id} (asked by device_del or not): it leaves the bus at
     * once (on the vCPU thread whose write powered the slot off or ejected it); its threads and
     * backends close on a thread of their own, then DEVICE_DELETED.
     */
    private void unplugged(String id) {
        Plugged p;
        synchronized (hotplugLock) {
            p = plugged.remove(id);
        }
        if (p == null) {
            return;
        }
        if (p.port() != null) {
            platform.removePci(p.port());
        } else {
            platform.removePci(p.slot());
        }
        Thread.ofVirtual().name("jvisor-unplug-" + id).start(() -> {
            devices.remove(p.entries());
            for (MachineDevice e : p.entries()) {
                virtioCores.remove(e.id());
            }
            p.forget().run();
            if (p.slot() >= 0) {
                virtioDiskSlots.remove(Integer.valueOf(p.slot()));
            }
            events.accept(new MachineEvent.DeviceDeleted(id));
        });
    }

    /**
     * The guest ejected a slot nobody asked it to (ACPI {@code _EJ0}; Linux: {@code echo 0 >
     * /sys/bus/pci/slots/N/power}): as QEMU 7.2's acpi_pcihp_eject_slot, the device there leaves
     * as after device_del, DEVICE_DELETED and all. On the vCPU thread that wrote B0EJ.
     *
     * @param bsel the root port's BSEL (q35), or null for pc's root bus
     * @param slot the slot of that bus
     */
    private void guestEjected(Integer bsel, int slot) {
        String id = null;
        synchronized (hotplugLock) {
            for (Plugged p : plugged.values()) {
                boolean here = bsel != null ? p.port() != null && bsel.equals(rootPortBsels.get(p.port()))
                    : p.port() == null && p.slot() == slot;
                if (here) {
                    id = p.id();
                    break;
                }
            }
        }
        // Nothing for an empty slot. A device without an id stays: unlike QEMU, which names it by
        // its /machine/peripheral-anon path, jvisor's DEVICE_DELETED carries an id only.
        if (id != null) {
            unplugged(id);
        }
    }

    /** Devices of each model so far ("virtio-blk" → 2): the next one's name ends in that number. */
    private final Map<String, Integer> perModel = new HashMap<>();
    /** As QEMU, only NICs without mac= count up from 52:54:00:12:34:56. */
    private int defaultMacs;

    /** The root ports by id (pcie-root-port,id=ID is the bus ID of the devices behind it). */
    private final Map<String, PcieRootPort> rootPorts = new HashMap<>();
    /**
     * The BSEL of each root port that hot-plugs through ACPI ({@link PcPlatform#acpiRootPortHotplug}):
     * empty when the ports hot-plug natively (or there is no ACPI: a test guest).
     */
    private final Map<PcieRootPort, Integer> rootPortBsels = new HashMap<>();

    /** A PCI Express root port on the root bus (q35), at the slot and function given or the first free slot. */
    private WiredRootPort wireRootPort(MachineConfig.PcieRootPortConfig c) throws MachineException {
        PcieRootPort port = new PcieRootPort(c.port(), c.physicalSlot(), c.multifunction(), c.hotplug());
        int slot;
        try {
            if (c.slot() == null) {
                slot = platform.addPci(port);
            } else {
                platform.addPci(port, c.slot(), c.function());
                slot = c.slot();
            }
        } catch (IllegalArgumentException e) {
            throw new MachineException("-device pcie-root-port" + (c.id() != null ? ",id=" + c.id() : "") + ": " + e.getMessage());
        }
        if (c.id() != null) {
            rootPorts.put(c.id(), port);
        }
        devices.add(MachineDevice.of(String.format("pcie-root-port@pci.0:%02x.%d", slot, c.function()), port));
        return new WiredRootPort(port, slot << 3 | c.function());
    }

    /** A root port on bus 0 at {@code devfn}. */
    private record WiredRootPort(PcieRootPort port, int devfn) {
    }

    /** A virtio device on a virtio-mmio window (microvm), its queues processed on an I/O thread of its own. */
    private void virtioMmio(VirtioDevice device, String id, String thread, String iothread, VirtioMmioSlot slot,
                            boolean ioeventfd) throws MachineException {
        VirtioMmioTransport transport = new VirtioMmioTransport(device, deviceDma(),
            platform.gsi(slot.gsi()), msg -> log.println("jvisor: " + thread + ": " + msg));
        VirtioIoThread io = processOn(transport.core(), thread, iothread);
        devices.add(virtioDevice(id, transport, transport.core(), io).onReset(transport::reset));
        mmio.register(thread + " (virtio-mmio)", slot.base(), VirtioMmioTransport.WINDOW_SIZE, transport);
        if (ioeventfd) {
            accel.doorbells().ifPresent(d -> transport.useDoorbells(d, slot.base()));
        }
    }

    /**
     * The registry entry of a virtio device. Start: a console takes host input, and queues in
     * use are looked at once (after a restore, buffers notified before the save). Close: whatever
     * could hold the I/O thread lets go first (a console port's reader waiting for guest buffers,
     * its chardev that the thread may be writing to), then the thread stops.
     */
    private MachineDevice virtioDevice(String id, StatefulDevice<?> state, VirtioCore core, VirtioIoThread io) {
        virtioCores.put(id, core);
        return MachineDevice.of(id, state)
            .onStart(() -> {
                if (core.device() instanceof VirtioConsole c) {
                    c.start();
                }
                core.kickActiveQueues();
            })
            .onClose(() -> {
                if (core.device() instanceof VirtioConsole c) {
                    c.close();
                    c.backends().forEach(CharBackend::close);
                } else if (core.device() instanceof AutoCloseable c) {
                    closeDevice(id, c);     // its own timers (virtio-rng, the balloon) and what it owns
                }
                io.close();
            });
    }

    private void closeDevice(String id, AutoCloseable device) {
        try {
            device.close();
        } catch (Exception e) {
            log.println("jvisor: " + id + ": closing it failed: " + e.getMessage());
        }
    }

    /** Guest RAM as a device's DMA sees it; on tcg, device writes into code pages drop decoded code. */
    /**
     * -device intel-iommu: intremap follows QEMU's auto (on with emulated interrupt controllers,
     * off with kvm's in-kernel irqchip), and is refused on kvm when asked for, with QEMU's words.
     */
    private IntelIommu buildIommu(MachineConfig.IommuConfig c) throws MachineException {
        if (config.machineType() != MachineConfig.MachineType.Q35) {
            throw new MachineException("-device intel-iommu: Parameter 'driver' expects a dynamic sysbus device type for "
                + "the machine (intel-iommu needs -M q35)");
        }
        boolean kernelIrqchip = accel.providesInterruptControllers();
        boolean intremap = c.intremap() == null ? !kernelIrqchip : c.intremap();
        if (intremap && kernelIrqchip) {
            throw new MachineException("-device intel-iommu,intremap=on: Interrupt Remapping cannot work with "
                + "kernel-irqchip=on, please use 'split|off'. (jvisor's kvm engine has the in-kernel irqchip only: "
                + "use -accel tcg, or intremap=off)");
        }
        if (c.eim() && !intremap) {
            throw new MachineException("-device intel-iommu,eim=on: eim=on cannot be selected without intremap=on");
        }
        VtdOptions o = new VtdOptions(intremap, c.cachingMode(), c.deviceIotlb(), c.awBits(), c.eim());
        IntelIommu unit = new IntelIommu(o, ram, deviceDma(), platform.rawMsi(), msg -> log.println("jvisor: " + msg));
        platform.attachIommu(mmio, unit, intremap);
        devices.add(MachineDevice.of("intel-iommu", unit).onReset(unit::reset));
        return unit;
    }

    /** The VT-d unit (-device intel-iommu), or null. */
    IntelIommu iommu() {
        return iommu;
    }

    /** What devices reach guest RAM through (no IOMMU): its writes mark the dirty log on every engine. */
    IdentityDma deviceDma() {
        return new IdentityDma(ram, TcgEngine.dmaListener(accel));
    }

    /**
     * The memory a bus-mastering PCI function (AHCI, IDE) reaches: with -device intel-iommu a view
     * through the VT-d unit for its requester id, as QEMU gives every PCI function its IOMMU's
     * address space (pci_device_iommu_address_space) and as the DMAR's DRHD, which lists every
     * function on bus 0, tells the guest; else guest RAM. {@link #bindRequester} once placed.
     * (virtio functions are the exception, as in QEMU: they bypass the unit unless they
     * negotiate VIRTIO_F_ACCESS_PLATFORM, see {@link #virtioPci}.)
     */
    private DmaSpace busMasterDma() {
        return iommu != null ? iommu.unboundDma() : deviceDma();
    }

    /** Gives a {@link #busMasterDma} view its requester id: bus 0, {@code devfn}. */
    private static void bindRequester(DmaSpace dma, int devfn) {
        if (dma instanceof IommuDma view) {
            view.bind(devfn);
        }
    }

    /**
     * The device's queues are processed on an I/O thread of its own (named {@code name}), or with
     * {@code iothread} on that -object iothread, shared and polling. Its registry entry closes the
     * thread: a shared one stops with the first of its devices to close, before any of their
     * backends closes.
     */
    private VirtioIoThread processOn(VirtioCore core, String name, String iothread) throws MachineException {
        if (iothread == null && core.device() instanceof VirtioBlk blk && blk.backend().synchronousOnPageCache()) {
            // samecore: a disk on the host's page cache serves the notify on the vCPU thread
            // (no thread hop per request); its thread takes what else comes (doorbells, restores)
            core.setProcessOnNotifyingThread(true);
        }
        if (iothread != null) {
            VirtioIoThread shared = sharedIoThreads.get(iothread);
            if (shared == null) {
                throw new MachineException("Property 'iothread' can't find value '" + iothread + "'");
            }
            shared.poll(core);
            return shared;
        }
        VirtioIoThread thread = new VirtioIoThread(name);
        ioThreads.add(thread);
        core.setExecutor(thread);
        return thread;
    }

    /** The -object iothread threads, in command-line order (QMP's query-iothreads). */
    public List<IoThreadInfo> ioThreadInfo() {
        List<IoThreadInfo> list = new ArrayList<>();
        for (MachineConfig.IoThreadConfig t : config.ioThreads()) {
            VirtioIoThread thread = sharedIoThreads.get(t.id());
            list.add(new IoThreadInfo(t, thread == null ? 0 : thread.hostThreadId()));
        }
        return list;
    }

    /** An -object iothread with the Linux id of its thread. */
    public record IoThreadInfo(MachineConfig.IoThreadConfig config, long hostThreadId) {
    }

    /** The engine: "kvm" or "tcg". */
    public String acceleratorName() {
        return accel.name();
    }

    /** Which engine -accel chose, and why, in one line. */
    public String acceleratorExplanation() {
        return accelExplanation;
    }

    /**
     * Loads the kernel, creates the vCPUs and starts their threads, which wait in {@link RunControl}
     * (paused) until {@link #resume}. Application processors wait for INIT/SIPI in the engine; only
     * the BSP gets a boot state.
     */
    private void prepareBoot() throws MachineException {
        X86State boot;
        try {
            boot = loader.load(ram);
        } catch (BootException e) {
            throw new MachineException(e.getMessage(), e);
        }
        if (config.debugLog().contains("boot") && loader.lastLinuxBoot() != null) {
            log.println("jvisor: " + loader.lastLinuxBoot().description().replace("\n", "\njvisor: "));
        }
        createVcpus();
        devices.start();
        runners.get(0).setPendingState(boot);
        for (VcpuRunner r : runners) {
            r.start();
        }
    }

    /**
     * Whether tcg's vCPUs offer x2APIC mode: with -cpu max or +x2apic, and with an IOMMU that
     * remaps to x2APIC destinations (eim=on), as on KVM.
     */
    private boolean x2apicOnTcg() {
        return config.cpu().x2apicOnTcg() || iommu != null && iommu.extendedInterruptMode();
    }

    /**
     * -cpu's model and flags applied to what the engine offers ({@link GuestCpuid}), for the vCPUs
     * to present and a restore to be checked against; a flag asked for that the engine lacks is a
     * warning on the log, as QEMU's (an error with enforce).
     */
    private void presentCpuModel() throws MachineException {
        MachineConfig.CpuConfig cpu = config.cpu();
        GuestCpuid.Result r;
        try {
            r = GuestCpuid.apply(accel.offeredCpuid(), cpu, accel.name());
        } catch (CpuModelException e) {
            String hint = CpuModel.named(cpu.model()) == CpuModel.HOST
                ? " (jvisor runs on " + accel.name() + ": " + accelExplanation + "; use -accel kvm where /dev/kvm is "
                    + "usable, or -cpu max for everything " + accel.name() + " offers)"
                : "";
            throw new MachineException("-cpu " + cpu.spec() + ": " + e.getMessage() + hint, e);
        }
        r.warnings().forEach(w -> log.println("jvisor: warning: " + w));
        accel.presentCpuid(r.cpuid());
    }

    /** The vCPUs and their runners, threads not started; each tcg vCPU bound to its local APIC. */
    private void createVcpus() {
        for (int i = 0; i < config.cpus(); i++) {
            ExitStats stats = new ExitStats(config.traceExits());
            if (platform.lapic(i) != null) {
                TcgEngine.attachLocalApic(accel, platform.lapic(i), platform.clock());
            }
            Vcpu v = accel.createVcpu(i, stats);
            if (platform.lapic(i) != null) {
                TcgEngine.bindInitAndStartup(v, platform.lapic(i));
            }
            int index = i;
            runners.add(new VcpuRunner(v, stats, control, events::accept, () -> platform.bindCurrentThread(index)));
        }
    }

    // ---- snapshots (MachineSnapshot does the work) ----------------------------------------

    /**
     * What a save wrote: the file's size, the RAM pages in it (zero pages are skipped), the time
     * it took, the passes over RAM, and when (System.nanoTime) its last byte was handed to the
     * endpoint, before the endpoint's commit (QEMU's downtime ends there: the destination's
     * confirmation and load are not in it).
     */
    public record SnapshotSaved(String uri, long fileBytes, long ramBytesWritten, long nanos, int passes, long sentAtNanos) {
    }

    /**
     * Saves the machine into {@code file} (a stop-the-world snapshot): the configuration, every
     * vCPU, every device and RAM. Call with the machine paused; it stays paused. The file appears
     * complete or not at all (written beside it, then renamed). Disk images are not copied: they
     * are the user's, as with QEMU and Firecracker.
     *
     * @param runState QEMU's name of the run state the save was asked in ("paused", "running"),
     *                 which a restore reports ({@link #incomingRunState()})
     */
    public SnapshotSaved saveSnapshot(MigrationEndpoint to, String runState) throws MachineException, InterruptedException {
        return saveSnapshot(to, runState, () -> false);
    }

    /** {@link #saveSnapshot(MigrationEndpoint, String)}, abandoned (nothing committed) once {@code cancelled} says so. */
    public SnapshotSaved saveSnapshot(MigrationEndpoint to, String runState, java.util.function.BooleanSupplier cancelled)
            throws MachineException, InterruptedException {
        if (awaitingIncoming) {
            throw new MachineException("a machine waiting for an incoming snapshot has nothing to save");
        }
        return new MachineSnapshot(this).save(to, runState, cancelled);
    }

    /** The downtime a live migration aims at unless told: QEMU's default downtime-limit, 300 ms. */
    public static final long DEFAULT_MIGRATION_DOWNTIME_MILLIS = 300;

    /** Whether a running machine can be migrated live: its engine logs the pages it writes (tcg's stores, KVM's dirty log). */
    public boolean logsDirtyPages() {
        return accel.logsDirtyPages();
    }

    /**
     * What a live migration needs from whoever owns the machine's run state (its lifecycle): the
     * migration runs on a thread of its own while commands go on being served.
     */
    public interface LiveMigrationControl {
        /** Runs {@code action} while no vCPU runs: the guest, if it runs, is paused for a moment around it. */
        void quiesce(Runnable action) throws InterruptedException;

        /**
         * Stops the guest for the end of the migration (the lifecycle's stop, with its STOP
         * event), each vCPU running {@code onStop} (by index) on itself as it stops; a guest that
         * was not running (stopped by a command meanwhile) or a cancelled migration runs none.
         */
        void stopGuest(Runnable[] onStop) throws InterruptedException;

        /** Whether the migration was cancelled (migrate_cancel): checked between page runs. */
        boolean cancelled();

        /** After each pass over RAM while the guest runs (query-migrate's figures). */
        void progress(MigrationProgress p);
    }

    /**
     * Sends the running machine to {@code to} live (pre-copy): RAM in passes while the guest
     * runs, then {@code control} stops it and the vCPUs, devices and last dirty pages follow.
     * The machine is left paused. Only engines whose stores log dirty pages (tcg).
     */
    public SnapshotSaved saveLive(MigrationEndpoint to, String runState, LiveMigrationControl control, long downtimeMillis)
            throws MachineException, InterruptedException {
        if (awaitingIncoming) {
            throw new MachineException("a machine waiting for an incoming snapshot has nothing to save");
        }
        return new MachineSnapshot(this).saveLive(to, runState, control, downtimeMillis);
    }

    /**
     * Restores a machine built by {@link #createIncoming} from {@code file} (QMP's
     * migrate-incoming): the configuration is checked first, then RAM, the devices and the vCPUs
     * are loaded, and the machine waits, paused. A failure leaves the machine unusable (partly
     * loaded): close it.
     */
    public void restore(MigrationEndpoint from) throws MachineException {
        if (!awaitingIncoming) {
            throw new MachineException("-incoming: only a machine built to wait for a snapshot can restore one");
        }
        awaitingIncoming = false; // one attempt: a failed one has overwritten part of the machine
        incomingRunState = new MachineSnapshot(this).restore(from);
    }

    /** The run state the snapshot was saved in ("running", "paused"), when this machine was restored from one; else null. */
    public String incomingRunState() {
        return incomingRunState;
    }

    /** Whether the machine was built to restore a snapshot and has not yet ({@link #createIncoming}). */
    public boolean awaitingIncoming() {
        return awaitingIncoming;
    }

    /** Where jvisor's own messages go. */
    PrintStream log() {
        return log;
    }

    MachineConfig config() {
        return config;
    }

    Accelerator accelerator() {
        return accel;
    }

    RunControl runControl() {
        return control;
    }

    List<VcpuRunner> runners() {
        return List.copyOf(runners);
    }

    List<VirtioIoThread> ioThreads() {
        return List.copyOf(ioThreads);
    }

    /** Creates the vCPUs and starts their threads, which wait, paused (a restore loads them on those threads). */
    void startVcpuThreads() {
        createVcpus();
        for (VcpuRunner r : runners) {
            r.start();
        }
    }

    /** The devices start: host input flows, queues saved in use are looked at again. */
    void startDevices() {
        devices.start();
    }

    /**
     * Builds the machine without booting it (QEMU's -incoming defer): devices wired, no kernel
     * loaded, no vCPU yet; {@link #restore} loads a snapshot into it.
     */
    public static Machine createIncoming(MachineConfig config, PrintStream log, Consumer<MachineEvent> events,
                                         UnitLibrary translations, ImagePool images)
            throws MachineException {
        return create(config, log, events, translations, images, Start.AWAIT_RESTORE, null);
    }

    /** Lets every vCPU run: the first time, the boot vCPU starts at the kernel's entry point. */
    public void resume() {
        resume(null);
    }

    /**
     * {@link #resume()}, but the vCPUs {@code hold} marks (by index; null: none) stay where they
     * are until the next resume: a debugger's single step of one vCPU (gdb's vCont;s:TID).
     */
    public void resume(boolean[] hold) {
        if (awaitingIncoming) {
            throw new IllegalStateException("the machine waits for an incoming snapshot");
        }
        if (hold == null) {
            control.resumeAll();
        } else {
            control.resumeAll(hold);
        }
        MigrationTrace t = incomingTrace;
        if (t != null) {
            incomingTrace = null;
            t.phase("until-resume");
            t.moment("resume");
            t.print();
        }
    }

    /** -trace migration: the restore's trace, ended by the first resume. */
    void incomingTrace(MigrationTrace trace) {
        incomingTrace = trace.on() ? trace : null;
    }

    /** The debugger's access to the vCPUs and guest memory (the gdbstub). */
    public MachineDebug debug() {
        return debug;
    }

    /** Stops every vCPU at an instruction boundary and waits until they all have. */
    public void pause() throws InterruptedException {
        pause(null);
    }

    /**
     * {@link #pause()}, each vCPU running {@code onStop} (by vCPU index) on its own thread as it
     * stops, before this returns: work that needs the vCPU stopped, with no wake-up of its thread
     * after the pause (a live migration's save of the vCPUs inside the guest's pause).
     */
    public void pause(Runnable[] onStop) throws InterruptedException {
        long start = System.nanoTime();
        if (onStop == null) {
            control.requestPause();
        } else {
            control.requestPause(onStop);
        }
        for (VcpuRunner r : runners) {
            r.vcpu().kick();
        }
        control.awaitAllIdle();
        lastPauseNanos = System.nanoTime() - start;
    }

    /** How long the last {@link #pause()} waited for the vCPUs (-trace migration). */
    long lastPauseNanos() {
        return lastPauseNanos;
    }

    /**
     * A system reset (RESET# on a PC): pauses every vCPU, resets the devices and the vCPUs to their
     * power-on state and reloads the kernel (RAM keeps its contents, as on a PC and in QEMU). The
     * vCPUs stay paused; {@link #resume} starts the new boot (APs wait for the new kernel's
     * INIT/SIPI).
     *
     * @throws MachineException if the kernel cannot be loaded again
     */
    public void systemReset() throws InterruptedException, MachineException {
        if (awaitingIncoming) {
            throw new MachineException("the machine waits for an incoming snapshot; it has nothing to reset yet");
        }
        pause();
        devices.reset();
        for (VcpuRunner r : runners) {
            r.requestReset();
        }
        if (runners.isEmpty()) {
            return;             // -machine none: no guest to boot again
        }
        try {
            runners.get(0).setPendingState(loader.load(ram));
        } catch (BootException e) {
            throw new MachineException("reset failed: " + e.getMessage(), e);
        }
    }

    /**
     * Keeps the kernel and initrd in memory for every later reset, read again now if they were let
     * go after the boot: for a process about to lose access to the files (-run-with).
     *
     * @throws MachineException if they cannot be read now
     */
    public void holdBootImages() throws MachineException {
        try {
            loader.hold();
        } catch (BootException e) {
            throw new MachineException(e.getMessage(), e);
        }
    }

    /**
     * Presses the ACPI power button (PWRBTN_STS, and the SCI if the guest enabled the event).
     * Returns false when the machine has no ACPI (a test guest without Linux).
     */
    public boolean pressPowerButton() {
        return platform.pressPowerButton();
    }

    /**
     * The human monitor's side of -serial mon:stdio (the console it shares with the serial port,
     * Ctrl-A c switching), if the serial port has one.
     */
    public Optional<CharBackend> monitorConsole() {
        return Optional.ofNullable(mux).map(MuxConsole::monitor);
    }

    /**
     * Each vCPU's registers, read on its own thread as the debugger reads them ({@link
     * MachineDebug#readState}); the machine must be paused (the caller holds a running guest for
     * the moment, as QEMU's cpu_synchronize_state does for "info registers").
     */
    public List<X86State> vcpuRegisters() throws InterruptedException {
        List<X86State> states = new ArrayList<>();
        for (int i = 0; i < runners.size(); i++) {
            states.add(debug.readState(i));
        }
        return states;
    }

    /** Copies {@code length} bytes of guest RAM at {@code gpa} into {@code into}; false if not all of it is RAM. */
    public boolean readPhysical(long gpa, byte[] into, int length) {
        if (gpa < 0 || !ram.isRam(gpa, length)) {
            return false;
        }
        ram.read(gpa, into, 0, length);
        return true;
    }

    /** The vCPUs and their host threads, by index. */
    public List<VcpuThread> vcpuThreads() {
        List<VcpuThread> list = new ArrayList<>(runners.size());
        for (VcpuRunner r : runners) {
            list.add(new VcpuThread(r.vcpu().index(), r.hostThreadId()));
        }
        return list;
    }

    /** A -chardev: its id and QEMU's description of where it goes ("unix:/p,server=on"...). */
    public record ChardevState(String id, String filename) {
    }

    /** The -chardev backends, in command-line order. */
    public List<ChardevState> chardevStates() {
        return chardevs.states();
    }

    /** The disks the devices use, in the order they were opened. */
    public List<AttachedDrive> drives() {
        synchronized (drives) {
            return List.copyOf(drives);
        }
    }

    /** Ends the vCPU threads and waits for them, interrupted or not: RAM must outlive them. */
    private void stopVcpus() {
        control.stop();
        for (VcpuRunner r : runners) {
            r.vcpu().kick();
        }
        for (VcpuRunner r : runners) {
            r.join();
        }
    }

    /** Guest RAM, for tests of this package that watch a guest's memory. */
    GuestMemory ram() {
        return ram;
    }

    /** Guest RAM's size and how much of it is resident in host memory now (call only before {@link #close}). */
    public long ramBytes() {
        return ram.size();
    }

    public long ramResidentBytes() {
        return ram.residentBytes();
    }

    public AddressSpace io() {
        return io;
    }

    public AddressSpace mmio() {
        return mmio;
    }

    /** The machine's devices, in the order every lifecycle loop takes them. */
    DeviceRegistry devices() {
        return devices;
    }

    /**
     * Stops the vCPU threads (waiting for them), prints the -trace exits and -d jit reports, then
     * closes the devices, backends (flushing disks), engine and RAM.
     */
    @Override
    public void close() {
        stopVcpus();
        if (config.traceExits() && !runners.isEmpty()) {
            log.print(ExitReport.format(runners, io, mmio));
            if (!virtioCores.isEmpty()) {   // notify writes: each is an exit unless a doorbell (kvm ioeventfd) took it
                // second column: of those, the ones served on the vCPU thread that wrote them (samecore)
                log.println("-- virtio queue notifications (written, served on the vCPU thread) --");
                virtioCores.forEach((id, core) -> log.printf("%-40s %10d %10d%n", id, core.driverNotifies(),
                    core.notifiesServedInline()));
            }
            if (!vhostUserDevices.isEmpty()) {   // the backend's completions: through jvisor (relayed) or the kernel (irqfd)
                log.println("-- vhost-user used-buffer interrupts (relayed by jvisor, irqfd bindings made) --");
                vhostUserDevices.forEach((id, d) -> log.printf("%-40s %10d %10d%n", id, d.device().relayedCalls(),
                    d.function().irqfdBindings()));
            }
            if (iommu != null) {   // what the guest asked of the VT-d unit (strict mode: an IOTLB invalidation per unmap)
                log.println("-- intel-iommu --");
                log.println(iommu.counters());
                log.print(iommu.deviceTlbReport());
            }
        }
        if (config.debugLog().contains("jit") && !runners.isEmpty()) {
            log.print(TcgEngine.jitReport(accel));
        }
        // Each device stops its I/O thread and lets go of its backends (a console its chardevs, a
        // disk flushes its image after its device's thread), last built first.
        devices.close();
        sharedIoThreads.values().forEach(VirtioIoThread::close);   // those no device used
        serialBackend.close();
        if (chardevs != null) {
            chardevs.close();
        }
        if (platform != null) {
            platform.close();
        }
        for (VcpuRunner r : runners) {
            r.vcpu().close();
        }
        accel.close();
        ram.close();
        loader.close();
    }
}
