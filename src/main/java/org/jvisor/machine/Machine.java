package org.jvisor.machine;

import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
import org.jvisor.devices.state.StatefulDevice;
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
    private PcPlatform platform;
    private final RunControl control;
    private final List<VcpuRunner> runners = new ArrayList<>();
    private final LinkedBlockingQueue<MachineEvent> events = new LinkedBlockingQueue<>();
    private final KernelLoader loader;
    /** Every device with its backends and I/O thread: start, reset, close (and later snapshots) loop over it. */
    private final DeviceRegistry devices;
    private int resets;
    private Chardevs chardevs;

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
        this.devices = new DeviceRegistry(msg -> log.println("jvisor: " + msg));
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
        try {
            m.wireDevices();
        } catch (MachineException | RuntimeException e) {
            m.close(); // what was built so far: its devices, backends, threads, the engine and RAM
            throw e;
        }
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
            config.machineType() == MachineConfig.MachineType.PC ? PcPciLayout.forMemory(config.memoryBytes()) : null,
            devices);
        Serial16550 com1 = new Serial16550(serialBackend, this.platform.irq(COM1_IRQ));
        io.register("serial0 (16550A)", COM1_BASE, 8, com1);
        // No reset, as always: host input queued for the UART survives a reboot. Its backend is
        // the machine's (opened with it, closed after every device).
        devices.add(MachineDevice.of("serial0", com1).onStart(com1::start));
        Map<String, Integer> perModel = new HashMap<>();
        int mmioSlots = 0;
        int defaultMacs = 0;    // as QEMU, only NICs without mac= count up from 52:54:00:12:34:56
        for (MachineConfig.VirtioDeviceConfig device : config.virtioDevices()) {
            // Backends go into the registry as they open (before their device, so they close after it).
            VirtioDevice model = switch (device) {
                case MachineConfig.VirtioDeviceConfig.VirtioRng r -> new VirtioRng();
                case MachineConfig.VirtioDeviceConfig.VirtioBlk b -> new VirtioBlk(openDrive(b.driveId()), b.driveId());
                case MachineConfig.VirtioDeviceConfig.VirtioSerial v -> virtioSerial(v);
                case MachineConfig.VirtioDeviceConfig.VirtioNet n -> new VirtioNet(openNetdev(n.netdevId()),
                    n.mac() != null ? n.mac() : MacAddress.QEMU_DEFAULT.plus(defaultMacs++));
            };
            // The device's id starts "virtio-blk0", "virtio-rng1"...; its I/O thread keeps the
            // name it always had (numbered for disks and NICs).
            int n = perModel.merge(device.model(), 1, Integer::sum) - 1;
            String name = device.model() + n;
            String thread = device instanceof MachineConfig.VirtioDeviceConfig.VirtioBlk
                || device instanceof MachineConfig.VirtioDeviceConfig.VirtioNet ? name : device.model();
            switch (device.transport()) {
                case PCI -> virtioPci(model, name, thread, device.ioeventfd());
                case MMIO -> {
                    VirtioMmioSlot slot;
                    try {
                        slot = VirtioMmioSlot.of(mmioSlots);
                    } catch (IllegalArgumentException e) {
                        throw new MachineException("-device " + device.qemuName() + ": " + e.getMessage());
                    }
                    virtioMmio(model, name + "@virtio-mmio." + mmioSlots++, thread, slot, device.ioeventfd());
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
            devices.add(MachineDevice.of(String.format("isa-debug-exit@%#x", d.iobase()), null));
        }
    }

    /** Opens the raw image of -drive id=ID: missing, locked or too small images are refused here. */
    private BlockBackend openDrive(String id) throws MachineException {
        for (MachineConfig.DriveConfig d : config.drives()) {
            if (d.id().equals(id)) {
                try {
                    RawFileBackend backend = RawFileBackend.open(d.file(), d.readOnly(), CacheMode.parse(d.cache()),
                        msg -> log.println("jvisor: -drive " + d.file() + ": " + msg));
                    // Closed after its device's I/O thread: every completed request has reached
                    // the image, and the close flushes it.
                    devices.add(MachineDevice.of("drive:" + d.id(), null).onClose(() -> {
                        backend.flush();
                        backend.close();
                    }));
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
        return new VirtioConsole(v.maxPorts(), ports, msg -> log.println("jvisor: " + msg));
    }

    /** Opens the tap of -netdev tap,id=ID: a bad name, no permission or a busy tap are refused here. */
    private NetBackend openNetdev(String id) throws MachineException {
        for (MachineConfig.NetdevConfig n : config.netdevs()) {
            if (n.id().equals(id)) {
                try {
                    TapBackend tap = TapBackend.open(n.id(), n.ifname(), VirtioNet.HDR_SIZE, msg -> log.println("jvisor: " + msg));
                    devices.add(MachineDevice.of("netdev:" + n.id(), null).onClose(tap::close));
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

    /**
     * A virtio device on PCI in the next free slot, its queues processed on an I/O thread of its
     * own; its id is {@code name@pci.0:SS.0}. The function has no reset of its own: the bus's
     * reset resets it.
     */
    private void virtioPci(VirtioDevice device, String name, String thread, boolean ioeventfd) {
        VirtioPciFunction fn = new VirtioPciFunction(device, deviceDma());
        VirtioIoThread io = processOnOwnThread(fn.transport().core(), thread);
        if (ioeventfd) {
            accel.doorbells().ifPresent(fn::useDoorbells);
        }
        int slot;
        try {
            slot = platform.addPci(fn);
        } catch (RuntimeException e) {
            io.close();
            throw e;
        }
        devices.add(virtioDevice(String.format("%s@pci.0:%02x.0", name, slot), fn, fn.transport().core(), io));
    }

    /** A virtio device on a virtio-mmio window (microvm), its queues processed on an I/O thread of its own. */
    private void virtioMmio(VirtioDevice device, String id, String thread, VirtioMmioSlot slot, boolean ioeventfd) {
        VirtioMmioTransport transport = new VirtioMmioTransport(device, deviceDma(),
            platform.gsi(slot.gsi()), msg -> log.println("jvisor: " + thread + ": " + msg));
        VirtioIoThread io = processOnOwnThread(transport.core(), thread);
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
    private static MachineDevice virtioDevice(String id, StatefulDevice<?> state, VirtioCore core, VirtioIoThread io) {
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
                }
                io.close();
            });
    }

    /** Guest RAM as a device's DMA sees it; on tcg, device writes into code pages drop decoded code. */
    private IdentityDma deviceDma() {
        return new IdentityDma(ram, TcgEngine.dmaListener(accel));
    }

    /** The device's queues are processed on an I/O thread of its own, which its registry entry closes. */
    private static VirtioIoThread processOnOwnThread(VirtioCore core, String name) {
        VirtioIoThread thread = new VirtioIoThread(name);
        core.setExecutor(thread);
        return thread;
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
        devices.start();
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
        devices.reset();
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

    /** The machine's devices, in the order every lifecycle loop takes them. */
    DeviceRegistry devices() {
        return devices;
    }

    @Override
    public void close() {
        // Each device stops its I/O thread and lets go of its backends (a console its chardevs, a
        // disk flushes its image after its device's thread), last built first.
        devices.close();
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
    }
}
