package org.jvisor.devices.acpi;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StateDecoder;
import org.jvisor.devices.state.StateEncoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hot-plug registers driven as the DSDT's AML does (32-bit accesses: PCNT writes BNUM, reads
 * PCIU and PCID; _EJ0 writes BNUM then B0EJ), with the GPE0 block and SCI they signal through.
 */
class AcpiPciHotplugTest {
    private static final int GPE_BIT = 1 << AcpiPciHotplug.GPE;

    private boolean sci;
    private final Gpe0Block gpe = new Gpe0Block(level -> sci = level, Gpe0Block.Chipset.PIIX4);
    /** As the pc machine: the host bridge at 0, the PIIX3 at 1. */
    private final AcpiPciHotplug hp = new AcpiPciHotplug(gpe, Set.of(0, 1));
    private final List<String> ejected = new ArrayList<>();

    private long r32(int off) {
        return hp.read(off, 4);
    }

    private void w32(int off, long v) {
        hp.write(off, 4, v);
    }

    /** What \_GPE._E01 does after ACPICA cleared the GPE: PCNT's register reads. */
    private long[] pcnt() {
        w32(AcpiPciHotplug.BNUM_OFFSET, AcpiPciHotplug.ROOT_BSEL);
        return new long[] {r32(AcpiPciHotplug.PCIU_OFFSET), r32(AcpiPciHotplug.PCID_OFFSET)};
    }

    /** What a slot's _EJ0 does through PCEJ (BSEL, _SUN). */
    private void ej0(int slot) {
        w32(AcpiPciHotplug.BNUM_OFFSET, AcpiPciHotplug.ROOT_BSEL);
        w32(AcpiPciHotplug.B0EJ_OFFSET, 1L << slot);
    }

    /** pc's state: one bus, the root bus. */
    private static AcpiPciHotplugState rootBus(int up, int down, int bsel) {
        return new AcpiPciHotplugState(List.of(new AcpiPciHotplugState.Bus(up, down)), bsel);
    }

    private Runnable record(String what) {
        return () -> ejected.add(what);
    }

    @Test
    void layoutIsQemu72s() {
        assertEquals(0xAE00, AcpiPciHotplug.PORT_BASE);
        assertEquals(0xAE00, hp.port());
        assertEquals(0x18, AcpiPciHotplug.SIZE);
        assertEquals(0xAE00, AcpiPciHotplug.PCIU_PORT);
        assertEquals(0xAE04, AcpiPciHotplug.PCID_PORT);
        assertEquals(0xAE08, AcpiPciHotplug.B0EJ_PORT);
        assertEquals(0xAE10, AcpiPciHotplug.BNUM_PORT);
        assertEquals(1, AcpiPciHotplug.GPE);
    }

    @Test
    void plugSetsTheUpBitAndGpe1AndTheSciWhenEnabled() {
        gpe.write(Gpe0Block.Chipset.PIIX4.enableOffset(), 1, GPE_BIT);
        hp.plugged(3);
        assertEquals(GPE_BIT, gpe.read(Gpe0Block.STS_OFFSET, 1));
        assertTrue(sci);
        // ACPICA clears the edge-triggered GPE (write 1), then runs _E01.
        gpe.write(Gpe0Block.STS_OFFSET, 1, GPE_BIT);
        assertFalse(sci);
        long[] r = pcnt();
        assertEquals(1L << 3, r[0], "PCIU: Device Check for S18");
        assertEquals(0, r[1]);
        assertEquals(0, r32(AcpiPciHotplug.PCIU_OFFSET), "reading PCIU cleared it");
    }

    @Test
    void plugWithTheGpeDisabledLeavesTheSciLow() {
        hp.plugged(5);
        assertEquals(GPE_BIT, gpe.read(Gpe0Block.STS_OFFSET, 1));
        assertFalse(sci);
        gpe.write(Gpe0Block.Chipset.PIIX4.enableOffset(), 1, GPE_BIT); // the guest enables it later: the event is still there
        assertTrue(sci);
    }

    @Test
    void unplugCompletesOnceWhenTheGuestEjects() {
        gpe.write(Gpe0Block.Chipset.PIIX4.enableOffset(), 1, GPE_BIT);
        hp.requestUnplug(4, record("slot 4"));
        assertTrue(hp.unplugPending(4));
        assertTrue(sci);
        gpe.write(Gpe0Block.STS_OFFSET, 1, GPE_BIT);
        long[] r = pcnt();
        assertEquals(0, r[0]);
        assertEquals(1L << 4, r[1], "PCID: Eject Request for S20");
        assertEquals(1L << 4, r32(AcpiPciHotplug.PCID_OFFSET), "PCID stays until the eject");
        assertEquals(List.of(), ejected);

        ej0(4);
        assertEquals(List.of("slot 4"), ejected);
        assertFalse(hp.unplugPending(4));
        assertEquals(0, r32(AcpiPciHotplug.PCID_OFFSET));
        ej0(4); // a second _EJ0 (or one after a reset) runs nothing
        assertEquals(List.of("slot 4"), ejected);
    }

    @Test
    void theCallbackRunsWithoutTheDevicesLock() throws Exception {
        // The device's lock is its monitor: the callback must run after the vCPU's write released it.
        hp.requestUnplug(6, () -> {
            assertFalse(Thread.holdsLock(hp), "the callback runs under the device's lock");
            hp.plugged(6);      // what a callback may do: call back into the device
            ejected.add("done");
        });
        ej0(6);
        assertEquals(List.of("done"), ejected);
        assertEquals(1L << 6, r32(AcpiPciHotplug.PCIU_OFFSET), "the plug made inside the callback");
    }

    @Test
    void aSecondRequestWhilePendingIsRefused() {
        hp.requestUnplug(7, record("first"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> hp.requestUnplug(7, record("second")));
        assertTrue(e.getMessage().contains("pending"), e.getMessage());
        ej0(7);
        assertEquals(List.of("first"), ejected);
        hp.requestUnplug(7, record("again")); // done: a new request is fine
        assertTrue(hp.unplugPending(7));
    }

    @Test
    void slotsThatAreNotHotpluggableRefuseBoth() {
        assertFalse(hp.hotpluggable(0));
        assertFalse(hp.hotpluggable(1));
        assertTrue(hp.hotpluggable(2));
        assertTrue(hp.hotpluggable(31));
        assertThrows(IllegalArgumentException.class, () -> hp.plugged(0));
        assertThrows(IllegalArgumentException.class, () -> hp.requestUnplug(1, record("x")));
        assertThrows(IllegalArgumentException.class, () -> hp.plugged(32));
        assertEquals(0xFFFF_FFFCL, r32(AcpiPciHotplug.PCRM_OFFSET), "PCRM: the hot-pluggable slots");
        assertEquals(0xFFFF_FFFC, AcpiPciHotplug.hotpluggableMask(Set.of(0, 1)));
        assertEquals(0, gpe.read(Gpe0Block.STS_OFFSET, 1), "nothing raised");
    }

    @Test
    void anEjectWriteTakesTheLowestSlotOnly() {
        hp.requestUnplug(2, record("slot 2"));
        hp.requestUnplug(9, record("slot 9"));
        w32(AcpiPciHotplug.B0EJ_OFFSET, (1L << 9) | (1L << 2));
        assertEquals(List.of("slot 2"), ejected, "QEMU ejects the lowest slot of the value");
        assertTrue(hp.unplugPending(9));
        w32(AcpiPciHotplug.B0EJ_OFFSET, 0);
        assertTrue(hp.unplugPending(9), "0 ejects nothing");
    }

    @Test
    void anotherBusSelectsNothing() {
        hp.plugged(3);
        hp.requestUnplug(4, record("slot 4"));
        w32(AcpiPciHotplug.BNUM_OFFSET, 1);
        assertEquals(1, r32(AcpiPciHotplug.BNUM_OFFSET));
        assertEquals(0, r32(AcpiPciHotplug.PCIU_OFFSET), "no bus 1: no slots");
        assertEquals(0, r32(AcpiPciHotplug.PCID_OFFSET));
        assertEquals(0, r32(AcpiPciHotplug.PCRM_OFFSET));
        w32(AcpiPciHotplug.B0EJ_OFFSET, 1L << 4);
        assertEquals(List.of(), ejected, "an eject on bus 1 is not one on bus 0");
        w32(AcpiPciHotplug.BNUM_OFFSET, 0x1234);
        assertEquals(0, r32(AcpiPciHotplug.BNUM_OFFSET), "outside 0-255 every register reads 0, as QEMU's");
        long[] r = pcnt();
        assertEquals(1L << 3, r[0], "bus 0's up bit survived the reads of other buses");
        assertEquals(1L << 4, r[1]);
    }

    @Test
    void featuresAndAcpiIndexReadZero() {
        assertEquals(0, r32(AcpiPciHotplug.B0EJ_OFFSET), "no hot-plug features");
        w32(AcpiPciHotplug.PIDX_OFFSET, 1L << 3);
        assertEquals(0, r32(AcpiPciHotplug.PIDX_OFFSET), "no acpi-index");
    }

    @Test
    void accessesOtherThanDwordsAreIgnored() {
        hp.plugged(3);
        assertEquals(0xFF, hp.read(AcpiPciHotplug.PCIU_OFFSET, 1));
        assertEquals(0xFFFF, hp.read(AcpiPciHotplug.PCIU_OFFSET + 2, 2));
        hp.requestUnplug(4, record("slot 4"));
        hp.write(AcpiPciHotplug.B0EJ_OFFSET, 1, 1 << 4);
        assertEquals(List.of(), ejected);
        assertEquals(1L << 3, r32(AcpiPciHotplug.PCIU_OFFSET), "the byte read did not clear PCIU");
    }

    @Test
    void resetCompletesPendingUnplugs() {
        hp.plugged(3);
        hp.requestUnplug(4, record("slot 4"));
        hp.requestUnplug(10, record("slot 10"));
        w32(AcpiPciHotplug.BNUM_OFFSET, 2);
        hp.reset();
        assertEquals(List.of("slot 4", "slot 10"), ejected);
        assertFalse(hp.unplugPending(4));
        assertFalse(hp.unplugPending(10));
        assertEquals(0, r32(AcpiPciHotplug.BNUM_OFFSET), "BNUM back on the root bus");
        assertEquals(0, r32(AcpiPciHotplug.PCID_OFFSET));
        assertEquals(1L << 3, r32(AcpiPciHotplug.PCIU_OFFSET), "an unseen plug stays, as in QEMU");
        hp.reset();
        assertEquals(2, ejected.size(), "each callback runs once");
    }

    @Test
    void saveAndRestore() throws Exception {
        hp.plugged(3);
        hp.requestUnplug(4, record("slot 4"));
        hp.requestUnplug(5, record("slot 5"));
        AcpiPciHotplugState saved = hp.saveState();
        assertEquals(rootBus(1 << 3, (1 << 4) | (1 << 5), 0), saved);
        assertEquals(saved, new StateDecoder(new StateEncoder().writeState(saved).toByteArray(), "t").readState());

        // Into another machine: the registers come back, the callbacks are that machine's.
        AcpiPciHotplug other = new AcpiPciHotplug(new Gpe0Block(level -> { }, Gpe0Block.Chipset.PIIX4), Set.of(0, 1));
        other.restoreState(saved);
        assertEquals(saved, other.saveState());
        assertTrue(other.unplugPending(4));
        other.write(AcpiPciHotplug.B0EJ_OFFSET, 4, 1L << 4);
        assertFalse(other.unplugPending(4), "the eject completes, with nothing registered to run");
        assertEquals(List.of(), ejected);

        // Into this one: a callback stays while its slot is pending in the state, else it is dropped.
        hp.restoreState(rootBus(0, 1 << 4, 0));
        ej0(5);
        ej0(4);
        assertEquals(List.of("slot 4"), ejected);

        assertThrows(DeviceStateException.class, () -> hp.restoreState(rootBus(1, 0, 0)),
            "an up bit on the host bridge's slot");
        assertThrows(DeviceStateException.class, () -> hp.restoreState(rootBus(0, 2, 0)),
            "a down bit on the PIIX3's slot");
        DeviceStateException buses = assertThrows(DeviceStateException.class, () -> hp.restoreState(
            new AcpiPciHotplugState(List.of(new AcpiPciHotplugState.Bus(0, 0), new AcpiPciHotplugState.Bus(0, 0)), 0)));
        assertEquals("ACPI PCI hot-plug: the state has 2 hot-plug buses (BSELs), this machine 1", buses.getMessage());
    }

    // ---- ejects the guest makes by itself (QEMU 7.2's acpi_pcihp_eject_slot, no request needed) ----

    @Test
    void aGuestEjectWithoutRequestTellsTheOwnerOnceAndClearsTheBits() {
        List<String> told = new ArrayList<>();
        hp.guestEject((b, slot) -> told.add(b + ":" + slot));
        hp.plugged(5);                               // plugged, the guest has not read PCIU yet
        ej0(5);                                      // e.g. echo 0 > /sys/bus/pci/slots/5/power
        assertEquals(List.of("0:5"), told);
        assertEquals(0, r32(AcpiPciHotplug.PCIU_OFFSET), "the up bit cleared, as for a requested eject");
        assertEquals(0, r32(AcpiPciHotplug.PCID_OFFSET));
        assertEquals(List.of(), ejected);
    }

    @Test
    void aRequestedEjectRunsItsCallbackAndNotTheListener() {
        List<String> told = new ArrayList<>();
        hp.guestEject((b, slot) -> told.add(b + ":" + slot));
        hp.requestUnplug(4, record("slot 4"));
        ej0(4);
        assertEquals(List.of("slot 4"), ejected);
        assertEquals(List.of(), told, "the request's own callback takes the device out");
        ej0(4);                                      // a second _EJ0: no request now, so the owner is asked
        assertEquals(List.of("0:4"), told);
        assertEquals(List.of("slot 4"), ejected);
    }

    @Test
    void slotsThatAreNotHotpluggableAndOtherBusesTellNobody() {
        List<String> told = new ArrayList<>();
        hp.guestEject((b, slot) -> told.add(b + ":" + slot));
        ej0(0);                                      // the host bridge
        ej0(1);                                      // the PIIX3: QEMU's functions that stay
        w32(AcpiPciHotplug.BNUM_OFFSET, 1);          // no bus 1
        w32(AcpiPciHotplug.B0EJ_OFFSET, 1L << 5);
        w32(AcpiPciHotplug.BNUM_OFFSET, 0);
        w32(AcpiPciHotplug.B0EJ_OFFSET, 0);          // no slot
        assertEquals(List.of(), told);
    }

    @Test
    void theListenerIsSetOnceAndRunsWithoutTheDevicesLock() {
        List<String> told = new ArrayList<>();
        hp.guestEject((b, slot) -> {
            assertFalse(Thread.holdsLock(hp), "the listener runs under the device's lock");
            hp.plugged(slot);   // what a listener may do: call back into the device
            told.add("slot " + slot);
        });
        assertThrows(IllegalStateException.class, () -> hp.guestEject((b, slot) -> { }));
        ej0(9);
        assertEquals(List.of("slot 9"), told);
        assertEquals(1L << 9, r32(AcpiPciHotplug.PCIU_OFFSET), "the plug made inside the listener");
    }

    @Test
    void ich9TellsTheBselOfTheRootPortsBus() {
        AcpiPciHotplug q35 = AcpiPciHotplug.ich9(gpe, 3);
        List<String> told = new ArrayList<>();
        q35.guestEject((b, slot) -> told.add(b + ":" + slot));
        q35.write(AcpiPciHotplug.BNUM_OFFSET, 4, 2);
        q35.write(AcpiPciHotplug.B0EJ_OFFSET, 4, 1L << 3);   // a port's bus has slot 0 only
        q35.write(AcpiPciHotplug.B0EJ_OFFSET, 4, 1L << AcpiPciHotplug.ROOT_PORT_SLOT);
        assertEquals(List.of("2:0"), told);
    }
}
