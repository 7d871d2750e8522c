package org.jvisor.devices.acpi;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;

/**
 * ACPI PCI hot-plug, the register interface of QEMU 7.2's "acpi-pci-hotplug" (hw/acpi/pcihp.c;
 * docs/specs/acpi_pci_hotplug.rst) that the DSDT's AML drives: {@link #SIZE} ports, each a 32-bit
 * register with one bit per slot of the bus BNUM selects. On pc (PIIX4) the block is at
 * {@link #PORT_BASE} and has one bus, the root bus (BSEL 0); on q35 (ICH9) it is at
 * {@link #ICH9_PORT_BASE} and has one bus per hot-pluggable pcie-root-port, whose secondary bus
 * has a single slot, device 0 (see {@link #ich9}).
 *
 * <pre>
 * +0x00 PCIU  read: slots with a device just plugged ("up"); the read clears them
 * +0x04 PCID  read: slots whose device the host wants removed ("down")
 * +0x08 B0EJ  write: the guest's _EJ0 ejects the lowest slot set; read: feature bits, 0
 * +0x0C PCRM  read: slots that are hot-pluggable (no AML of QEMU 7.2 reads it any more)
 * +0x10 BNUM  read/write: the bus the other registers address (BSEL)
 * +0x14 PIDX  write: a slot bit; read: that slot's acpi-index (jvisor has none: 0)
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
 * <p>The guest may also eject a slot the host asked nothing of (Linux: {@code echo 0 >
 * /sys/bus/pci/slots/N/power} runs the slot's {@code _EJ0}). QEMU 7.2's acpi_pcihp_eject_slot
 * removes the slot's hot-pluggable functions on any eject, request or not; here the
 * {@link GuestEject} listener of the owner does that for a hot-pluggable slot without a pending
 * request, and the slot's bits clear as for a requested eject.
 *
 * <p>The buses are BSEL 0 to {@link #buses()} - 1. A BNUM beyond them selects a bus with no slots
 * (its registers read 0, its ejects do nothing), as in QEMU for a BSEL no bus has; a BNUM
 * outside 0-255 makes every register read 0, as QEMU's. The DSDT writes BNUM (the bus's
 * {@code BSEL}) before each access, as QEMU 7.2's does.
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

    /** I/O port of pc's register block (QEMU's ACPI_PCIHP_ADDR, PIIX4). */
    public static final int PORT_BASE = 0xAE00;
    /**
     * I/O port of q35's register block (QEMU's ACPI_PCIHP_ADDR_ICH9): QEMU 7.2's q35 DSDT has
     * PCST at 0x0CC0, SEJ at 0x0CC8, BNMR at 0x0CD0 and reserves 0x0CC0-0x0CD7 (PHPR).
     */
    public static final int ICH9_PORT_BASE = 0x0CC0;
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
    /** The BSEL of pc's root bus, bus 0. */
    public static final int ROOT_BSEL = 0;
    /** BSEL values QEMU accepts (ACPI_PCIHP_MAX_HOTPLUG_BUS); others make every register read 0. */
    public static final int MAX_BSEL = 255;
    /** Slots of a bus. */
    public static final int SLOTS = 32;
    /** The one slot of a PCI Express root port's secondary bus: device 0 (a link has one device). */
    public static final int ROOT_PORT_SLOT = 0;

    private static final String NAME = "ACPI PCI hot-plug";

    private final Gpe0Block gpe;
    /** Per BSEL, bit s: slot s of that bus is hot-pluggable. */
    private final int[] hotpluggable;
    /** Per BSEL: PCIU. */
    private final int[] up;
    /** Per BSEL: PCID. */
    private final int[] down;
    private int bsel;
    /** Per BSEL and slot: what to run when the guest ejects it, while an unplug the monitor asked for is pending. */
    private final Runnable[][] ejected;
    /** Told of ejects the guest makes without a request; set once, by the owner. */
    private GuestEject guestEject;

    /**
     * The owner of the slots, told when the guest ejects a hot-pluggable slot whose unplug nobody
     * requested (QEMU 7.2 removes the slot's functions then, acpi_pcihp_eject_slot).
     */
    @FunctionalInterface
    public interface GuestEject {
        /**
         * The guest ejected {@code slot} of the bus with BSEL {@code bsel}: take out the
         * hot-pluggable functions there, if any (the slot may be empty). Runs on the vCPU thread
         * that wrote B0EJ, without this device's lock; must not throw.
         */
        void ejected(int bsel, int slot);
    }

    /**
     * pc's block (PIIX4): one bus, the root bus at BSEL {@link #ROOT_BSEL}.
     *
     * @param gpe             the GPE0 block whose event {@link #GPE} this raises
     * @param notHotpluggable slots of bus 0 that hold functions which cannot be plugged or
     *                        unplugged, as QEMU excludes them (the host bridge at 0, the PIIX3
     *                        at 1...); every other slot is hot-pluggable, occupied or not
     */
    public AcpiPciHotplug(Gpe0Block gpe, Set<Integer> notHotpluggable) {
        this(gpe, new int[] {hotpluggableMask(notHotpluggable)});
    }

    private AcpiPciHotplug(Gpe0Block gpe, int[] hotpluggable) {
        this.gpe = Objects.requireNonNull(gpe);
        if (hotpluggable.length > MAX_BSEL + 1) {
            throw new IllegalArgumentException("at most " + (MAX_BSEL + 1) + " hot-plug buses, not " + hotpluggable.length);
        }
        this.hotpluggable = hotpluggable.clone();
        this.up = new int[hotpluggable.length];
        this.down = new int[hotpluggable.length];
        this.ejected = new Runnable[hotpluggable.length][SLOTS];
    }

    /**
     * q35's block (ICH9) for {@code rootPorts} hot-pluggable root ports: BSEL 0 to
     * {@code rootPorts} - 1, one per port's secondary bus, each with slot {@link #ROOT_PORT_SLOT}
     * only (QEMU 7.2's q35 DSDT has one {@code S00} under each port). The root bus itself is not
     * hot-pluggable through ACPI on q35 and has no BSEL, as in QEMU.
     */
    public static AcpiPciHotplug ich9(Gpe0Block gpe, int rootPorts) {
        if (rootPorts < 0) {
            throw new IllegalArgumentException("negative root port count " + rootPorts);
        }
        int[] masks = new int[rootPorts];
        java.util.Arrays.fill(masks, 1 << ROOT_PORT_SLOT);
        return new AcpiPciHotplug(gpe, masks);
    }

    /** The first I/O port of these registers on this block's chipset (QEMU 7.2: PIIX4 0xae00, ICH9 0x0cc0). */
    public int port() {
        return switch (gpe.chipset()) {
            case PIIX4 -> PORT_BASE;
            case ICH9 -> ICH9_PORT_BASE;
        };
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

    private void checkBus(int bsel) {
        if (bsel < 0 || bsel >= hotpluggable.length) {
            throw new IllegalArgumentException("no hot-plug bus with BSEL " + bsel + " (there are " + hotpluggable.length + ")");
        }
    }

    private void checkHotpluggable(int bsel, int slot) {
        if (!hotpluggable(bsel, slot)) {
            throw new IllegalArgumentException(String.format("PCI slot %#x of the bus with BSEL %d is not hot-pluggable", slot, bsel));
        }
    }

    /**
     * Sets who is told of ejects the guest makes by itself (without one, such an eject only
     * clears the slot's bits).
     *
     * @throws IllegalStateException one is set already
     */
    public synchronized void guestEject(GuestEject listener) {
        Objects.requireNonNull(listener);
        if (guestEject != null) {
            throw new IllegalStateException(NAME + ": the guest-eject listener is set already");
        }
        guestEject = listener;
    }

    /** How many buses the block has (BSEL 0 to this - 1). */
    public int buses() {
        return hotpluggable.length;
    }

    /** Whether {@code slot} of bus 0 takes hot-plug and hot-unplug. */
    public boolean hotpluggable(int slot) {
        return hotpluggable(ROOT_BSEL, slot);
    }

    /** Whether {@code slot} of the bus with BSEL {@code bsel} takes hot-plug and hot-unplug. */
    public boolean hotpluggable(int bsel, int slot) {
        checkBus(bsel);
        checkSlot(slot);
        return (hotpluggable[bsel] & 1 << slot) != 0;
    }

    /** The hot-pluggable slots of bus 0, bit s for slot s. */
    public int hotpluggableSlots() {
        return hotpluggable[ROOT_BSEL];
    }

    /** {@link #plugged(int, int)} on bus 0 (pc). */
    public void plugged(int slot) {
        plugged(ROOT_BSEL, slot);
    }

    /**
     * A function was just put at {@code slot}.0 of the bus with BSEL {@code bsel}: the slot's up
     * bit, GPE {@link #GPE}, the SCI if the guest enabled that event. The guest then scans the slot.
     *
     * @throws IllegalArgumentException no such bus, or the slot is not hot-pluggable
     */
    public synchronized void plugged(int bsel, int slot) {
        checkHotpluggable(bsel, slot);
        up[bsel] |= 1 << slot;
        gpe.raise(GPE);
    }

    /** {@link #requestUnplug(int, int, Runnable)} on bus 0 (pc). */
    public void requestUnplug(int slot, Runnable ejected) {
        requestUnplug(ROOT_BSEL, slot, ejected);
    }

    /**
     * Asks the guest to give up the function at {@code slot} of the bus with BSEL {@code bsel}:
     * the slot's down bit, GPE {@link #GPE}. When the guest's {@code _EJ0} writes the slot to B0EJ
     * with that bus selected (or the machine is reset first), {@code ejected} runs, once, on that
     * thread and without this device's lock; it is to take the function off the bus and must not
     * throw. A guest that ignores the request leaves it pending (QEMU has no time-out either).
     *
     * @throws IllegalArgumentException no such bus, or the slot is not hot-pluggable
     * @throws IllegalStateException    an unplug of the slot is pending already
     */
    public synchronized void requestUnplug(int bsel, int slot, Runnable ejected) {
        checkHotpluggable(bsel, slot);
        Objects.requireNonNull(ejected);
        int bit = 1 << slot;
        if ((down[bsel] & bit) != 0) {
            throw new IllegalStateException(String.format("an unplug of PCI slot %#x is pending", slot));
        }
        down[bsel] |= bit;
        this.ejected[bsel][slot] = ejected;
        gpe.raise(GPE);
    }

    /** Whether an unplug of {@code slot} of bus 0 waits for the guest's eject. */
    public boolean unplugPending(int slot) {
        return unplugPending(ROOT_BSEL, slot);
    }

    /** Whether an unplug of {@code slot} of the bus with BSEL {@code bsel} waits for the guest's eject. */
    public synchronized boolean unplugPending(int bsel, int slot) {
        checkBus(bsel);
        checkSlot(slot);
        return (down[bsel] & 1 << slot) != 0;
    }

    /**
     * A system reset: pending unplugs complete, as QEMU's acpi_pcihp_reset ejects them ("execute
     * any pending removes during reset"), each {@code ejected} running on this thread; BNUM goes
     * back to 0. Up bits of plugs the guest has not seen yet stay, as in QEMU (the guest finds
     * those functions when it enumerates the bus anyway).
     */
    public void reset() {
        List<Runnable> complete = new ArrayList<>();
        synchronized (this) {
            for (int b = 0; b < hotpluggable.length; b++) {
                for (int slot = 0; slot < SLOTS; slot++) {
                    if ((down[b] & 1 << slot) != 0) {
                        Runnable r = eject(b, slot);
                        if (r != null) {
                            complete.add(r);
                        }
                    }
                }
            }
            bsel = 0;
        }
        complete.forEach(Runnable::run);
    }

    /** The guest (or a reset) ejects {@code slot} of bus {@code b}: its request is complete. Returns what to run. */
    private Runnable eject(int b, int slot) {
        int bit = 1 << slot;
        up[b] &= ~bit;
        down[b] &= ~bit;
        Runnable r = ejected[b][slot];
        ejected[b][slot] = null;
        return r;
    }

    @Override
    public synchronized AcpiPciHotplugState saveState() {
        List<AcpiPciHotplugState.Bus> buses = new ArrayList<>(hotpluggable.length);
        for (int b = 0; b < hotpluggable.length; b++) {
            buses.add(new AcpiPciHotplugState.Bus(up[b], down[b]));
        }
        return new AcpiPciHotplugState(buses, bsel);
    }

    /**
     * Restores the registers. The state must have this block's buses (the same BSELs); each
     * bus's up and down bits only its hot-pluggable slots. An {@code ejected} callback registered
     * here stays for a slot that is pending in {@code s} and is dropped otherwise; a slot pending
     * in {@code s} without one (a state from another machine) completes its eject without running
     * anything.
     */
    @Override
    public synchronized void restoreState(AcpiPciHotplugState s) throws DeviceStateException {
        List<AcpiPciHotplugState.Bus> buses = s.buses();
        if (buses.size() != hotpluggable.length) {
            throw new DeviceStateException(String.format("%s: the state has %d hot-plug buses (BSELs), this machine %d",
                NAME, buses.size(), hotpluggable.length));
        }
        for (int b = 0; b < buses.size(); b++) {
            AcpiPciHotplugState.Bus bus = buses.get(b);
            DeviceStateException.checkBits(NAME, "PCIU of BSEL " + b, bus.up() & 0xFFFF_FFFFL, hotpluggable[b] & 0xFFFF_FFFFL);
            DeviceStateException.checkBits(NAME, "PCID of BSEL " + b, bus.down() & 0xFFFF_FFFFL, hotpluggable[b] & 0xFFFF_FFFFL);
        }
        for (int b = 0; b < buses.size(); b++) {
            up[b] = buses.get(b).up();
            down[b] = buses.get(b).down();
            for (int slot = 0; slot < SLOTS; slot++) {
                if ((down[b] & 1 << slot) == 0) {
                    ejected[b][slot] = null;
                }
            }
        }
        bsel = s.busSelect();
    }

    @Override
    public Class<AcpiPciHotplugState> stateType() {
        return AcpiPciHotplugState.class;
    }

    /** Whether BNUM selects one of this block's buses. */
    private boolean busSelected() {
        return bsel >= 0 && bsel < hotpluggable.length;
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
            boolean selected = busSelected();
            int v = switch ((int) offset) {
                case PCIU_OFFSET -> {
                    if (!selected) {
                        yield 0;
                    }
                    int u = up[bsel];
                    up[bsel] = 0; // QEMU 7.2 (not its legacy PIIX mode) clears PCIU as it is read
                    yield u;
                }
                case PCID_OFFSET -> selected ? down[bsel] : 0;
                case PCRM_OFFSET -> selected ? hotpluggable[bsel] : 0;
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
                    // QEMU ejects the lowest slot written; nothing for 0 or a bus it does not have.
                    // A slot that is not hot-pluggable has its bits cleared and keeps its function
                    // (QEMU's acpi_pcihp_pc_no_hotplug functions stay). A hot-pluggable slot
                    // nobody asked for loses its functions all the same, as QEMU 7.2's.
                    if (v != 0 && busSelected()) {
                        int b = bsel;
                        int slot = Integer.numberOfTrailingZeros(v);
                        done = eject(b, slot);
                        GuestEject owner = guestEject;
                        if (done == null && owner != null && (hotpluggable[b] & 1 << slot) != 0) {
                            done = () -> owner.ejected(b, slot);
                        }
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
