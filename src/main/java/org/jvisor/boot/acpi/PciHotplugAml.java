package org.jvisor.boot.acpi;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import org.jvisor.devices.acpi.AcpiPciHotplug;
import org.jvisor.devices.acpi.Gpe0Block;

/**
 * The DSDT's side of ACPI PCI hot-plug ({@link AcpiPciHotplug}), the AML QEMU 7.2's acpi-build.c
 * generates, with its names: for the PIIX4's root bus as below, for q35's root ports (ICH9) with
 * the same registers at 0x0CC0 and a bus per port ({@link #writeRootPorts}).
 *
 * <pre>
 * Scope (\_SB.PCI0)                         // written inside Device (PCI0)
 *     Device (GPE0) { PNP0A06, _STA 0x0B, _CRS IO (0xAFE0, 4) }   // the ports reserved, as QEMU's
 *     Device (PHPR) { PNP0A06, _STA 0x0B, _CRS IO (0xAE00, 0x18) }
 *     OperationRegion (PCST, SystemIO, 0xAE00, 8)   Field: PCIU, PCID (DWordAcc)
 *     OperationRegion (SEJ, SystemIO, 0xAE08, 4)    Field: B0EJ
 *     OperationRegion (BNMR, SystemIO, 0xAE10, 8)   Field: BNUM, PIDX
 *     Mutex (BLCK, 0)
 *     Method (PCEJ, 2)  { Acquire (BLCK); BNUM = Arg0; B0EJ = 1 &lt;&lt; Arg1; Release (BLCK); Return (0) }
 *     Name (BSEL, 0)                         // the root bus's selector
 *     Device (Sxx) { Name (_SUN, slot); Name (_ADR, slot &lt;&lt; 16); Method (_EJ0, 1) { PCEJ (BSEL, _SUN) } }
 *     Method (DVNT, 2)  { If (Arg0 &amp; (1 &lt;&lt; slot)) { Notify (Sxx, Arg1) } ... }
 *     Method (PCNT, 0)  { BNUM = 0; DVNT (PCIU, 1); DVNT (PCID, 3) }
 * Scope (\_GPE)
 *     Method (_E01, 0)  { Acquire (\_SB.PCI0.BLCK); \_SB.PCI0.PCNT (); Release (\_SB.PCI0.BLCK) }
 * </pre>
 *
 * One {@code Sxx} per hot-pluggable slot, occupied or not (a cold-plugged function can be
 * unplugged too), named {@code S%02X} of its devfn as QEMU's (S08 slot 1, S10 slot 2, ... SF8
 * slot 31), with {@code _SUN} so that Linux names its /sys/bus/pci/slots entry by it and
 * {@code _EJ0} so that acpiphp can eject it (ACPI 6.4 6.3.3). DVNT takes the register's value as
 * an argument because reading PCIU clears it: each register is read once per event. Notify value
 * 1 is Device Check, 3 Eject Request (ACPI 6.4 5.6.6); BLCK keeps PCNT's reads and an _EJ0's
 * writes of BNUM and B0EJ apart. The GPE0 and PHPR devices claim the two port ranges, which lie
 * inside PCI0's I/O window, so that the OS gives them to no BAR.
 *
 * <p>Not emitted, as jvisor has nothing for them: QEMU's per-slot ASUN and {@code _DSM} with the
 * AIDX and PDSM methods (acpi-index, PCI Firmware spec 4.6.7), the bridges' nested BSEL scopes,
 * and the descriptions of slots that are not hot-pluggable.
 */
final class PciHotplugAml {

    /** The GPE method: edge-triggered event {@link AcpiPciHotplug#GPE} (ACPI 6.4 5.6.4, General-Purpose Event Handling). */
    static final String GPE_METHOD = String.format("_E%02X", AcpiPciHotplug.GPE);
    /** The mutex QEMU's AML takes around every access of the register block. */
    static final String LOCK = "BLCK";
    private static final int FIELD_FLAGS = AmlWriter.ACC_DWORD | AmlWriter.UPDATE_WRITE_AS_ZEROS;
    private static final int WAIT_FOREVER = 0xFFFF;
    /** Notify values (ACPI 6.4 5.6.6, Device Object Notifications): Device Check and Eject Request. */
    static final int DEVICE_CHECK = 1;
    static final int EJECT_REQUEST = 3;

    private PciHotplugAml() {
    }

    /** The slot device's name: QEMU's {@code S%.02X} of the devfn of function 0. */
    static String slotName(int slot) {
        return String.format("S%02X", slot << 3);
    }

    /**
     * Writes the registers, methods and slot devices into the open {@code Device (PCI0)} of bus 0.
     *
     * @param slots the hot-pluggable slots, bit s for slot s
     */
    static void writeRootBus(AmlWriter w, int slots) {
        writeRegisters(w, Gpe0Block.Chipset.PIIX4, AcpiPciHotplug.PORT_BASE);

        w.name("BSEL").integer(AcpiPciHotplug.ROOT_BSEL);
        for (int slot = 0; slot < AcpiPciHotplug.SLOTS; slot++) {
            if ((slots & 1 << slot) == 0) {
                continue;
            }
            w.beginDevice(slotName(slot));
            w.name("_SUN").integer(slot);
            w.name("_ADR").integer((long) slot << 16); // ACPI 6.4 6.1.1: device in the high word, function 0
            w.beginMethod("_EJ0", 1, false);
            w.call("PCEJ").nameRef("BSEL").nameRef("_SUN");
            w.end();
            w.end();
        }
        writeDvnt(w, slots);
        writePcnt(w, AcpiPciHotplug.ROOT_BSEL);
    }

    /**
     * Writes, into the open {@code Device (PCI0)} of q35, the register block of ICH9
     * ({@link AcpiPciHotplug#ICH9_PORT_BASE}) and each PCI Express root port as QEMU 7.2 lays it
     * out (its q35 DSDT, read back from a guest with two and with four root ports):
     *
     * <pre>
     * Device (Sxx)                        // the port, S%02X of its devfn, in devfn order
     * {
     *     Name (_ADR, slot &lt;&lt; 16 | function)
     *     Name (BSEL, n)                   // hot-pluggable ports only
     *     Device (S00) { Name (_ADR, 0); Name (_SUN, 0); Method (_EJ0, 1) { PCEJ (BSEL, _SUN) } }
     *     Method (DVNT, 2) { If (Arg0 &amp; 1) { Notify (S00, Arg1) } }
     *     Method (PCNT, 0) { BNUM = n; DVNT (PCIU, 1); DVNT (PCID, 3) }   // hotplug=off: empty
     * }
     * Method (PCNT, 0) { ^Sxx.PCNT () ... }   // in the order of {@code ports}
     * </pre>
     *
     * Linux's acpiphp finds a port's slot by the port's ACPI companion (its {@code _ADR}) and the
     * child with {@code _ADR} 0 and {@code _EJ0}. Left out, as on pc: QEMU's ASUN and {@code _DSM}
     * (acpi-index), and the {@code Sxx} of the root bus's other functions (only {@code _ADR},
     * nothing of hot-plug).
     *
     * @param ports the root ports in the order PCNT visits them (QEMU's: the bus's child list,
     *              the port created last first)
     */
    static void writeRootPorts(AmlWriter w, List<Dsdt.RootPort> ports) {
        writeRegisters(w, Gpe0Block.Chipset.ICH9, AcpiPciHotplug.ICH9_PORT_BASE);
        List<Dsdt.RootPort> bySlot = new ArrayList<>(ports);
        bySlot.sort(Comparator.comparingInt(Dsdt.RootPort::devfn));
        int slotBit = 1 << AcpiPciHotplug.ROOT_PORT_SLOT;
        String slot = slotName(AcpiPciHotplug.ROOT_PORT_SLOT);
        for (Dsdt.RootPort p : bySlot) {
            w.beginDevice(String.format("S%02X", p.devfn()));
            w.name("_ADR").integer((long) (p.devfn() >> 3) << 16 | (p.devfn() & 7));
            if (p.bsel().isPresent()) {
                w.name("BSEL").integer(p.bsel().getAsInt());
                w.beginDevice(slot);
                w.name("_ADR").zero();
                w.name("_SUN").integer(AcpiPciHotplug.ROOT_PORT_SLOT);
                w.beginMethod("_EJ0", 1, false);
                w.call("PCEJ").nameRef("BSEL").nameRef("_SUN");
                w.end();
                w.end();
                writeDvnt(w, slotBit);
                writePcnt(w, p.bsel().getAsInt());
            } else { // hotplug=off: no BSEL, an empty PCNT, as QEMU's
                w.beginMethod("PCNT", 0, false);
                w.end();
            }
            w.end();
        }
        w.beginMethod("PCNT", 0, false);
        for (Dsdt.RootPort p : ports) {
            w.call(String.format("^S%02X.PCNT", p.devfn()));
        }
        w.end();
    }

    /** The register block's reservations, fields and lock, and PCEJ: what every hot-plug bus's AML uses. */
    private static void writeRegisters(AmlWriter w, Gpe0Block.Chipset gpe, int port) {
        reserve(w, "GPE0", "GPE0 resources", gpe.port(), gpe.length());
        reserve(w, "PHPR", "PCI Hotplug resources", port, AcpiPciHotplug.SIZE);
        w.opRegion("PCST", AmlWriter.SPACE_SYSTEM_IO, port + AcpiPciHotplug.PCIU_OFFSET, 8);
        w.beginField("PCST", FIELD_FLAGS).field("PCIU", 32).field("PCID", 32).end();
        w.opRegion("SEJ", AmlWriter.SPACE_SYSTEM_IO, port + AcpiPciHotplug.B0EJ_OFFSET, 4);
        w.beginField("SEJ", FIELD_FLAGS).field("B0EJ", 32).end();
        w.opRegion("BNMR", AmlWriter.SPACE_SYSTEM_IO, port + AcpiPciHotplug.BNUM_OFFSET, 8);
        w.beginField("BNMR", FIELD_FLAGS).field("BNUM", 32).field("PIDX", 32).end();
        w.mutex(LOCK, 0);

        // PCEJ (bsel, slot): eject one slot of one bus.
        w.beginMethod("PCEJ", 2, false);
        w.acquire(LOCK, WAIT_FOREVER);
        w.store().arg(0).nameRef("BNUM");
        w.store().shiftLeft().one().arg(1).nullTarget().nameRef("B0EJ");
        w.release(LOCK);
        w.returnOp().zero();
        w.end();
    }

    /** DVNT (bits, value): Notify each slot device of {@code slots} whose bit is set. */
    private static void writeDvnt(AmlWriter w, int slots) {
        w.beginMethod("DVNT", 2, false);
        for (int slot = 0; slot < AcpiPciHotplug.SLOTS; slot++) {
            if ((slots & 1 << slot) != 0) {
                w.beginIf().and().arg(0).integer(1L << slot).nullTarget();
                w.notifyOp().nameRef(slotName(slot)).arg(1);
                w.end();
            }
        }
        w.end();
    }

    /** PCNT: select the bus, then report its plugs and unplug requests. */
    private static void writePcnt(AmlWriter w, int bsel) {
        w.beginMethod("PCNT", 0, false);
        w.store().integer(bsel).nameRef("BNUM");
        w.call("DVNT").nameRef("PCIU").integer(DEVICE_CHECK);
        w.call("DVNT").nameRef("PCID").integer(EJECT_REQUEST);
        w.end();
    }

    /**
     * A Generic Container Device (PNP0A06) that holds {@code length} ports at {@code port}: present,
     * enabled and decoding, not shown in the UI (_STA 0x0B, ACPI 6.4 6.3.7), with QEMU's names.
     */
    private static void reserve(AmlWriter w, String name, String uid, int port, int length) {
        w.beginDevice(name);
        w.name("_HID").string("PNP0A06");
        w.name("_UID").string(uid);
        w.name("_STA").integer(0x0B);
        w.name("_CRS").beginResourceTemplate().io(port, port, 1, length).end();
        w.end();
    }

    /** Writes {@code Scope (\_GPE)} with the hot-plug event's method; at the root, after \_SB. */
    static void writeGpeScope(AmlWriter w) {
        w.beginScope("\\_GPE");
        w.beginMethod(GPE_METHOD, 0, false);
        w.acquire("\\_SB.PCI0." + LOCK, WAIT_FOREVER);
        w.call("\\_SB.PCI0.PCNT");
        w.release("\\_SB.PCI0." + LOCK);
        w.end();
        w.end();
    }
}
