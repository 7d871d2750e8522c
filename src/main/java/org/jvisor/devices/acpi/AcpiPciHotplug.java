package org.jvisor.devices.acpi;

import java.util.Objects;
import java.util.Set;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;

/**
 * ACPI PCI hot-plug of the pc machine's root bus, the register interface of QEMU 7.2's
 * "acpi-pci-hotplug" (hw/acpi/pcihp.c; docs/specs/acpi_pci_hotplug.rst) that the DSDT's AML
 * drives: {@link #SIZE} ports at {@link #PORT_BASE}, each a 32-bit register with one bit per
 * slot of the selected bus.
 *
 * <pre>
 * 0xAE00 PCIU  read: slots with a device just plugged ("up"); the read clears them
 * 0xAE04 PCID  read: slots whose device the host wants removed ("down")
 * 0xAE08 B0EJ  write: the guest's _EJ0 ejects the lowest slot set; read: feature bits, 0
 * 0xAE0C PCRM  read: slots that are hot-pluggable (no AML of QEMU 7.2 reads it any more)
 * 0xAE10 BNUM  read/write: the bus the other registers address (BSEL); the root bus is 0
 * 0xAE14 PIDX  write: a slot bit; read: that slot's acpi-index (jvisor has none: 0)
 * </pre>
 *
 * The flow, as QEMU's: {@link #plugged} sets a slot's up bit, {@link #requestUnplug} its down
 * bit; both raise GPE {@link #GPE} of the {@link Gpe0Block}, whose SCI makes the guest run
 * {@code \_GPE._E01}. That method reads PCIU and PCID and notifies each slot device {@code Sxx}
 * with Device Check (1) for an up bit, Eject Request (3) for a down bit (ACPI 6.4 5.6.6). Linux's
 * acpiphp then scans the slot and assigns the new function's BARs, or unbinds the driver, removes
 * the function and runs the slot's {@code _EJ0}, which writes the slot's bit to B0EJ: that
 * completes the unplug ({@code ejected} runs) and clears the slot's up and down bits.
 *
 * <p>Only bus 0 exists here: jvisor's pc has no PCI bridges, so a BNUM other than 0 selects a bus
 * with no slots (its registers read 0, its ejects do nothing), as in QEMU for a BSEL no bus has;
 * a BNUM outside 0-255 makes every register read 0, as QEMU's. The DSDT still writes BNUM = 0
 * (its {@code BSEL}) before each access, as QEMU 7.2's does for the root bus, so that the same
 * AML would address bridges if jvisor grew them.
 *
 * <p>Accesses are 32-bit at a register's offset (QEMU's region takes 4-byte accesses only);
 * others read all-ones and their writes are ignored.
 *
 * <p>Threads: {@link #plugged} and {@link #requestUnplug} come from the monitor, register
 * accesses from vCPUs, {@link #reset} from the machine's reset; all take this device's lock
 * (and, inside it, the GPE block's). An {@code ejected} callback runs on the thread that
 * completed the eject (the vCPU writing B0EJ, or the one resetting the machine) after that lock
 * is released, so it may call back into this device.
 */
public final class AcpiPciHotplug implements BusDevice, StatefulDevice<AcpiPciHotplugState> {

    /** I/O port of the register block (QEMU's ACPI_PCIHP_ADDR). */
    public static final int PORT_BASE = 0xAE00;
    /** Ports of the block: six registers (QEMU 7.2's ACPI_PCIHP_SIZE, with PIDX). */
    public static final int SIZE = 0x18;

    /** PCIU, QEMU's PCI_UP_BASE: slots with a device plugged, cleared by the read. */
    public static final int PCIU_OFFSET = 0x00;
    /** PCID, QEMU's PCI_DOWN_BASE: slots with an unplug pending. */
    public static final int PCID_OFFSET = 0x04;
    /** B0EJ, QEMU's PCI_EJ_BASE: the eject register (reads the hot-plug features, none). */
    public static final int B0EJ_OFFSET = 0x08;
    /** PCRM, QEMU's PCI_RMV_BASE: the hot-pluggable slots. */
    public static final int PCRM_OFFSET = 0x0C;
    /** BNUM, QEMU's PCI_SEL_BASE: the bus selector (BSEL). */
    public static final int BNUM_OFFSET = 0x10;
    /** PIDX, QEMU's PCI_AIDX_BASE: the acpi-index query. */
    public static final int PIDX_OFFSET = 0x14;

    public static final int PCIU_PORT = PORT_BASE + PCIU_OFFSET;
    public static final int PCID_PORT = PORT_BASE + PCID_OFFSET;
    public static final int B0EJ_PORT = PORT_BASE + B0EJ_OFFSET;
    public static final int BNUM_PORT = PORT_BASE + BNUM_OFFSET;

    /** The GPE0 event of PCI hot-plug, QEMU's ACPI_PCI_HOTPLUG_STATUS (bit 1): the DSDT's \_GPE._E01. */
    public static final int GPE = 1;
    /** The BSEL of the root bus, bus 0. */
    public static final int ROOT_BSEL = 0;
    /** BSEL values QEMU accepts (ACPI_PCIHP_MAX_HOTPLUG_BUS); others make every register read 0. */
    public static final int MAX_BSEL = 255;
    /** Slots of a bus. */
    public static final int SLOTS = 32;

    private static final String NAME = "ACPI PCI hot-plug";

    private final Gpe0Block gpe;
    /** Bit s: slot s is hot-pluggable. */
    private final int hotpluggable;
    private int up;
    private int down;
    private int bsel;
    /** Per slot: what to run when the guest ejects it, while an unplug the monitor asked for is pending. */
    private final Runnable[] ejected = new Runnable[SLOTS];

    /**
     * @param gpe             the GPE0 block whose event {@link #GPE} this raises
     * @param notHotpluggable slots of bus 0 that hold functions which cannot be plugged or
     *                        unplugged, as QEMU excludes them (the host bridge at 0, the PIIX3
     *                        at 1...); every other slot is hot-pluggable, occupied or not
     */
    public AcpiPciHotplug(Gpe0Block gpe, Set<Integer> notHotpluggable) {
        this.gpe = Objects.requireNonNull(gpe);
        this.hotpluggable = hotpluggableMask(notHotpluggable);
    }

    /** The slots (bit s for slot s) that are hot-pluggable when {@code notHotpluggable} are not: the DSDT's Sxx devices. */
    public static int hotpluggableMask(Set<Integer> notHotpluggable) {
        int mask = -1;
        for (int s : notHotpluggable) {
            checkSlot(s);
            mask &= ~(1 << s);
        }
        return mask;
    }

    private static void checkSlot(int slot) {
        if (slot < 0 || slot >= SLOTS) {
            throw new IllegalArgumentException("PCI slot " + slot + " is not 0-" + (SLOTS - 1));
        }
    }

    private void checkHotpluggable(int slot) {
        checkSlot(slot);
        if (!hotpluggable(slot)) {
            throw new IllegalArgumentException(String.format("PCI slot %#x of bus 0 is not hot-pluggable", slot));
        }
    }

    /** Whether {@code slot} of bus 0 takes hot-plug and hot-unplug. */
    public boolean hotpluggable(int slot) {
        checkSlot(slot);
        return (hotpluggable & 1 << slot) != 0;
    }

    /** The hot-pluggable slots, bit s for slot s. */
    public int hotpluggableSlots() {
        return hotpluggable;
    }

    /**
     * A function was just put at {@code slot}.0 of bus 0: the slot's up bit, GPE {@link #GPE},
     * the SCI if the guest enabled that event. The guest then scans the slot.
     *
     * @throws IllegalArgumentException the slot is not hot-pluggable
     */
    public synchronized void plugged(int slot) {
        checkHotpluggable(slot);
        up |= 1 << slot;
        gpe.raise(GPE);
    }

    /**
     * Asks the guest to give up the function at {@code slot}: the slot's down bit, GPE
     * {@link #GPE}. When the guest's {@code _EJ0} writes the slot to B0EJ (or the machine is
     * reset first), {@code ejected} runs, once, on that thread and without this device's lock;
     * it is to take the function off the bus and must not throw. A guest that ignores the
     * request leaves it pending (QEMU has no time-out either).
     *
     * @throws IllegalArgumentException the slot is not hot-pluggable
     * @throws IllegalStateException    an unplug of the slot is pending already
     */
    public synchronized void requestUnplug(int slot, Runnable ejected) {
        checkHotpluggable(slot);
        Objects.requireNonNull(ejected);
        int bit = 1 << slot;
        if ((down & bit) != 0) {
            throw new IllegalStateException(String.format("an unplug of PCI slot %#x is pending", slot));
        }
        down |= bit;
        this.ejected[slot] = ejected;
        gpe.raise(GPE);
    }

    /** Whether an unplug of {@code slot} waits for the guest's eject. */
    public synchronized boolean unplugPending(int slot) {
        checkSlot(slot);
        return (down & 1 << slot) != 0;
    }

    /**
     * A system reset: pending unplugs complete, as QEMU's acpi_pcihp_reset ejects them ("execute
     * any pending removes during reset"), each {@code ejected} running on this thread; BNUM goes
     * back to the root bus. Up bits of plugs the guest has not seen yet stay, as in QEMU (the
     * guest finds those functions when it enumerates the bus anyway).
     */
    public void reset() {
        Runnable[] complete = new Runnable[SLOTS];
        synchronized (this) {
            for (int slot = 0; slot < SLOTS; slot++) {
                if ((down & 1 << slot) != 0) {
                    complete[slot] = eject(slot);
                }
            }
            bsel = ROOT_BSEL;
        }
        for (Runnable r : complete) {
            if (r != null) {
                r.run();
            }
        }
    }

    /** The guest (or a reset) ejects {@code slot} of bus 0: its request is complete. Returns what to run. */
    private Runnable eject(int slot) {
        int bit = 1 << slot;
        up &= ~bit;
        down &= ~bit;
        Runnable r = ejected[slot];
        ejected[slot] = null;
        return r;
    }

    @Override
    public synchronized AcpiPciHotplugState saveState() {
        return new AcpiPciHotplugState(up, down, bsel);
    }

    /**
     * Restores the registers. An {@code ejected} callback registered here stays for a slot that
     * is pending in {@code s} and is dropped otherwise; a slot pending in {@code s} without one
     * (a state from another machine) completes its eject without running anything.
     */
    @Override
    public synchronized void restoreState(AcpiPciHotplugState s) throws DeviceStateException {
        DeviceStateException.checkBits(NAME, "PCIU", s.up() & 0xFFFF_FFFFL, hotpluggable & 0xFFFF_FFFFL);
        DeviceStateException.checkBits(NAME, "PCID", s.down() & 0xFFFF_FFFFL, hotpluggable & 0xFFFF_FFFFL);
        up = s.up();
        down = s.down();
        bsel = s.busSelect();
        for (int slot = 0; slot < SLOTS; slot++) {
            if ((down & 1 << slot) == 0) {
                ejected[slot] = null;
            }
        }
    }

    @Override
    public Class<AcpiPciHotplugState> stateType() {
        return AcpiPciHotplugState.class;
    }

    /** Whether BNUM selects the root bus, the only one with slots. */
    private boolean rootSelected() {
        return bsel == ROOT_BSEL;
    }

    @Override
    public long read(long offset, int size) {
        if (size != 4 || (offset & 3) != 0) {
            return size >= 8 ? -1L : (1L << (8 * size)) - 1;
        }
        synchronized (this) {
            if (bsel < 0 || bsel > MAX_BSEL) {
                return 0;
            }
            boolean root = rootSelected();
            int v = switch ((int) offset) {
                case PCIU_OFFSET -> {
                    int u = root ? up : 0;
                    up = root ? 0 : up; // QEMU 7.2 (not its legacy PIIX mode) clears PCIU as it is read
                    yield u;
                }
                case PCID_OFFSET -> root ? down : 0;
                case PCRM_OFFSET -> root ? hotpluggable : 0;
                case BNUM_OFFSET -> bsel;
                default -> 0; // B0EJ: no hot-plug features; PIDX: no function has an acpi-index
            };
            return v & 0xFFFF_FFFFL;
        }
    }

    @Override
    public void write(long offset, int size, long value) {
        if (size != 4 || (offset & 3) != 0) {
            return;
        }
        int v = (int) value;
        Runnable done = null;
        synchronized (this) {
            switch ((int) offset) {
                case B0EJ_OFFSET -> {
                    // QEMU ejects the lowest slot written; nothing for 0 or another bus. A slot
                    // that is not hot-pluggable has its bits cleared and keeps its function.
                    if (v != 0 && rootSelected()) {
                        done = eject(Integer.numberOfTrailingZeros(v));
                    }
                }
                case BNUM_OFFSET -> bsel = v;
                default -> { } // PIDX selects a slot whose acpi-index (none) PIDX then reads
            }
        }
        if (done != null) {
            done.run();
        }
    }
}
