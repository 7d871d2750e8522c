package org.jvisor.devices.pci;

import java.util.ArrayList;
import java.util.List;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.IrqLine;

/**
 * One PCI function with a type-0 configuration header (PCI Local Bus spec 3.0, 6.1-6.2; PCIe base
 * spec 7.5.1): identification, COMMAND/STATUS, up to six BARs ({@link PciBarRegion}), subsystem
 * IDs, a capability list ({@link PciCapability}) and one INTx pin. The guest reaches it through the
 * host bridge's configuration mechanisms; everything else the function decodes lives in its BARs,
 * which this class (un)maps in the I/O and memory {@link AddressSpace}s at the programmed address
 * whenever COMMAND's I/O or memory decode bit or a BAR changes.
 *
 * <p>Header registers: vendor/device/revision/class/header type/subsystem/capability pointer/pin are
 * read-only; COMMAND bits I/O, memory, bus master, parity error response, SERR# enable and
 * interrupt disable are writable; STATUS error bits are write-1-to-clear, its interrupt-status and
 * capability-list bits read-only; cache line size, latency timer and interrupt line are writable;
 * the expansion ROM BAR is not implemented (reads 0). Accesses are serialised on the device.
 *
 * <p>A subclass is a device model: it declares its BARs and capabilities in its constructor and may
 * override {@link #readConfig}/{@link #writeConfig} (calling super) for device-specific registers,
 * and the hooks {@link #barMapped}, {@link #barUnmapped}, {@link #configWritten}, {@link #resetDevice}.
 */
public abstract class PciDevice implements StatefulDevice<PciFunctionState> {

    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    public static final int CLASS_CODE = 0x09;
    public static final int CACHE_LINE_SIZE = 0x0C;
    public static final int LATENCY_TIMER = 0x0D;
    public static final int HEADER_TYPE = 0x0E;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2C;
    public static final int SUBSYSTEM_ID = 0x2E;
    public static final int ROM_ADDRESS = 0x30;
    public static final int CAPABILITIES_POINTER = 0x34;
    public static final int INTERRUPT_LINE = 0x3C;
    public static final int INTERRUPT_PIN = 0x3D;

    public static final int COMMAND_IO = 1 << 0;
    public static final int COMMAND_MEMORY = 1 << 1;
    public static final int COMMAND_BUS_MASTER = 1 << 2;
    public static final int COMMAND_PARITY = 1 << 6;
    public static final int COMMAND_SERR = 1 << 8;
    public static final int COMMAND_INTX_DISABLE = 1 << 10;
    static final int COMMAND_WRITABLE = COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_PARITY
        | COMMAND_SERR | COMMAND_INTX_DISABLE;

    public static final int STATUS_INTERRUPT = 1 << 3;
    public static final int STATUS_CAP_LIST = 1 << 4;
    /** Master data parity error, signaled/received target abort, received master abort, signaled SERR, parity. */
    public static final int STATUS_W1C = 0xF900;

    public static final int HEADER_MULTI_FUNCTION = 0x80;
    /** The first byte after the type-0 header: where capabilities start. */
    public static final int CAPABILITIES_START = 0x40;
    public static final int BAR_COUNT = 6;
    /** Where a PCI Express function's extended capabilities start (PCIe base spec 7.6.1). */
    public static final int EXTENDED_CAPABILITIES_START = 0x100;

    private static final System.Logger LOG = System.getLogger(PciDevice.class.getName());

    private final PciConfigSpace config = new PciConfigSpace();
    private final PciBarRegion[] bars = new PciBarRegion[BAR_COUNT];
    private final List<PciCapability> capabilities = new ArrayList<>();
    private PciCapability[] capabilityArray = new PciCapability[0];
    private int nextCapability = CAPABILITIES_START;
    private int lastCapability;
    private int nextExtendedCapability = EXTENDED_CAPABILITIES_START;
    private int lastExtendedCapability;
    private final IrqLine intx = this::setIntx;

    private volatile int command;
    private String label = "pci";
    private AddressSpace io;
    private AddressSpace memory;
    private IrqLine intxLine = IrqLine.NONE;
    private volatile MsiSink msiSink = MsiSink.NONE;
    /** The root port this function sits behind (null: on the root bus): its windows gate the BARs. */
    private volatile PcieRootPort upstream;
    private boolean intxAsserted;
    private boolean intxDriven;

    /**
     * @param classCode 24 bits: base class, sub-class, programming interface (e.g. 0x060000 host bridge)
     */
    protected PciDevice(int vendorId, int deviceId, int classCode, int revision) {
        config.set16(VENDOR_ID, vendorId);
        config.set16(DEVICE_ID, deviceId);
        config.set8(REVISION_ID, revision);
        config.set8(CLASS_CODE, classCode);
        config.set16(CLASS_CODE + 1, classCode >>> 8);
        config.setWritable(COMMAND, 2, COMMAND_WRITABLE);
        config.setWriteOneToClear(STATUS, 2, STATUS_W1C);
        config.setDeviceManaged(STATUS, 2, STATUS_INTERRUPT);
        config.setWritable(CACHE_LINE_SIZE, 1, 0xFF);
        config.setWritable(LATENCY_TIMER, 1, 0xFF);
        config.setWritable(INTERRUPT_LINE, 1, 0xFF);
    }

    // ---- identity and static header -------------------------------------------------------------

    public final int vendorId() {
        return config.get16(VENDOR_ID);
    }

    public final int deviceId() {
        return config.get16(DEVICE_ID);
    }

    /** Base class, sub-class and programming interface, 24 bits. */
    public final int classCode() {
        return config.get32(REVISION_ID) >>> 8;
    }

    protected final void setSubsystem(int subsystemVendorId, int subsystemId) {
        config.set16(SUBSYSTEM_VENDOR_ID, subsystemVendorId);
        config.set16(SUBSYSTEM_ID, subsystemId);
    }

    /** The interrupt pin: 0 for none, 1-4 for INTA#-INTD#. Set it before the device is added to a bus. */
    protected final void setInterruptPin(int pin) {
        if (pin < 0 || pin > 4) {
            throw new IllegalArgumentException("interrupt pin " + pin);
        }
        config.set8(INTERRUPT_PIN, pin);
    }

    public final int interruptPin() {
        return config.get8(INTERRUPT_PIN);
    }

    /** The device's configuration bytes and masks, for subclasses and capabilities (device side). */
    protected final PciConfigSpace config() {
        return config;
    }

    /** Whether the header says multi-function even with no other function in the slot (QEMU's multifunction=on). */
    boolean declaresMultiFunction() {
        return false;
    }

    final synchronized void setMultiFunction(boolean multi) {
        int h = config.get8(HEADER_TYPE);
        config.set8(HEADER_TYPE, multi ? h | HEADER_MULTI_FUNCTION : h & ~HEADER_MULTI_FUNCTION);
    }

    // ---- BARs -----------------------------------------------------------------------------------

    /** Declares BAR {@code index} (a 64-bit BAR also takes {@code index + 1}). */
    protected final synchronized void setBar(int index, PciBarRegion bar) {
        int slots = bar.is64Bit() ? 2 : 1;
        if (index < 0 || index + slots > BAR_COUNT) {
            throw new IllegalArgumentException("BAR index " + index + " for " + bar);
        }
        for (int i = 0; i < BAR_COUNT; i++) {
            if (bars[i] != null && i < index + slots && i + barSlots(i) > index) {
                throw new IllegalArgumentException("BAR " + index + " overlaps BAR " + i);
            }
        }
        bars[index] = bar;
        int reg = BAR0 + 4 * index;
        long mask = ~(bar.size() - 1);
        int lowMask = (int) mask & (bar.isIo() ? ~0x3 : ~0xF);
        config.set32(reg, bar.typeBits());
        config.setWritable(reg, 4, lowMask);
        if (bar.is64Bit()) {
            config.set32(reg + 4, 0);
            config.setWritable(reg + 4, 4, (int) (mask >>> 32));
        }
    }

    private int barSlots(int i) {
        PciBarRegion b = bars[i];
        return b == null ? 0 : b.is64Bit() ? 2 : 1;
    }

    /** The region of BAR {@code index}, or null (also for the upper half of a 64-bit BAR). */
    public final PciBarRegion bar(int index) {
        return bars[index];
    }

    /** The address BAR {@code index} holds now (its address bits, whether or not decoding is on). */
    public final synchronized long barAddress(int index) {
        PciBarRegion b = bars[index];
        if (b == null) {
            return 0;
        }
        int reg = BAR0 + 4 * index;
        long low = config.get32(reg) & 0xFFFF_FFFFL & (b.isIo() ? ~0x3L : ~0xFL);
        long high = b.is64Bit() ? (config.get32(reg + 4) & 0xFFFF_FFFFL) << 32 : 0;
        return high | low;
    }

    /** Called when BAR {@code index} starts decoding at {@code address} (its region is registered). */
    protected void barMapped(int index, PciBarRegion bar, long address) {
    }

    /** Called when BAR {@code index} stops decoding at {@code address}. */
    protected void barUnmapped(int index, PciBarRegion bar, long address) {
    }

    // ---- capabilities ---------------------------------------------------------------------------

    /**
     * Appends {@code cap} to the capability list (dword-aligned, from 0x40 up, in order of
     * addition), sets STATUS.CAP_LIST and the capabilities pointer, and initialises it.
     */
    protected final synchronized <C extends PciCapability> C addCapability(C cap) {
        int at = nextCapability;
        int end = at + ((cap.length() + 3) & ~3);
        if (end > 0x100) {
            throw new IllegalStateException("capability list full: no room for capability " + cap.id());
        }
        cap.attach(this, at);
        config.set8(at, cap.id());
        config.set8(at + 1, 0);
        if (lastCapability == 0) {
            config.set8(CAPABILITIES_POINTER, at);
            config.set16(STATUS, config.get16(STATUS) | STATUS_CAP_LIST);
        } else {
            config.set8(lastCapability + 1, at);
        }
        lastCapability = at;
        nextCapability = end;
        capabilities.add(cap);
        capabilityArray = capabilities.toArray(new PciCapability[0]);
        cap.initialize();
        return cap;
    }

    /**
     * Places an extended capability in the space from 0x100 (PCIe base spec 7.6.2): its header
     * has the 16-bit ID, the version and the next offset in bits 31:20, linked after the previous
     * one. Only a function with a PCI Express capability has that space (Linux reads past 0x100
     * only then), so add one first.
     */
    protected final synchronized <C extends PciExtendedCapability> C addExtendedCapability(C cap) {
        int at = nextExtendedCapability;
        int end = at + ((cap.length() + 3) & ~3);
        if (end > PciConfigSpace.SIZE) {
            throw new IllegalStateException("extended configuration space full: no room for capability " + cap.id());
        }
        cap.attach(this, at);
        config.set32(at, cap.id() | cap.version() << 16);
        if (lastExtendedCapability != 0) {
            config.set32(lastExtendedCapability, config.get32(lastExtendedCapability) & 0xFFFFF | at << 20);
        }
        lastExtendedCapability = at;
        nextExtendedCapability = end;
        capabilities.add(cap);
        capabilityArray = capabilities.toArray(new PciCapability[0]);
        cap.initialize();
        return cap;
    }

    public final synchronized List<PciCapability> capabilities() {
        return List.copyOf(capabilities);
    }

    // ---- configuration access (the guest's side) ------------------------------------------------

    /** A guest read of {@code size} (1, 2 or 4) bytes at {@code offset} (0-0xFFF). */
    public synchronized int readConfig(int offset, int size) {
        return config.read(offset, size);
    }

    /** A guest write of {@code size} (1, 2 or 4) bytes at {@code offset}, through the register masks. */
    public synchronized void writeConfig(int offset, int size, int value) {
        config.write(offset, size, value);
        int end = offset + size;
        if (offset < COMMAND + 2 && end > COMMAND) {
            command = config.get16(COMMAND);
        }
        if ((offset < COMMAND + 2 && end > COMMAND) || (offset < BAR0 + 4 * BAR_COUNT && end > BAR0)) {
            updateMappings();
        }
        for (PciCapability c : capabilityArray) {
            int cs = c.offset();
            int ce = cs + c.length();
            if (offset < ce && end > cs) {
                int from = Math.max(offset, cs);
                c.written(from - cs, Math.min(end, ce) - from);
            }
        }
        configWritten(offset, size, value);
        updateIntx();
    }

    /** A hook after every guest configuration write (masks applied, BARs and capabilities updated). */
    protected void configWritten(int offset, int size, int value) {
    }

    /** The COMMAND register as last written. */
    public final int command() {
        return command;
    }

    /** Bus master enable: the function may do DMA and send MSIs. */
    public final boolean busMasterEnabled() {
        return (command & COMMAND_BUS_MASTER) != 0;
    }

    // ---- interrupts -----------------------------------------------------------------------------

    /**
     * The function's INTx pin as a wire the device model drives: asserted (true) or deasserted. The
     * level reaches the routed GSI unless COMMAND.INTX_DISABLE is set or MSI/MSI-X is enabled;
     * STATUS.INTERRUPT always shows it.
     */
    public final IrqLine intx() {
        return intx;
    }

    private synchronized void setIntx(boolean asserted) {
        intxAsserted = asserted;
        updateIntx();
    }

    private void updateIntx() {
        int status = config.get16(STATUS);
        config.set16(STATUS, intxAsserted ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT);
        boolean drive = intxAsserted && (command & COMMAND_INTX_DISABLE) == 0 && interruptPin() != 0;
        if (drive) {
            for (PciCapability c : capabilityArray) {
                if (c.suppressesIntx()) {
                    drive = false;
                    break;
                }
            }
        }
        if (drive != intxDriven) {
            intxDriven = drive;
            intxLine.set(drive);
        }
    }

    /** Where the function's MSI/MSI-X messages go (set by the host bridge). */
    public final MsiSink msiSink() {
        return msiSink;
    }

    // ---- attachment and reset -------------------------------------------------------------------

    /** Connects the function to its bus; called by the host bridge. */
    final synchronized void attach(String label, AddressSpace io, AddressSpace memory, IrqLine intxLine,
                                   MsiSink msiSink) {
        if (this.io != null) {
            throw new IllegalStateException(this.label + " is already on a bus");
        }
        this.label = label;
        this.io = io;
        this.memory = memory;
        this.intxLine = intxLine;
        this.msiSink = msiSink;
        updateMappings();
        intxDriven = false;
        updateIntx();           // a function attached again drives its new line if its pin is asserted
    }

    /**
     * Disconnects the function from its bus, the inverse of {@link #attach} (a hot removal, {@link
     * PciHostBridge#remove(int, int)} or {@link PciHostBridge#remove(PcieRootPort, int)}): every
     * mapped BAR is unregistered from its space ({@link #barUnmapped} is called, as when
     * decoding stops), a driven INTx is released (a shared line then carries only what the
     * others drive), and the spaces, the line, the MSI sink and the upstream port are forgotten;
     * a BAR programmed later maps nothing and messages go nowhere. The function may be attached
     * again.
     *
     * @throws IllegalStateException if it is on no bus
     */
    final synchronized void detach() {
        if (io == null) {
            throw new IllegalStateException(label + " is on no bus");
        }
        for (int i = 0; i < BAR_COUNT; i++) {
            PciBarRegion b = bars[i];
            if (b != null && b.region != null) {
                unmap(i, b);
            }
        }
        if (intxDriven) {
            intxDriven = false;
            intxLine.set(false);
        }
        io = null;
        memory = null;
        intxLine = IrqLine.NONE;
        msiSink = MsiSink.NONE;
        upstream = null;
    }

    /** Behind {@code port}: the BARs decode only where the port forwards (set before {@link #attach}). */
    final void setUpstream(PcieRootPort port) {
        this.upstream = port;
    }

    /** Maps or unmaps the BARs again: the upstream port's windows or its decode enables changed. */
    final synchronized void upstreamChanged() {
        updateMappings();
    }

    /** "bb:dd.f" once on a bus. */
    public final String label() {
        return label;
    }

    /**
     * A PCI reset (RST#): writable and write-1-to-clear bits of configuration space go to 0, so
     * decoding stops and BARs read their type bits only; capabilities and the device model reset.
     */
    public final void reset() {
        synchronized (this) {
            config.clearGuestBits();
            command = 0;
            updateMappings();
            for (PciCapability c : capabilityArray) {
                c.reset();
            }
            resetDevice();
            intxAsserted = false;
            updateIntx();
        }
        resetCompleted();
    }

    /** The device model's own reset, after configuration space was reset (the function's lock held). */
    protected void resetDevice() {
    }

    /**
     * After {@link #reset}, on the same thread, without the function's lock: for work a reset
     * starts that must not run under it (a root port completes a pending hot-unplug here).
     */
    protected void resetCompleted() {
    }

    // ---- state ----------------------------------------------------------------------------------

    /**
     * Configuration space, the MSI-X table and the device model's state. The model is saved
     * outside the function's lock: its queue processing raises INTx while holding its own locks.
     */
    @Override
    public final PciFunctionState saveState() {
        Bytes cfg;
        MsixState msix;
        synchronized (this) {
            cfg = config.snapshot();
            MsixCapability m = msixCapability();
            msix = m == null ? null : m.saveTable();
        }
        return new PciFunctionState(cfg, msix, saveModelState());
    }

    /**
     * Checks that the state is this function's (every identifying read-only bit matches, MSI-X
     * present on both sides), takes its configuration space and MSI-X table, maps the BARs where
     * they were programmed, recomputes MSI/MSI-X enables and drives INTx; then restores the model.
     */
    @Override
    public final void restoreState(PciFunctionState s) throws DeviceStateException {
        synchronized (this) {
            DeviceStateException.checkLength(label, "configuration space bytes", s.config().length(), PciConfigSpace.SIZE);
            int at = config.firstIdentityMismatch(s.config());
            if (at >= 0) {
                throw new DeviceStateException(String.format(
                    "%s: configuration byte %#x is %#04x in the state but reads %#04x here (read-only): not the same device",
                    label, at, s.config().get(at), config.get8(at)));
            }
            MsixCapability m = msixCapability();
            if ((m == null) != (s.msix() == null)) {
                throw new DeviceStateException(label + ": the state " + (s.msix() == null ? "has no" : "has an")
                    + " MSI-X table but this function " + (m == null ? "has none" : "has one"));
            }
            if (m != null) {
                m.checkTable(label, s.msix());
            }
            config.load(s.config());
            command = config.get16(COMMAND);
            updateMappings();
            if (m != null) {
                m.restoreTable(s.msix());
            }
            for (PciCapability c : capabilityArray) {
                c.restored();
            }
            intxAsserted = (config.get16(STATUS) & STATUS_INTERRUPT) != 0;
            updateIntx();
        }
        restoreModelState(s.model());
    }

    @Override
    public final Class<PciFunctionState> stateType() {
        return PciFunctionState.class;
    }

    /** The device model's state beyond configuration space, or null when it has none. */
    protected DeviceState saveModelState() {
        return null;
    }

    /**
     * Restores what {@link #saveModelState} gave, after configuration space (so MSI-X enables are
     * known). The default accepts only null: a function with no model state.
     */
    protected void restoreModelState(DeviceState state) throws DeviceStateException {
        if (state != null) {
            throw new DeviceStateException(label + ": the state has a device model (" + state.getClass().getSimpleName()
                + ") but this function has none");
        }
    }

    /** The function's MSI-X capability (at most one, PCI 3.0 6.8.2), or null. */
    private MsixCapability msixCapability() {
        for (PciCapability c : capabilityArray) {
            if (c instanceof MsixCapability m) {
                return m;
            }
        }
        return null;
    }

    private void updateMappings() {
        if (io == null) {
            return;
        }
        for (int i = 0; i < BAR_COUNT; i++) {
            PciBarRegion b = bars[i];
            if (b == null) {
                continue;
            }
            long target = decodeAddress(i, b);
            if (target == b.mappedAddress) {
                continue;
            }
            AddressSpace space = b.isIo() ? io : memory;
            if (b.region != null) {
                unmap(i, b);
            }
            if (target >= 0) {
                try {
                    b.region = space.register(label + " " + b.name(), target, b.size(), b.device());
                    b.mappedAddress = target;
                } catch (IllegalArgumentException e) {
                    // A guest may program a BAR over another region or outside the space: the BAR
                    // then decodes nothing (as a real bus would leave the access to someone else).
                    LOG.log(System.Logger.Level.WARNING, "{0}: BAR {1} not mapped: {2}", label, i, e.getMessage());
                    continue;
                }
                barMapped(i, b, target);
            }
        }
    }

    /** Unregisters BAR {@code i}'s region from its space and tells the model. */
    private void unmap(int i, PciBarRegion b) {
        long old = b.mappedAddress;
        (b.isIo() ? io : memory).unregister(b.region);
        b.region = null;
        b.mappedAddress = -1;
        barUnmapped(i, b, old);
    }

    /** Where BAR {@code i} should decode now, or -1. */
    private long decodeAddress(int i, PciBarRegion b) {
        if ((command & (b.isIo() ? COMMAND_IO : COMMAND_MEMORY)) == 0) {
            return -1;
        }
        long addr = barAddress(i);
        long last = addr + b.size() - 1;
        if (addr == 0 || last < addr) {
            return -1;
        }
        // A BAR that is being sized (all-ones) decodes nothing: its last byte would be the top
        // of the space (the same rule as QEMU's pci_bar_address).
        long top = b.isIo() ? 0xFFFF : b.is64Bit() ? -1L : 0xFFFF_FFFFL;
        if (Long.compareUnsigned(last, top) >= 0) {
            return -1;
        }
        PcieRootPort port = upstream;
        if (port != null && !port.forwards(b.isIo(), addr, last)) {
            return -1;
        }
        return addr;
    }

    @Override
    public String toString() {
        return String.format("%s [%04x:%04x class %06x]", label, vendorId(), deviceId(), classCode());
    }
}
