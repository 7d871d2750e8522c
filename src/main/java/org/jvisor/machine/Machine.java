package org.jvisor.machine;

import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;

import org.jvisor.backend.chr.CharBackend;
import org.jvisor.backend.chr.EscapeFilter;
import org.jvisor.backend.chr.NullBackend;
import org.jvisor.backend.chr.StreamBackend;
import org.jvisor.boot.BootException;
import org.jvisor.cpu.Accelerator;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.Vcpu;
import org.jvisor.cpu.X86State;
import org.jvisor.devices.PlatformControl;
import org.jvisor.devices.legacy.IsaDebugExit;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.block.RawFileBackend;
import org.jvisor.devices.virtio.VirtioBlk;
import org.jvisor.devices.virtio.VirtioConsole;
import org.jvisor.devices.virtio.VirtioCore;
import org.jvisor.devices.virtio.VirtioDevice;
import org.jvisor.devices.virtio.VirtioIoThread;
import org.jvisor.devices.virtio.VirtioMmioTransport;
import org.jvisor.devices.virtio.VirtioPciFunction;
import org.jvisor.devices.virtio.VirtioNet;
import org.jvisor.devices.virtio.VirtioRng;
import org.jvisor.backend.net.MacAddress;
import org.jvisor.backend.net.NetBackend;
import org.jvisor.backend.net.TapBackend;
import org.jvisor.memory.IdentityDma;
import org.jvisor.devices.legacy.Serial16550;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;

/**
 * A PC built from a {@link MachineConfig}: RAM, the io and memory address spaces, the platform
 * devices, a CPU engine and one thread per vCPU. {@link #run()} boots it and returns jvisor's exit
 * status when the guest ends it.
 */
public final class Machine implements AutoCloseable {
    static final int COM1_BASE = 0x3F8;
    static final int COM1_IRQ = 4;
    private static final long MMIO_LIMIT = 1L << 52;

    private final MachineConfig config;
    private final PrintStream log;
    private final GuestMemory ram;
    private final AddressSpace io;
    private final AddressSpace mmio;
    private final Accelerator accel;
    private final String accelExplanation;
    private final CharBackend serialBackend;
    private Serial16550 com1;
    private PcPlatform platform;
    private final RunControl control;
    private final List<VcpuRunner> runners = new ArrayList<>();
    private final LinkedBlockingQueue<MachineEvent> events = new LinkedBlockingQueue<>();
    private final KernelLoader loader;
    private final List<VirtioIoThread> ioThreads = new ArrayList<>();
    private final List<VirtioMmioTransport> mmioTransports = new ArrayList<>();
    private final List<BlockBackend> blockBackends = new ArrayList<>();
    private final List<NetBackend> netBackends = new ArrayList<>();
    private int resets;
    private Chardevs chardevs;
    private final List<VirtioConsole> consoles = new ArrayList<>();

    private Machine(MachineConfig config, PrintStream log, GuestMemory ram, Accelerator accel, String explanation,
                    AddressSpace io, AddressSpace mmio, CharBackend serialBackend, KernelLoader loader) {
        this.config = config;
        this.log = log;
        this.ram = ram;
        this.io = io;
        this.mmio = mmio;
        this.accel = accel;
        this.accelExplanation = explanation;
        this.serialBackend = serialBackend;
        this.loader = loader;
        this.control = new RunControl(config.cpus());
    }

    /** Builds the machine; every problem with the configuration is a {@link MachineException}. */
    public static Machine create(MachineConfig config, PrintStream log) throws MachineException {
        KernelLoader loader;
        try {
            loader = KernelLoader.read(config);
        } catch (BootException e) {
            throw new MachineException(e.getMessage());
        }
        GuestMemory ram;
        try {
            ram = GuestMemory.allocate(config.memoryBytes());
        } catch (IllegalArgumentException e) {
            throw new MachineException("-m: " + e.getMessage());
        }
        AddressSpace io = new AddressSpace("io", 0x10000);
        AddressSpace mmio = new AddressSpace("memory", MMIO_LIMIT);
        MachineBus bus = new MachineBus(ram, io, mmio);
        AcceleratorChoice.Chosen chosen;
        try {
            chosen = AcceleratorChoice.open(config.accel(), bus, config.cpus(), config.jit());
        } catch (MachineException e) {
            ram.close();
            throw e;
        }
        CharBackend serial;
        var quit = new QuitLatch();
        Chardevs chardevs;
        try {
            chardevs = Chardevs.open(config.chardevs(), quit, msg -> log.println("jvisor: " + msg));
        } catch (MachineException e) {
            chosen.accelerator().close();
            ram.close();
            throw e;
        }
        try {
            serial = openSerial(config.serial(), quit, chardevs);
        } catch (IOException e) {
            chardevs.close();
            chosen.accelerator().close();
            ram.close();
            throw new MachineException("-serial: " + e.getMessage());
        }
        Machine m = new Machine(config, log, ram, chosen.accelerator(), chosen.explanation(), io, mmio, serial, loader);
        quit.machine = m;
        m.chardevs = chardevs;
        m.wireDevices();
        return m;
    }

    private static CharBackend openSerial(MachineConfig.SerialConfig cfg, EscapeFilter.Actions escapes, Chardevs chardevs)
            throws IOException, MachineException {
        return switch (cfg) {
            case MachineConfig.SerialConfig.Stdio s -> {
                OutputStream stdout = new FileOutputStream(FileDescriptor.out);
                yield new StreamBackend(stdout, System.in, new EscapeFilter(escapes, stdout));
            }
            case MachineConfig.SerialConfig.File f -> {
                OutputStream out = Files.newOutputStream(f.path());
                yield new StreamBackend(out, null);
            }
            case MachineConfig.SerialConfig.None n -> new NullBackend();
            case MachineConfig.SerialConfig.Chardev c -> chardevs.get(c.id());
        };
    }

    private void wireDevices() throws MachineException {
        PlatformControl platformControl = new PlatformControl() {
            @Override
            public void exit(int status, String reason) {
                events.add(new MachineEvent.Exit(status, reason));
            }

            @Override
            public void reset(String reason) {
                events.add(new MachineEvent.Reset(reason));
            }

            @Override
            public void powerOff(String reason) {
                events.add(new MachineEvent.PowerOff(reason));
            }
        };
        this.platform = new PcPlatform(accel, config.cpus(), io, mmio, ram, platformControl, loader.isLinux(),
            config.machineType() == MachineConfig.MachineType.PC ? PcPciLayout.forMemory(config.memoryBytes()) : null);
        this.com1 = new Serial16550(serialBackend, this.platform.irq(COM1_IRQ));
        io.register("serial0 (16550A)", COM1_BASE, 8, com1);
        int disks = 0;
        int mmioSlots = 0;
        int nics = 0;
        int defaultMacs = 0;    // as QEMU, only NICs without mac= count up from 52:54:00:12:34:56
        for (MachineConfig.VirtioDeviceConfig device : config.virtioDevices()) {
            VirtioDevice model = switch (device) {
                case MachineConfig.VirtioDeviceConfig.VirtioRng r -> new VirtioRng();
                case MachineConfig.VirtioDeviceConfig.VirtioBlk b -> new VirtioBlk(openDrive(b.driveId()), b.driveId());
                case MachineConfig.VirtioDeviceConfig.VirtioSerial v -> virtioSerial(v);
                case MachineConfig.VirtioDeviceConfig.VirtioNet n -> new VirtioNet(openNetdev(n.netdevId()),
                    n.mac() != null ? n.mac() : MacAddress.QEMU_DEFAULT.plus(defaultMacs++));
            };
            String thread = device instanceof MachineConfig.VirtioDeviceConfig.VirtioBlk ? "virtio-blk" + disks++
                : device instanceof MachineConfig.VirtioDeviceConfig.VirtioNet ? "virtio-net" + nics++
                : device.model();
            switch (device.transport()) {
                case PCI -> platform.addPci(virtioPci(model, thread, device.ioeventfd()));
                case MMIO -> {
                    try {
                        virtioMmio(model, thread, VirtioMmioSlot.of(mmioSlots++), device.ioeventfd());
                    } catch (IllegalArgumentException e) {
                        throw new MachineException("-device " + device.qemuName() + ": " + e.getMessage());
                    }
                }
            }
        }
        openUnusedNetdevs();
        try {
            platform.assignPciResources();
        } catch (RuntimeException e) {
            throw new MachineException("PCI: " + e.getMessage());
        }
        for (MachineConfig.DebugExitConfig d : config.debugExits()) {
            try {
                io.register("isa-debug-exit", d.iobase(), d.iosize(), new IsaDebugExit(platformControl));
            } catch (IllegalArgumentException e) {
                throw new MachineException("-device isa-debug-exit: " + e.getMessage());
            }
        }
    }

    /** Opens the raw image of -drive id=ID: missing, locked or too small images are refused here. */
    private BlockBackend openDrive(String id) throws MachineException {
        for (MachineConfig.DriveConfig d : config.drives()) {
            if (d.id().equals(id)) {
                try {
                    RawFileBackend backend = RawFileBackend.open(d.file(), d.readOnly(), CacheMode.parse(d.cache()),
                        msg -> log.println("jvisor: -drive " + d.file() + ": " + msg));
                    blockBackends.add(backend);
                    return backend;
                } catch (IOException | RuntimeException e) {
                    throw new MachineException("-drive file=" + d.file() + ": " + e.getMessage());
                }
            }
        }
        throw new MachineException("-device virtio-blk: no -drive with id=" + id);
    }

    /** -device virtio-serial-pci/-device with its virtconsole/virtserialport ports on their chardevs. */
    private VirtioConsole virtioSerial(MachineConfig.VirtioDeviceConfig.VirtioSerial v) throws MachineException {
        List<VirtioConsole.PortSpec> ports = new ArrayList<>();
        for (MachineConfig.VirtioSerialPortConfig p : v.ports()) {
            ports.add(new VirtioConsole.PortSpec(p.nr(), p.name(), p.console(), chardevs.get(p.chardev())));
        }
        VirtioConsole console = new VirtioConsole(v.maxPorts(), ports, msg -> log.println("jvisor: " + msg));
        consoles.add(console);
        return console;
    }

    /** Opens the tap of -netdev tap,id=ID: a bad name, no permission or a busy tap are refused here. */
    private NetBackend openNetdev(String id) throws MachineException {
        for (MachineConfig.NetdevConfig n : config.netdevs()) {
            if (n.id().equals(id)) {
                try {
                    TapBackend tap = TapBackend.open(n.id(), n.ifname(), VirtioNet.HDR_SIZE, msg -> log.println("jvisor: " + msg));
                    netBackends.add(tap);
                    return tap;
                } catch (IOException e) {
                    throw new MachineException(e.getMessage());
                }
            }
        }
        throw new MachineException("-device virtio-net: no -netdev with id=" + id);
    }

    /** As QEMU: a -netdev no NIC uses is opened all the same (its tap exists), with a warning. */
    private void openUnusedNetdevs() throws MachineException {
        for (MachineConfig.NetdevConfig n : config.netdevs()) {
            if (config.virtioDevices().stream().noneMatch(d -> d instanceof MachineConfig.VirtioDeviceConfig.VirtioNet v
                && v.netdevId().equals(n.id()))) {
                log.println("jvisor: warning: netdev " + n.id() + " has no peer");
                openNetdev(n.id());
            }
        }
    }

    /** A virtio device on PCI, its queues processed on an I/O thread of its own. */
    private VirtioPciFunction virtioPci(VirtioDevice device, String name, boolean ioeventfd) {
        VirtioPciFunction fn = new VirtioPciFunction(device, deviceDma());
        processOnOwnThread(fn.transport().core(), name);
        if (ioeventfd) {
            accel.doorbells().ifPresent(fn::useDoorbells);
        }
        return fn;
    }

    /** A virtio device on a virtio-mmio window (microvm), its queues processed on an I/O thread of its own. */
    private void virtioMmio(VirtioDevice device, String name, VirtioMmioSlot slot, boolean ioeventfd) {
        VirtioMmioTransport transport = new VirtioMmioTransport(device, deviceDma(),
            platform.gsi(slot.gsi()), msg -> log.println("jvisor: " + name + ": " + msg));
        processOnOwnThread(transport.core(), name);
        mmio.register(name + " (virtio-mmio)", slot.base(), VirtioMmioTransport.WINDOW_SIZE, transport);
        mmioTransports.add(transport);
        if (ioeventfd) {
            accel.doorbells().ifPresent(d -> transport.useDoorbells(d, slot.base()));
        }
    }

    /** Guest RAM as a device's DMA sees it; on tcg, device writes into code pages drop decoded code. */
    private IdentityDma deviceDma() {
        return new IdentityDma(ram, TcgEngine.dmaListener(accel));
    }

    /** The device's queues are processed on an I/O thread of its own, closed with the machine. */
    private void processOnOwnThread(VirtioCore core, String name) {
        VirtioIoThread thread = new VirtioIoThread(name);
        ioThreads.add(thread);
        core.setExecutor(thread);
    }

    /** Ctrl-A x on the console: ends jvisor with status 0, as QEMU does. */
    private static final class QuitLatch implements EscapeFilter.Actions {
        private volatile Machine machine;

        @Override
        public void quit() {
            Machine m = machine;
            if (m != null) {
                m.requestExit(0, "C-a x on the console");
            }
        }
    }

    public String acceleratorExplanation() {
        return accelExplanation;
    }

    /** Boots the guest and runs until it ends; returns jvisor's exit status. */
    public int run() throws InterruptedException {
        X86State boot;
        try {
            boot = loader.load(ram);
        } catch (BootException e) {
            log.println("jvisor: " + e.getMessage());
            return 1;
        }
        if (config.debugLog().contains("boot") && loader.lastLinuxBoot() != null) {
            log.println("jvisor: " + loader.lastLinuxBoot().description().replace("\n", "\njvisor: "));
        }
        com1.start();
        for (VirtioConsole c : consoles) {
            c.start();
        }
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
            VcpuRunner r = new VcpuRunner(v, stats, control, events::add, () -> platform.bindCurrentThread(index));
            runners.add(r);
        }
        runners.get(0).setPendingState(boot);
        for (VcpuRunner r : runners) {
            r.start();
        }
        // Application processors wait for INIT/SIPI in the engine; only the BSP gets a boot state.
        control.resumeAll();
        try {
            while (true) {
                MachineEvent e = events.take();
                Integer status = handle(e);
                if (status != null) {
                    return status;
                }
            }
        } finally {
            stopVcpus();
            if (config.traceExits()) {
                log.print(ExitReport.format(runners, io, mmio));
            }
            if (config.debugLog().contains("jit")) {
                log.print(TcgEngine.jitReport(accel));
            }
        }
    }

    /** Returns the exit status if the event ends jvisor, or null to keep running. */
    private Integer handle(MachineEvent e) throws InterruptedException {
        switch (e) {
            case MachineEvent.Exit x -> {
                return x.status();
            }
            case MachineEvent.PowerOff p -> {
                return 0;
            }
            case MachineEvent.Failure f -> {
                log.println("jvisor: vCPU " + f.vcpu() + " stopped: " + f.description());
                if (f.state() != null) {
                    log.print(f.state().dump());
                }
                return 1;
            }
            case MachineEvent.TripleFault t -> {
                String where = t.state() != null ? String.format(" (RIP %#x)", t.state().rip) : "";
                if (config.noReboot()) {
                    log.println("jvisor: guest triple fault on vCPU " + t.vcpu() + where + ": " + t.detail()
                        + "; -no-reboot given, exiting");
                    if (config.guestErrors() && t.state() != null) {
                        log.print(t.state().dump());
                    }
                    return 0;
                }
                log.println("jvisor: guest triple fault on vCPU " + t.vcpu() + where + "; resetting");
                return reset();
            }
            case MachineEvent.Reset r -> {
                if (config.noReboot()) {
                    log.println("jvisor: " + r.reason() + "; -no-reboot given, exiting");
                    return 0;
                }
                log.println("jvisor: " + r.reason() + "; resetting");
                return reset();
            }
        }
    }

    /**
     * A system reset: pause every vCPU, reset the devices and the vCPUs to their power-on state,
     * reload the kernel and start the BSP again (APs wait for the new kernel's INIT/SIPI).
     */
    private Integer reset() throws InterruptedException {
        resets++;
        pause();
        platform.reset();
        for (VirtioMmioTransport t : mmioTransports) {
            t.reset();
        }
        for (VcpuRunner r : runners) {
            r.requestReset();
        }
        X86State boot;
        try {
            // RAM keeps its contents across a reset, as on a PC and in QEMU; the kernel is reloaded.
            boot = loader.load(ram);
        } catch (BootException ex) {
            log.println("jvisor: reset failed: " + ex.getMessage());
            return 1;
        }
        runners.get(0).setPendingState(boot);
        control.resumeAll();
        return null;
    }

    /** Stops every vCPU at an instruction boundary and waits until they all have. */
    public void pause() throws InterruptedException {
        control.requestPause();
        for (VcpuRunner r : runners) {
            r.vcpu().kick();
        }
        control.awaitAllIdle();
    }

    public void resume() {
        control.resumeAll();
    }

    public int resets() {
        return resets;
    }

    private void stopVcpus() throws InterruptedException {
        control.stop();
        for (VcpuRunner r : runners) {
            r.vcpu().kick();
        }
        for (VcpuRunner r : runners) {
            r.join();
        }
    }

    /** Ends the machine from another thread (a management command): run() returns {@code status}. */
    public void requestExit(int status, String reason) {
        events.add(new MachineEvent.Exit(status, reason));
    }

    public GuestMemory ram() {
        return ram;
    }

    public AddressSpace io() {
        return io;
    }

    public AddressSpace mmio() {
        return mmio;
    }

    @Override
    public void close() {
        serialBackend.close();
        // Before the I/O threads: a port blocked on a socket client that does not read lets go.
        for (VirtioConsole c : consoles) {
            c.close();
        }
        if (chardevs != null) {
            chardevs.close();
        }
        if (platform != null) {
            platform.close();
        }
        for (VirtioIoThread t : ioThreads) {
            t.close();
        }
        for (NetBackend n : netBackends) {
            n.close();
        }
        // After the I/O threads: every completed request has reached the image; close flushes.
        for (BlockBackend b : blockBackends) {
            try {
                b.flush();
                b.close();
            } catch (IOException e) {
                log.println("jvisor: closing " + b.describe() + ": " + e.getMessage());
            }
        }
        for (VcpuRunner r : runners) {
            r.vcpu().close();
        }
        accel.close();
        ram.close();
    }
}
