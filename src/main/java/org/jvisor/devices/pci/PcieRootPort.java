package org.jvisor.devices.pci;

/**
 * A PCI Express Root Port (QEMU's pcie-root-port: vendor 0x1B36 device 0x000C, class PCI-to-PCI
 * bridge 0x060400) on the root bus, with the functions of device 0 of its secondary bus behind it
 * (a PCIe link has one device, PCIe base spec 7.3.1; Linux scans only device 0 below a downstream
 * port). A type-1 header (PCI-to-PCI Bridge spec 1.2, 3.2): primary, secondary and subordinate bus
 * numbers the guest assigns (the host bridge routes configuration accesses to bus = secondary
 * here); a 16-bit I/O window, a memory window and a 64-bit prefetchable window, all writable with
 * the spec's granularity (4 KiB, 1 MiB, 1 MiB); bridge control with secondary bus reset, which
 * resets the functions behind it; no BARs, no expansion ROM, no interrupt pin (the port raises no
 * events: no hot-plug, PME or AER). Its PCI Express capability is version 2, type Root Port,
 * with an x1 2.5 GT/s link whose port number is {@code port=}, and a slot numbered {@code slot=}.
 *
 * <p>The port forwards to the functions behind it what its windows hold (3.2.5.6-3.2.5.10):
 * I/O within the I/O window while COMMAND's I/O enable is set, memory within the memory window or
 * the prefetchable window while the memory enable is set; a BAR outside
 * them decodes nothing, as on hardware. The functions' BARs are mapped again whenever the windows
 * or the enables change. (ISA and VGA forwarding are register bits only.)
 */
public final class PcieRootPort extends PciDevice {
    public static final int VENDOR = 0x1B36;
    public static final int DEVICE = 0x000C;
    public static final int CLASS = 0x06_04_00;

    static final int PRIMARY_BUS = 0x18, SECONDARY_BUS = 0x19, SUBORDINATE_BUS = 0x1A;
    static final int IO_BASE = 0x1C, IO_LIMIT = 0x1D, SECONDARY_STATUS = 0x1E;
    static final int MEMORY_BASE = 0x20, MEMORY_LIMIT = 0x22, PREFETCH_BASE = 0x24, PREFETCH_LIMIT = 0x26;
    static final int PREFETCH_BASE_UPPER = 0x28, PREFETCH_LIMIT_UPPER = 0x2C;
    static final int BRIDGE_CONTROL = 0x3E;
    /** Parity error response, SERR# enable, ISA enable, VGA enable, master abort mode, secondary bus reset. */
    private static final int BRIDGE_CONTROL_WRITABLE = 0x006F;
    static final int BRIDGE_CONTROL_SECONDARY_RESET = 1 << 6;
    /** Secondary status: master data parity error, signaled/received target abort, received master abort, SERR, parity. */
    private static final int SECONDARY_STATUS_W1C = 0xF900;

    private final PciDevice[] functions = new PciDevice[PciHostBridge.FUNCTIONS];
    private final boolean multifunction;
    private final PcieCapability pcie;
    private boolean inSecondaryReset;
    /**
     * What the port forwards, as {ioBase, ioLimit, memBase, memLimit, prefBase, prefLimit,
     * COMMAND's I/O and memory enables} (inclusive; base &gt; limit: closed), null before the
     * first write; read by the functions behind without the port's lock (they map their BARs
     * under their own, and the port remaps them under its lock: port, then function).
     */
    private volatile long[] windows;

    /**
     * @param port          the port number (Link Capabilities 31:24)
     * @param slot          the physical slot number (Slot Capabilities 31:19)
     * @param multifunction whether the header says multi-function even without other functions
     */
    public PcieRootPort(int port, int slot, boolean multifunction) {
        super(VENDOR, DEVICE, CLASS, 0);
        if (port < 0 || port > 0xFF || slot < 0 || slot > 0x1FFF) {
            throw new IllegalArgumentException("bad root port " + port + " or slot " + slot);
        }
        this.multifunction = multifunction;
        PciConfigSpace c = config();
        c.set8(HEADER_TYPE, 0x01);
        c.setWritable(PRIMARY_BUS, 3, 0xFF_FFFF);
        c.setWritable(IO_BASE, 1, 0xF0);
        c.setWritable(IO_LIMIT, 1, 0xF0);
        c.setWriteOneToClear(SECONDARY_STATUS, 2, SECONDARY_STATUS_W1C);
        c.setWritable(MEMORY_BASE, 2, 0xFFF0);
        c.setWritable(MEMORY_LIMIT, 2, 0xFFF0);
        c.setWritable(PREFETCH_BASE, 2, 0xFFF0);
        c.setWritable(PREFETCH_LIMIT, 2, 0xFFF0);
        c.setWritable(PREFETCH_BASE_UPPER, 4, -1);
        c.setWritable(PREFETCH_LIMIT_UPPER, 4, -1);
        c.setWritable(BRIDGE_CONTROL, 2, BRIDGE_CONTROL_WRITABLE);
        setPrefetchType();
        pcie = addCapability(new PcieCapability(PcieCapability.TYPE_ROOT_PORT, port, slot));
    }

    /** Bits 3:0 of the prefetchable base and limit: 1, a 64-bit window (read-only). */
    private void setPrefetchType() {
        config().set16(PREFETCH_BASE, config().get16(PREFETCH_BASE) & 0xFFF0 | 1);
        config().set16(PREFETCH_LIMIT, config().get16(PREFETCH_LIMIT) & 0xFFF0 | 1);
    }

    @Override
    boolean declaresMultiFunction() {
        return multifunction;
    }

    /** The secondary bus number the guest gave the port (0: not yet configured). */
    public int secondaryBus() {
        return readConfig(SECONDARY_BUS, 1);
    }

    /** Puts {@code device} at 00.{@code function} behind the port; the host bridge wires it ({@link PciHostBridge#add(PcieRootPort, int, PciDevice)}). */
    synchronized void place(int function, PciDevice device) {
        if (function < 0 || function >= functions.length) {
            throw new IllegalArgumentException("bad function " + function + " behind a root port");
        }
        if (functions[function] != null) {
            throw new IllegalArgumentException("function " + function + " behind " + label() + " is taken by "
                + functions[function]);
        }
        functions[function] = device;
        pcie.setPresent(true);
        PciDevice f0 = functions[0];
        if (f0 != null) {
            boolean multi = false;
            for (int f = 1; f < functions.length; f++) {
                multi |= functions[f] != null;
            }
            f0.setMultiFunction(multi || f0.declaresMultiFunction());
        }
    }

    /**
     * The function a configuration access to {@code bus}:{@code slot}.{@code function} reaches
     * through this port, or null: only the secondary bus, device 0, once the guest numbered it.
     */
    synchronized PciDevice downstream(int bus, int slot, int function) {
        int secondary = config().get8(SECONDARY_BUS);
        if (secondary == 0 || bus != secondary || slot != 0) {
            return null;
        }
        return functions[function & 7];
    }

    /** The functions behind the port. */
    public synchronized java.util.List<PciDevice> downstreamFunctions() {
        java.util.List<PciDevice> l = new java.util.ArrayList<>();
        for (PciDevice d : functions) {
            if (d != null) {
                l.add(d);
            }
        }
        return l;
    }

    /**
     * Whether the port forwards [{@code first}, {@code last}] downstream: all of it inside the I/O
     * window (I/O) or inside one of the two memory windows (memory: the port forwards by address,
     * whatever the BAR's prefetchable bit), with the matching COMMAND enable set.
     */
    boolean forwards(boolean isIo, long first, long last) {
        long[] w = windows;
        if (w == null) {
            return false;
        }
        if (isIo) {
            return (w[6] & COMMAND_IO) != 0 && inside(first, last, w[0], w[1]);
        }
        return (w[6] & COMMAND_MEMORY) != 0 && (inside(first, last, w[2], w[3]) || inside(first, last, w[4], w[5]));
    }

    private static boolean inside(long first, long last, long base, long limit) {
        return Long.compareUnsigned(base, limit) <= 0 && Long.compareUnsigned(first, base) >= 0
            && Long.compareUnsigned(last, limit) <= 0;
    }

    /** Reads the windows and enables from the registers and remaps the functions behind if they changed. */
    private void updateWindows() {
        PciConfigSpace c = config();
        long ioBase = (c.get8(IO_BASE) & 0xF0L) << 8;
        long ioLimit = (c.get8(IO_LIMIT) & 0xF0L) << 8 | 0xFFF;
        long memBase = (c.get16(MEMORY_BASE) & 0xFFF0L) << 16;
        long memLimit = (c.get16(MEMORY_LIMIT) & 0xFFF0L) << 16 | 0xF_FFFF;
        long prefBase = (c.get16(PREFETCH_BASE) & 0xFFF0L) << 16 | (c.get32(PREFETCH_BASE_UPPER) & 0xFFFF_FFFFL) << 32;
        long prefLimit = (c.get16(PREFETCH_LIMIT) & 0xFFF0L) << 16 | 0xF_FFFF
            | (c.get32(PREFETCH_LIMIT_UPPER) & 0xFFFF_FFFFL) << 32;
        long[] next = {ioBase, ioLimit, memBase, memLimit, prefBase, prefLimit, command() & (COMMAND_IO | COMMAND_MEMORY)};
        long[] before = windows;
        if (before != null && java.util.Arrays.equals(before, next)) {
            return;
        }
        windows = next;
        for (PciDevice d : functions) {
            if (d != null) {
                d.upstreamChanged();
            }
        }
    }

    @Override
    protected void restoreModelState(org.jvisor.devices.state.DeviceState state) throws org.jvisor.devices.state.DeviceStateException {
        super.restoreModelState(state);
        synchronized (this) {
            updateWindows();
        }
    }

    @Override
    protected void configWritten(int offset, int size, int value) {
        if (offset < COMMAND + 2 && offset + size > COMMAND || offset < PREFETCH_LIMIT_UPPER + 4 && offset + size > IO_BASE) {
            updateWindows();
        }
        if (offset < BRIDGE_CONTROL + 2 && offset + size > BRIDGE_CONTROL) {
            // Secondary bus reset (PCI-to-PCI Bridge spec 3.2.5.17): RST# on the secondary side
            // while the bit is set; the functions behind are reset on its rising edge.
            boolean reset = (config().get16(BRIDGE_CONTROL) & BRIDGE_CONTROL_SECONDARY_RESET) != 0;
            if (reset && !inSecondaryReset) {
                resetDownstream();
            }
            inSecondaryReset = reset;
        }
    }

    @Override
    protected void resetDevice() {
        inSecondaryReset = false;
        resetDownstream();
        updateWindows();
    }

    private void resetDownstream() {
        for (PciDevice d : functions) {
            if (d != null) {
                d.reset();
            }
        }
    }
}
