package org.jvisor.devices.pci;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * A PCI host bridge with one bus (bus 0, 32 slots of up to 8 functions), as a guest sees it:
 * <ul>
 * <li>configuration mechanism #1 (PCI Local Bus spec 3.0, 3.2.2.3.2): CONFIG_ADDRESS at port 0xCF8
 * (DWORD accesses only: enable bit 31, bus 23:16, device 15:11, function 10:8, register 7:2; bits
 * 30:24 and 1:0 read 0) and CONFIG_DATA at 0xCFC-0xCFF (any size, at the offset within the
 * selected DWORD). Byte accesses inside 0xCF8-0xCFB are not the bridge's: 0xCF9 is the reset
 * control register, which {@link #configAddressPort(BusDevice)} forwards to the device the caller
 * gives (the bridge claims all four ports because address-space regions cannot overlap); other
 * partial accesses read all-ones and writes are dropped (Linux's probe writes a byte to 0xCFB);</li>
 * <li>ECAM (PCIe base spec 7.2.2): 1 MiB per bus, 4 KiB per function, at a base the caller
 * chooses and describes in the MCFG table;</li>
 * <li>the host bridge function at 00.0: vendor 0x8086 device 0x0D57, class 0x060000 (host
 * bridge), the ID Cloud Hypervisor and Firecracker use for their virtual PCIe host (Linux has no
 * quirks for it, unlike the 440FX/Q35 IDs); no BARs, no interrupt;</li>
 * <li>INTx: function pin p of slot s drives GSI {@link PciIrqRouting#gsi}(s, p - 1), the _PRT
 * routing; functions sharing a GSI are wire-ORed (the line is asserted while any of them asserts);</li>
 * <li>MSI/MSI-X messages of every function go to one {@link MsiSink};</li>
 * <li>{@link #assignResources(Windows)}: with no firmware, the VMM places BARs itself, enables
 * decoding and fills the interrupt line register.</li>
 * </ul>
 * Buses other than 0 are those of the {@link PcieRootPort}s on it: a configuration access to a
 * port's secondary bus (as the guest numbered it) reaches the functions behind that port; any
 * other bus reads all-ones. {@link #assignResources} places the root bus's BARs only: bus
 * numbers, bridge windows and the BARs behind the ports are the guest's to assign (Linux does,
 * as for a hot-plugged bridge). Functions can be taken out again ({@link #remove(int, int)},
 * {@link #remove(PcieRootPort, int)}) for hot-unplug.
 */
public final class PciHostBridge implements StatefulDevice<PciHostState> {

    public static final int CONFIG_ADDRESS_PORT = 0xCF8;
    public static final int CONFIG_DATA_PORT = 0xCFC;
    public static final int RESET_CONTROL_OFFSET = 1;
    public static final int CONFIG_ENABLE = 0x8000_0000;
    /** The bits of CONFIG_ADDRESS that hold state: enable, bus, device, function, register. */
    public static final int CONFIG_ADDRESS_MASK = 0x80FF_FFFC;

    public static final int HOST_BRIDGE_VENDOR = 0x8086;
    public static final int HOST_BRIDGE_DEVICE = 0x0D57;
    public static final int HOST_BRIDGE_CLASS = 0x06_00_00;

    public static final int SLOTS = 32;
    public static final int FUNCTIONS = 8;
    /** ECAM bytes per bus. */
    public static final long ECAM_BUS_SIZE = 1L << 20;

    /**
     * The address windows BARs are placed in: a 32-bit MMIO window below 4 GiB, an optional 64-bit
     * one above RAM (for 64-bit prefetchable BARs; size 0 for none) and an I/O port window. They
     * must be free in the address spaces and agree with the ACPI _CRS of the host bridge.
     */
    public record Windows(long mmio32Base, long mmio32Size, long mmio64Base, long mmio64Size,
                          int ioBase, int ioSize) {
        public Windows {
            if (mmio32Size < 0 || mmio64Size < 0 || ioSize < 0 || mmio32Base + mmio32Size > 0x1_0000_0000L
                || ioBase + ioSize > 0x10000) {
                throw new IllegalArgumentException("bad PCI windows");
            }
        }

        /**
         * A PC layout: 32-bit MMIO from 0xC000_0000 (where low RAM stops) up to {@code mmio32End}
         * (e.g. 0xE000_0000 with the ECAM there, or 0xFEC0_0000 without), the 64-bit window
         * given, and I/O ports 0xC000-0xFFFF (SeaBIOS's choice, clear of the legacy ports).
         */
        public static Windows pc(long mmio32End, long mmio64Base, long mmio64Size) {
            return new Windows(0xC000_0000L, mmio32End - 0xC000_0000L, mmio64Base, mmio64Size, 0xC000, 0x4000);
        }
    }

    private final AddressSpace io;
    private final AddressSpace memory;
    /**
     * The ECAM window in {@link #memory}, or null; guarded by its own lock, not the bridge's: the
     * host bridge function moves it from inside a configuration write, under that function's lock.
     */
    private AddressSpace.Region ecamRegion;
    private final Object ecamLock = new Object();
    private final MsiSink msiSink;
    private final PciIrqRouting routing;
    private final IntFunction<IrqLine> gsiLines;
    private final PciDevice[] functions = new PciDevice[SLOTS * FUNCTIONS];
    private final Map<Integer, SharedLine> sharedLines = new HashMap<>();
    private final PciDevice hostBridge;
    /** The root ports on bus 0, for routing configuration accesses to the buses behind them. */
    private volatile PcieRootPort[] rootPorts = new PcieRootPort[0];
    private volatile int configAddress;
    /** Set before functions are added when an interrupt remapping unit is present. */
    private MsiRemapper msiRemapper;
    private Windows assigned;

    /**
     * @param io       the port space (BARs of I/O type are mapped there)
     * @param memory   the memory space (memory BARs)
     * @param msiSink  where MSI/MSI-X messages go
     * @param routing  INTx routing, as the ACPI _PRT describes it
     * @param gsiLines the wire of each GSI (level-triggered)
     */
    public PciHostBridge(AddressSpace io, AddressSpace memory, MsiSink msiSink, PciIrqRouting routing,
                         IntFunction<IrqLine> gsiLines) {
        this(io, memory, msiSink, routing, gsiLines, new HostBridgeFunction());
    }

    /** As the other constructor, with {@code hostFunction} at 00.0 (the 440FX's, for firmware). */
    public PciHostBridge(AddressSpace io, AddressSpace memory, MsiSink msiSink, PciIrqRouting routing,
                         IntFunction<IrqLine> gsiLines, PciDevice hostFunction) {
        this.io = io;
        this.memory = memory;
        this.msiSink = msiSink;
        this.routing = routing;
        this.gsiLines = gsiLines;
        this.hostBridge = hostFunction;
        add(0, 0, hostBridge);
    }

    private static final class HostBridgeFunction extends PciDevice {
        HostBridgeFunction() {
            super(HOST_BRIDGE_VENDOR, HOST_BRIDGE_DEVICE, HOST_BRIDGE_CLASS, 0);
            setSubsystem(HOST_BRIDGE_VENDOR, HOST_BRIDGE_DEVICE);
        }
    }

    /**
     * Sends the MSI/MSI-X messages of functions added from now on to {@code remapper}, each with
     * its requester id, instead of the sink given at construction. The host bridge (00.0) sends none.
     */
    public synchronized void setMsiRemapper(MsiRemapper remapper) {
        this.msiRemapper = remapper;
    }

    /** The host bridge function at 00.0. */
    public PciDevice hostBridge() {
        return hostBridge;
    }

    // ---- the bus --------------------------------------------------------------------------------

    /** Puts {@code device} in the first free slot (function 0) and returns the slot. */
    public synchronized int add(PciDevice device) {
        for (int s = 1; s < SLOTS; s++) {
            if (functions[s * FUNCTIONS] == null) {
                add(s, 0, device);
                return s;
            }
        }
        throw new IllegalStateException("PCI bus 0 is full");
    }

    /** Puts {@code device} at {@code slot}.0. */
    public void add(int slot, PciDevice device) {
        add(slot, 0, device);
    }

    /**
     * Puts {@code device} at {@code slot}.{@code function}. A function other than 0 sets the
     * multi-function bit of function 0 (which the guest needs in order to look beyond it).
     */
    public synchronized void add(int slot, int function, PciDevice device) {
        if (slot < 0 || slot >= SLOTS || function < 0 || function >= FUNCTIONS) {
            throw new IllegalArgumentException("bad PCI slot " + slot + "." + function);
        }
        int devfn = slot * FUNCTIONS + function;
        if (functions[devfn] != null) {
            throw new IllegalArgumentException(String.format("PCI 00:%02x.%d is taken by %s", slot, function,
                functions[devfn]));
        }
        IrqLine line = IrqLine.NONE;
        int pin = device.interruptPin();
        if (pin != 0) {
            int gsi = routing.gsi(slot, pin - 1);
            SharedLine shared = sharedLines.computeIfAbsent(gsi, g -> new SharedLine(gsiLines.apply(g)));
            line = shared::set;
        }
        MsiSink sink = msiSink;
        if (msiRemapper != null) {
            MsiRemapper r = msiRemapper;
            int requesterId = devfn;   // bus 0
            sink = (address, data) -> r.signal(requesterId, address, data);
        }
        device.attach(String.format("00:%02x.%d", slot, function), io, memory, line, sink);
        functions[devfn] = device;
        updateMultiFunction(slot);
        if (device instanceof PcieRootPort p) {
            PcieRootPort[] ports = java.util.Arrays.copyOf(rootPorts, rootPorts.length + 1);
            ports[ports.length - 1] = p;
            rootPorts = ports;
        }
    }

    /**
     * Puts {@code device} at 00.{@code function} of the secondary bus of {@code port} (on this
     * bus already). Its INTx pin goes through the port's, swizzled (PCI-to-PCI Bridge spec 1.2,
     * 9.1: pin p of device 0 behind the bridge is the bridge's pin p); its MSIs carry the requester
     * id of the bus number the guest gave the port.
     */
    public synchronized void add(PcieRootPort port, int function, PciDevice device) {
        int portDevfn = devfnOf(port);
        if (portDevfn < 0) {
            throw new IllegalArgumentException("the root port is not on bus 0");
        }
        port.place(function, device);
        IrqLine line = IrqLine.NONE;
        int pin = device.interruptPin();
        if (pin != 0) {
            int gsi = routing.gsi(portDevfn / FUNCTIONS, (pin - 1) % 4);
            SharedLine shared = sharedLines.computeIfAbsent(gsi, g -> new SharedLine(gsiLines.apply(g)));
            line = shared::set;
        }
        MsiSink sink = msiSink;
        if (msiRemapper != null) {
            MsiRemapper r = msiRemapper;
            sink = (address, data) -> r.signal(port.secondaryBus() << 8 | function, address, data);
        }
        device.setUpstream(port);
        device.attach(String.format("00:%02x.%d/00.%d", portDevfn / FUNCTIONS, portDevfn % FUNCTIONS, function), io,
            memory, line, sink);
    }

    /**
     * Takes the function at 00.{@code function} behind {@code port} out (a hot removal): its BARs
     * leave the I/O and memory spaces, its INTx no longer drives the port's line, it no longer
     * answers configuration accesses (bus:00.f reads all-ones) and its messages go nowhere; the
     * port's slot then shows it empty, as when a card leaves (presence and link down, Presence
     * Detect Changed, Data Link Layer State Changed if the link was up, the hot-plug interrupt if
     * enabled). The caller stops the function's own threads.
     *
     * @throws IllegalArgumentException if the port is not on this bus or has no such function
     */
    public synchronized void remove(PcieRootPort port, int function) {
        if (devfnOf(port) < 0) {
            throw new IllegalArgumentException("the root port is not on bus 0");
        }
        PciDevice d = port.remove(function);
        d.detach();
    }

    /**
     * Takes the function at {@code slot}.{@code function} of bus 0 out (ACPI hot-unplug): its BARs
     * leave the I/O and memory spaces, its INTx no longer drives its line (a shared line then
     * carries only what the others drive), it no longer answers configuration accesses (they
     * read all-ones) and its messages go nowhere; function 0's multi-function bit then says
     * whether other functions remain. A root port must be empty first; 00.0, the host bridge,
     * stays. The caller stops the function's own threads.
     *
     * @throws IllegalArgumentException if there is no such function, it is 00.0, or it is a root
     *         port with functions behind it
     */
    public synchronized void remove(int slot, int function) {
        if (slot < 0 || slot >= SLOTS || function < 0 || function >= FUNCTIONS) {
            throw new IllegalArgumentException("bad PCI slot " + slot + "." + function);
        }
        int devfn = slot * FUNCTIONS + function;
        PciDevice d = functions[devfn];
        if (d == null) {
            throw new IllegalArgumentException(String.format("no function at PCI 00:%02x.%d", slot, function));
        }
        if (d == hostBridge) {
            throw new IllegalArgumentException("the host bridge function 00:00.0 cannot be removed");
        }
        if (d instanceof PcieRootPort p) {
            if (!p.downstreamFunctions().isEmpty()) {
                throw new IllegalArgumentException("the root port " + p.label() + " has functions behind it");
            }
            rootPorts = java.util.Arrays.stream(rootPorts).filter(r -> r != p).toArray(PcieRootPort[]::new);
        }
        functions[devfn] = null;
        d.detach();
        updateMultiFunction(slot);
    }

    /** Where {@code device} is on bus 0 (slot * 8 + function), or -1. */
    private int devfnOf(PciDevice device) {
        for (int d = 0; d < functions.length; d++) {
            if (functions[d] == device) {
                return d;
            }
        }
        return -1;
    }

    /** The function at {@code bus}:{@code slot}.{@code function}, through a root port off bus 0; null for none. */
    private PciDevice function(int bus, int slot, int function) {
        if (bus == 0) {
            return functions[(slot & 31) * FUNCTIONS + (function & 7)];
        }
        for (PcieRootPort p : rootPorts) {
            PciDevice d = p.downstream(bus, slot, function);
            if (d != null) {
                return d;
            }
        }
        return null;
    }

    private void updateMultiFunction(int slot) {
        PciDevice f0 = functions[slot * FUNCTIONS];
        if (f0 == null) {
            return;
        }
        boolean multi = false;
        for (int f = 1; f < FUNCTIONS; f++) {
            multi |= functions[slot * FUNCTIONS + f] != null;
        }
        f0.setMultiFunction(multi || f0.declaresMultiFunction());
    }

    /** The function at {@code slot}.{@code function} of bus 0, or null. */
    public PciDevice device(int slot, int function) {
        return functions[slot * FUNCTIONS + function];
    }

    /** Every function on the bus, in slot/function order (the host bridge first). */
    public synchronized List<PciDevice> devices() {
        List<PciDevice> l = new ArrayList<>();
        for (PciDevice d : functions) {
            if (d != null) {
                l.add(d);
            }
        }
        return l;
    }

    /** The GSI the INTx pin of {@code slot}.{@code function} drives, or -1 without a pin. */
    public int gsi(int slot, int function) {
        PciDevice d = device(slot, function);
        return d == null || d.interruptPin() == 0 ? -1 : routing.gsi(slot, d.interruptPin() - 1);
    }

    /** A wire-OR of the INTx pins on one GSI (each source reports transitions only). */
    private static final class SharedLine {
        private final IrqLine out;
        private int asserted;

        SharedLine(IrqLine out) {
            this.out = out;
        }

        synchronized void set(boolean level) {
            int before = asserted;
            asserted = Math.max(0, asserted + (level ? 1 : -1));
            if ((before == 0) != (asserted == 0)) {
                out.set(asserted != 0);
            }
        }
    }

    // ---- configuration access -------------------------------------------------------------------

    /** A configuration read of {@code size} bytes; all-ones where no function answers. */
    public int readConfig(int bus, int slot, int function, int offset, int size) {
        PciDevice d = function(bus, slot, function);
        if (d == null) {
            return size >= 4 ? -1 : (1 << (size * 8)) - 1;
        }
        return d.readConfig(offset, size);
    }

    public void writeConfig(int bus, int slot, int function, int offset, int size, int value) {
        PciDevice d = function(bus, slot, function);
        if (d != null) {
            d.writeConfig(offset, size, value);
        }
    }

    /** CONFIG_ADDRESS as last written. */
    public int configAddress() {
        return configAddress;
    }

    /**
     * The device for ports 0xCF8-0xCFB: DWORD accesses at 0xCF8 are CONFIG_ADDRESS, byte accesses
     * at 0xCF9 go to {@code resetControl} (at its offset 0; null: nobody), anything else reads
     * all-ones and writes nothing.
     */
    public BusDevice configAddressPort(BusDevice resetControl) {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                if (offset == 0 && size == 4) {
                    return configAddress & 0xFFFF_FFFFL;
                }
                if (offset == RESET_CONTROL_OFFSET && size == 1 && resetControl != null) {
                    return resetControl.read(0, 1);
                }
                return ones(size);
            }

            @Override
            public void write(long offset, int size, long value) {
                if (offset == 0 && size == 4) {
                    configAddress = (int) value & CONFIG_ADDRESS_MASK;
                } else if (offset == RESET_CONTROL_OFFSET && size == 1 && resetControl != null) {
                    resetControl.write(0, 1, value);
                }
            }
        };
    }

    /** The device for ports 0xCFC-0xCFF: the DWORD CONFIG_ADDRESS selects, at any size and offset. */
    public BusDevice configDataPort() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                int a = configAddress;
                if ((a & CONFIG_ENABLE) == 0) {
                    return ones(size);
                }
                return readConfig((a >>> 16) & 0xFF, (a >>> 11) & 31, (a >>> 8) & 7, (a & 0xFC) + (int) offset,
                    Math.min(size, 4)) & 0xFFFF_FFFFL;
            }

            @Override
            public void write(long offset, int size, long value) {
                int a = configAddress;
                if ((a & CONFIG_ENABLE) != 0) {
                    writeConfig((a >>> 16) & 0xFF, (a >>> 11) & 31, (a >>> 8) & 7, (a & 0xFC) + (int) offset,
                        Math.min(size, 4), (int) value);
                }
            }
        };
    }

    /** Registers 0xCF8-0xCFB (with {@code resetControl} at 0xCF9, may be null) and 0xCFC-0xCFF in the port space. */
    public void registerPorts(BusDevice resetControl) {
        io.register("pci-config-address", CONFIG_ADDRESS_PORT, 4, configAddressPort(resetControl));
        io.register("pci-config-data", CONFIG_DATA_PORT, 4, configDataPort());
    }

    /**
     * The ECAM window's device (offset 0 = bus 0): offset bits 27:20 bus, 19:15 device, 14:12
     * function, 11:0 register. QWORD accesses are split into two DWORDs.
     */
    public BusDevice ecam() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                if (size == 8) {
                    return (read(offset, 4) & 0xFFFF_FFFFL) | (read(offset + 4, 4) << 32);
                }
                return readConfig((int) (offset >>> 20) & 0xFF, (int) (offset >>> 15) & 31, (int) (offset >>> 12) & 7,
                    (int) offset & 0xFFF, size) & 0xFFFF_FFFFL;
            }

            @Override
            public void write(long offset, int size, long value) {
                if (size == 8) {
                    write(offset, 4, value & 0xFFFF_FFFFL);
                    write(offset + 4, 4, value >>> 32);
                    return;
                }
                writeConfig((int) (offset >>> 20) & 0xFF, (int) (offset >>> 15) & 31, (int) (offset >>> 12) & 7,
                    (int) offset & 0xFFF, size, (int) value);
            }
        };
    }

    /**
     * Registers the ECAM of buses 0 to {@code buses - 1} at {@code base} (1 MiB-aligned) in the
     * memory space, in place of the window registered before (the Q35's PCIEXBAR moves it).
     *
     * @throws IllegalArgumentException if the window is malformed, outside the memory space or
     *         overlaps a region there; no window is registered then
     */
    public void registerEcam(long base, int buses) {
        if (buses < 1 || buses > 256 || (base & (ECAM_BUS_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("bad ECAM window");
        }
        synchronized (ecamLock) {
            unregisterEcam();
            ecamRegion = memory.register("pci-ecam", base, buses * ECAM_BUS_SIZE, ecam());
        }
    }

    /** Removes the ECAM window, if one is registered. */
    public void unregisterEcam() {
        synchronized (ecamLock) {
            if (ecamRegion != null) {
                memory.unregister(ecamRegion);
                ecamRegion = null;
            }
        }
    }

    private static long ones(int size) {
        return size >= 8 ? -1L : (1L << (size * 8)) - 1;
    }

    // ---- resources ------------------------------------------------------------------------------

    /**
     * Does the firmware's job for a firmware-less boot: places every BAR of every function,
     * naturally aligned, largest first: 64-bit prefetchable BARs in the 64-bit window when there
     * is one (else, or when it is full, with the others), other memory BARs in the 32-bit window,
     * I/O BARs in the I/O window. Then writes each function's BARs and interrupt line (the GSI of
     * its pin, 0xFF above 254) and sets COMMAND's I/O and memory decode bits for the spaces it uses
     * (not bus mastering: that is the driver's). Remembered, and done again by {@link #reset()}.
     *
     * @throws IllegalStateException when a window is too small or a BAR cannot be mapped
     */
    public synchronized void assignResources(Windows w) {
        record Bar(PciDevice device, int slot, int index, PciBarRegion region) { }
        List<Bar> bars = new ArrayList<>();
        for (int devfn = 0; devfn < functions.length; devfn++) {
            PciDevice d = functions[devfn];
            if (d == null) {
                continue;
            }
            for (int i = 0; i < PciDevice.BAR_COUNT; i++) {
                if (d.bar(i) != null) {
                    bars.add(new Bar(d, devfn / FUNCTIONS, i, d.bar(i)));
                }
            }
        }
        bars.sort(Comparator.comparingLong((Bar b) -> b.region().size()).reversed());
        long[] cursor32 = {w.mmio32Base()};
        long[] cursor64 = {w.mmio64Base()};
        long[] cursorIo = {w.ioBase()};
        Map<Bar, Long> placed = new HashMap<>();
        for (Bar b : bars) {
            PciBarRegion r = b.region();
            long at;
            if (r.isIo()) {
                at = place(cursorIo, w.ioBase() + w.ioSize(), r.size());
            } else if (r.is64Bit() && r.prefetchable() && w.mmio64Size() > 0) {
                at = place(cursor64, w.mmio64Base() + w.mmio64Size(), r.size());
                if (at < 0) {
                    at = place(cursor32, w.mmio32Base() + w.mmio32Size(), r.size());
                }
            } else {
                at = place(cursor32, w.mmio32Base() + w.mmio32Size(), r.size());
            }
            if (at < 0) {
                throw new IllegalStateException(String.format("no room for BAR %d of %s (%s) in %s",
                    b.index(), b.device(), r, w));
            }
            placed.put(b, at);
        }
        for (int devfn = 0; devfn < functions.length; devfn++) {
            PciDevice d = functions[devfn];
            if (d == null) {
                continue;
            }
            int cmd = d.readConfig(PciDevice.COMMAND, 2);
            d.writeConfig(PciDevice.COMMAND, 2, cmd & ~(PciDevice.COMMAND_IO | PciDevice.COMMAND_MEMORY));
            int enable = 0;
            for (Map.Entry<Bar, Long> e : placed.entrySet()) {
                Bar b = e.getKey();
                if (b.device() != d) {
                    continue;
                }
                long at = e.getValue();
                int reg = PciDevice.BAR0 + 4 * b.index();
                d.writeConfig(reg, 4, (int) at);
                if (b.region().is64Bit()) {
                    d.writeConfig(reg + 4, 4, (int) (at >>> 32));
                }
                enable |= b.region().isIo() ? PciDevice.COMMAND_IO : PciDevice.COMMAND_MEMORY;
            }
            int pin = d.interruptPin();
            if (pin != 0) {
                int gsi = routing.gsi(devfn / FUNCTIONS, pin - 1);
                d.writeConfig(PciDevice.INTERRUPT_LINE, 1, gsi <= 254 ? gsi : 0xFF);
            }
            d.writeConfig(PciDevice.COMMAND, 2, cmd | enable);
        }
        for (Bar b : placed.keySet()) {
            if (b.region().mappedAddress() != placed.get(b)) {
                throw new IllegalStateException(String.format("BAR %d of %s (%s) could not be mapped at %#x",
                    b.index(), b.device(), b.region(), placed.get(b)));
            }
        }
        assigned = w;
    }

    /** Aligned bump allocation in [cursor, end); -1 when it does not fit. */
    private static long place(long[] cursor, long end, long size) {
        long at = (cursor[0] + size - 1) & -size;
        if (at < cursor[0] || at + size > end) {
            return -1;
        }
        cursor[0] = at + size;
        return at;
    }

    // ---- state ----------------------------------------------------------------------------------

    /** CONFIG_ADDRESS and function 00.0; the other functions save their own state. */
    @Override
    public PciHostState saveState() {
        return new PciHostState(configAddress, hostBridge.saveState());
    }

    @Override
    public void restoreState(PciHostState s) throws DeviceStateException {
        DeviceStateException.checkBits("PCI host bridge", "CONFIG_ADDRESS", s.configAddress() & 0xFFFF_FFFFL,
            CONFIG_ADDRESS_MASK & 0xFFFF_FFFFL);
        hostBridge.restoreState(s.hostBridge());
        configAddress = s.configAddress();
    }

    @Override
    public Class<PciHostState> stateType() {
        return PciHostState.class;
    }

    /**
     * A PCI bus reset: CONFIG_ADDRESS cleared, every function reset; then, standing in for the
     * firmware, the last {@link #assignResources} layout is applied again.
     */
    public synchronized void reset() {
        configAddress = 0;
        for (PciDevice d : functions) {
            if (d != null) {
                d.reset();
            }
        }
        if (assigned != null) {
            assignResources(assigned);
        }
    }
}
