package org.jvisor.devices.pci;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * A PCI Express Root Port (QEMU's pcie-root-port: vendor 0x1B36 device 0x000C, class PCI-to-PCI
 * bridge 0x060400) on the root bus, with the functions of device 0 of its secondary bus behind it
 * (a PCIe link has one device, PCIe base spec 7.3.1; Linux scans only device 0 below a downstream
 * port). A type-1 header (PCI-to-PCI Bridge spec 1.2, 3.2): primary, secondary and subordinate bus
 * numbers the guest assigns (the host bridge routes configuration accesses to bus = secondary
 * here); a 16-bit I/O window, a memory window and a 64-bit prefetchable window, all writable with
 * the spec's granularity (4 KiB, 1 MiB, 1 MiB); bridge control with secondary bus reset, which
 * resets the functions behind it; no BARs, no expansion ROM. Its PCI Express capability is
 * version 2, type Root Port, with an x1 2.5 GT/s link whose port number is {@code port=}, and a
 * slot numbered {@code slot=}.
 *
 * <p>The slot ({@link PcieSlot}) has native PCI Express hot-plug (6.7) unless the port is built
 * with {@code hotplug=off}: attention button, power controller, indicators, interlock, presence
 * and link state, its events interrupting through an MSI capability (one vector) or INTx pin A.
 * The machine hot-plugs a card by adding it behind the port ({@link PciHostBridge#add(PcieRootPort,
 * int, PciDevice)}) and calling {@link #hotPlugged()}; QMP device_del is {@link #requestUnplug},
 * which removes the card once the guest has powered the slot off. While the guest keeps the slot
 * powered off, the card behind is unreachable (configuration reads all-ones, no BAR decodes) and
 * was reset when the power went. Without hot-plug the port has no interrupt pin and no MSI (it
 * raises nothing: no hot-plug, PME or AER) and the slot only shows presence.
 *
 * <p>The port forwards to the functions behind it what its windows hold (3.2.5.6-3.2.5.10):
 * I/O within the I/O window while COMMAND's I/O enable is set, memory within the memory window or
 * the prefetchable window while the memory enable is set; a BAR outside
 * them decodes nothing, as on hardware. The functions' BARs are mapped again whenever the windows,
 * the enables or the slot's power change. (ISA and VGA forwarding are register bits only.)
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
    private final PcieSlot slot;
    private boolean inSecondaryReset;
    /** A pending unplug a reset completed, run once the reset releases the lock ({@link #resetCompleted}). */
    private Runnable unplugAfterReset;
    /**
     * What the port forwards; read by the functions behind without the port's lock (they map
     * their BARs under their own, and the port remaps them under its lock: port, then function).
     */
    private volatile BridgeWindows windows = BridgeWindows.NONE;

    /** A port with hot-plug ({@code pcie-root-port}'s default, {@code hotplug=on}). */
    public PcieRootPort(int port, int slot, boolean multifunction) {
        this(port, slot, multifunction, true);
    }

    /**
     * @param port           the port number (Link Capabilities 31:24)
     * @param slot           the physical slot number (Slot Capabilities 31:19)
     * @param multifunction  whether the header says multi-function even without other functions
     * @param hotplugCapable native hot-plug on the slot ({@code hotplug=on}); off, the slot only
     *                       shows presence and the port has no interrupt
     */
    public PcieRootPort(int port, int slot, boolean multifunction, boolean hotplugCapable) {
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
        PcieCapability pcie = addCapability(new PcieCapability(PcieCapability.TYPE_ROOT_PORT, port, slot));
        MsiCapability msi = null;
        if (hotplugCapable) {
            // 6.7.3.4: hot-plug events interrupt through MSI when enabled, else INTx (pin A, which
            // the host bridge routes for the port's slot on bus 0).
            setInterruptPin(1);
            msi = addCapability(new MsiCapability(1, false));
        }
        this.slot = new PcieSlot(this, pcie, msi);
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
        slot.presenceChanged(true, false);
        updateMultiFunction();
    }

    /**
     * Takes the function at 00.{@code function} out ({@link PciHostBridge#remove(PcieRootPort, int)}
     * unwires it). The last one out empties the slot: presence and link down, with Presence
     * Detect Changed and Data Link Layer State Changed (if the link was up) and an interrupt if
     * enabled, as when a card leaves; a pending unplug is dropped without running.
     *
     * @throws IllegalArgumentException if there is no function there
     */
    synchronized PciDevice remove(int function) {
        if (function < 0 || function >= functions.length || functions[function] == null) {
            throw new IllegalArgumentException("no function " + function + " behind " + label());
        }
        PciDevice d = functions[function];
        functions[function] = null;
        updateMultiFunction();
        boolean empty = true;
        for (PciDevice f : functions) {
            empty &= f == null;
        }
        if (empty) {
            slot.presenceChanged(false, true);
        }
        return d;
    }

    private void updateMultiFunction() {
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
     * through this port, or null: only the secondary bus, device 0, once the guest numbered it,
     * and only while the slot has power.
     */
    synchronized PciDevice downstream(int bus, int slot, int function) {
        int secondary = config().get8(SECONDARY_BUS);
        if (secondary == 0 || bus != secondary || slot != 0 || !this.slot.powered()) {
            return null;
        }
        return functions[function & 7];
    }

    // ---- hot-plug (the API of QMP device_add and device_del) ------------------------------------

    /** Whether the slot has native hot-plug ({@code hotplug=on}). */
    public boolean hotplugCapable() {
        return slot.hotplugCapable();
    }

    /**
     * QEMU's checks before a device_add into this port: call before adding the card.
     *
     * @throws IllegalStateException "Hot-plug failed: unsupported by the port device ..." without
     *         hot-plug, "slot is electromechanically locked" while the guest holds the interlock
     */
    public synchronized void checkHotPlug() {
        slot.checkHotPlug();
    }

    /**
     * Announces the function the machine put at 00.0 behind the port ({@link
     * PciHostBridge#add(PcieRootPort, int, PciDevice)}) as hot-plugged: Presence Detect Changed
     * and Attention Button Pressed (QEMU's pair, which Linux's pciehp needs), Data Link Layer State
     * Changed if the slot is powered, and the interrupt if the guest enabled it. The slot's power
     * stays the guest's: pciehp powers an empty slot off and powers it on for the new card. Add a
     * multi-function card's other functions first (QEMU's rule: function 0 last). Runs on the
     * caller's thread under the port's lock; an MSI goes to the port's sink from there.
     *
     * @throws IllegalStateException without hot-plug, or with no function at 00.0
     */
    public synchronized void hotPlugged() {
        if (functions[0] == null) {
            throw new IllegalStateException("no function at 00.0 behind " + label());
        }
        slot.hotPlugged();
    }

    /**
     * Powers the slot on for a card that ACPI PCI hot-plug announces (QEMU 7.2's
     * pcie_cap_slot_enable_power; see {@link PcieSlot#enablePower}): the card behind becomes
     * reachable without the guest touching Slot Control. Call after adding the card.
     */
    public synchronized void enableSlotPower() {
        slot.enablePower();
    }

    /**
     * QMP device_del of the card in the slot: presses the attention button (an interrupt if
     * enabled). When the guest then turns the slot off (Slot Control's power controller off and
     * power indicator off: QEMU 7.2's test; pciehp writes the indicator a second after the
     * power), the port runs {@code poweredOff} once, on the vCPU thread that made that
     * configuration write, after releasing the port's lock (and holding no other PCI lock: the
     * host bridge's configuration path takes none), so it may call {@link PciHostBridge#remove}.
     * If the slot is already powered off with its indicator off (a guest that never enabled it),
     * {@code poweredOff} runs at once on the caller's thread, after the port's lock is released.
     * A machine reset completes a pending unplug: {@code poweredOff} runs on the resetting thread
     * once the port's reset is done (under the host bridge's lock if {@link PciHostBridge#reset}
     * did it). A pending unplug is not part of a snapshot: after a restore, request it again (the
     * guest may have powered the slot off meanwhile, which then removes at once). If the card is
     * removed otherwise ({@link PciHostBridge#remove}), {@code poweredOff} never runs.
     *
     * @throws IllegalStateException "...already in the process of unplug" while one is pending;
     *         and "Hot-unplug failed: ..." when the port has no hot-plug, the slot is empty, is
     *         electromechanically locked, or the guest is busy with it (power indicator blinking)
     */
    public void requestUnplug(Runnable poweredOff) {
        Objects.requireNonNull(poweredOff, "poweredOff");
        Runnable now;
        synchronized (this) {
            now = slot.requestUnplug(poweredOff);
        }
        if (now != null) {
            now.run();
        }
    }

    /** Whether a {@link #requestUnplug} waits for the guest. */
    public synchronized boolean unplugPending() {
        return slot.unplugPending();
    }

    /** The slot's power changed (the guest's Slot Control write): the card behind loses or gains decoding. */
    void slotPowerChanged(boolean powered) {
        if (!powered) {
            // Power removed: the functions lose their state (QEMU's pci_set_power resets them).
            resetDownstream();
        }
        updateWindows();
    }

    /** The functions behind the port. */
    public synchronized List<PciDevice> downstreamFunctions() {
        List<PciDevice> l = new ArrayList<>();
        for (PciDevice d : functions) {
            if (d != null) {
                l.add(d);
            }
        }
        return l;
    }

    /** Whether the port forwards [{@code first}, {@code last}] downstream ({@link BridgeWindows#forwards}). */
    boolean forwards(boolean isIo, long first, long last) {
        return windows.forwards(isIo, first, last);
    }

    /** Reads windows, enables and slot power from the registers; remaps the functions behind on a change. */
    private void updateWindows() {
        BridgeWindows before = windows;
        BridgeWindows next = BridgeWindows.read(config(), command(), slot.powered(), before);
        if (next == before) {
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
    protected void restoreModelState(DeviceState state) throws DeviceStateException {
        super.restoreModelState(state);
        synchronized (this) {
            updateWindows();
        }
    }

    /**
     * A guest configuration write; one that reaches the slot's registers may complete a pending
     * unplug, whose continuation runs here on the writing vCPU's thread once the lock is released.
     */
    @Override
    public void writeConfig(int offset, int size, int value) {
        Runnable removal;
        synchronized (this) {
            int c = config().get16(slot.controlOffset());
            int s = config().get16(slot.statusOffset());
            super.writeConfig(offset, size, value);
            removal = slot.written(c, s, offset, size, value);
        }
        if (removal != null) {
            removal.run();
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
        unplugAfterReset = slot.reset();
        resetDownstream();
        updateWindows();
    }

    @Override
    protected void resetCompleted() {
        Runnable removal;
        synchronized (this) {
            removal = unplugAfterReset;
            unplugAfterReset = null;
        }
        if (removal != null) {
            removal.run();
        }
    }

    private void resetDownstream() {
        for (PciDevice d : functions) {
            if (d != null) {
                d.reset();
            }
        }
    }
}
