package org.jvisor.devices.acpi;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StateDecoder;
import org.jvisor.devices.state.StateEncoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * q35's ACPI PCI hot-plug (QEMU 7.2's ICH9 with acpi-pci-hotplug-with-bridge-support=on): one bus
 * per root port, selected by BNUM, each with slot 0 only, signalled through ICH9's 16-byte GPE0
 * block. Driven as the DSDT's AML does: PCNT of each port writes its BSEL to BNUM and reads PCIU and
 * PCID; a slot's _EJ0 writes BNUM, then B0EJ.
 */
class AcpiPciHotplugIch9Test {
    private static final int GPE_BIT = 1 << AcpiPciHotplug.GPE;
    /** GPE0_EN of ICH9's block: after its 8 status bytes. */
    private static final int EN = Gpe0Block.Chipset.ICH9.enableOffset();

    private boolean sci;
    private final Gpe0Block gpe = new Gpe0Block(level -> sci = level, Gpe0Block.Chipset.ICH9);
    /** Three hot-pluggable root ports: BSEL 0, 1, 2. */
    private final AcpiPciHotplug hp = AcpiPciHotplug.ich9(gpe, 3);
    private final List<String> ejected = new ArrayList<>();

    private long r32(int off) {
        return hp.read(off, 4);
    }

    private void w32(int off, long v) {
        hp.write(off, 4, v);
    }

    /** One port's PCNT: BNUM = bsel, then PCIU and PCID. */
    private long[] pcnt(int bsel) {
        w32(AcpiPciHotplug.BNUM_OFFSET, bsel);
        return new long[] {r32(AcpiPciHotplug.PCIU_OFFSET), r32(AcpiPciHotplug.PCID_OFFSET)};
    }

    /** PCEJ (bsel, slot). */
    private void ej0(int bsel, int slot) {
        w32(AcpiPciHotplug.BNUM_OFFSET, bsel);
        w32(AcpiPciHotplug.B0EJ_OFFSET, 1L << slot);
    }

    private Runnable record(String what) {
        return () -> ejected.add(what);
    }

    @Test
    void layoutIsQemu72sIch9() {
        assertEquals(0x0CC0, AcpiPciHotplug.ICH9_PORT_BASE);
        assertEquals(0x0CC0, hp.port());
        assertEquals(0x620, Gpe0Block.Chipset.ICH9.port());
        assertEquals(16, Gpe0Block.Chipset.ICH9.length());
        assertEquals(64, Gpe0Block.Chipset.ICH9.events());
        assertEquals(3, hp.buses());
        for (int b = 0; b < 3; b++) {
            assertTrue(hp.hotpluggable(b, 0));
            assertFalse(hp.hotpluggable(b, 1), "a root port's bus has device 0 only");
        }
    }

    @Test
    void eachBusHasItsOwnBitsSelectedByBnum() {
        gpe.write(EN, 1, GPE_BIT);
        hp.plugged(2, 0);
        assertTrue(sci, "GPE 1 raised the SCI");
        assertEquals(GPE_BIT, gpe.read(0, 1));
        gpe.write(0, 1, GPE_BIT);
        assertFalse(sci);

        assertEquals(0, pcnt(0)[0], "BSEL 0 saw nothing");
        assertEquals(0, pcnt(1)[0]);
        long[] two = pcnt(2);
        assertEquals(1, two[0], "up on BSEL 2, slot 0");
        assertEquals(0, two[1]);
        assertEquals(0, pcnt(2)[0], "PCIU cleared by its read");
        assertEquals(1, r32(AcpiPciHotplug.PCRM_OFFSET), "slot 0 hot-pluggable");
        assertEquals(2, r32(AcpiPciHotplug.BNUM_OFFSET));

        hp.requestUnplug(1, 0, record("bsel 1"));
        assertTrue(sci);
        assertEquals(0, pcnt(0)[1]);
        assertEquals(1, pcnt(1)[1], "down on BSEL 1");
        assertEquals(1, pcnt(1)[1], "PCID stays until the eject");
        assertThrows(IllegalStateException.class, () -> hp.requestUnplug(1, 0, record("again")));
        assertTrue(hp.unplugPending(1, 0));
        assertFalse(hp.unplugPending(0, 0));
    }

    @Test
    void anEjectCompletesOnlyOnTheSelectedBus() {
        hp.requestUnplug(0, 0, record("bsel 0"));
        hp.requestUnplug(2, 0, record("bsel 2"));
        ej0(1, 0);                                   // another bus: nothing pending there
        assertEquals(List.of(), ejected);
        ej0(2, 0);
        assertEquals(List.of("bsel 2"), ejected);
        assertFalse(hp.unplugPending(2, 0));
        assertTrue(hp.unplugPending(0, 0));
        assertEquals(0, pcnt(2)[1]);
        assertEquals(1, pcnt(0)[1]);
        ej0(2, 0);                                   // again: the slot is empty, nothing runs twice
        assertEquals(List.of("bsel 2"), ejected);
        ej0(0, 0);
        assertEquals(List.of("bsel 2", "bsel 0"), ejected);
    }

    @Test
    void garbageFromTheGuestIsHarmless() {
        hp.requestUnplug(0, 0, record("bsel 0"));
        ej0(0, 5);                                   // a slot the bus does not have: its bits only
        assertEquals(List.of(), ejected);
        assertTrue(hp.unplugPending(0, 0));
        w32(AcpiPciHotplug.BNUM_OFFSET, 3);          // a BSEL no port has: an empty bus
        assertEquals(0, r32(AcpiPciHotplug.PCID_OFFSET));
        assertEquals(0, r32(AcpiPciHotplug.PCRM_OFFSET));
        w32(AcpiPciHotplug.B0EJ_OFFSET, 1);
        assertEquals(3, r32(AcpiPciHotplug.BNUM_OFFSET));
        w32(AcpiPciHotplug.BNUM_OFFSET, 0x1234);     // beyond QEMU's 256 buses: every register reads 0
        assertEquals(0, r32(AcpiPciHotplug.BNUM_OFFSET));
        w32(AcpiPciHotplug.BNUM_OFFSET, -1);
        assertEquals(0, r32(AcpiPciHotplug.PCID_OFFSET));
        w32(AcpiPciHotplug.B0EJ_OFFSET, 1);
        assertEquals(List.of(), ejected);
        assertEquals(0xFF, hp.read(AcpiPciHotplug.BNUM_OFFSET, 1), "not a 32-bit access: all-ones");
        assertThrows(IllegalArgumentException.class, () -> hp.plugged(3, 0), "no such bus (the monitor's error)");
        assertThrows(IllegalArgumentException.class, () -> hp.plugged(0, 1), "not hot-pluggable");
    }

    @Test
    void resetCompletesPendingUnplugsOnEveryBus() {
        hp.requestUnplug(0, 0, record("bsel 0"));
        hp.requestUnplug(2, 0, record("bsel 2"));
        hp.plugged(1, 0);
        w32(AcpiPciHotplug.BNUM_OFFSET, 2);
        hp.reset();
        assertEquals(List.of("bsel 0", "bsel 2"), ejected);
        assertEquals(0, r32(AcpiPciHotplug.BNUM_OFFSET), "BNUM back to 0");
        assertEquals(0, pcnt(0)[1]);
        assertEquals(1, pcnt(1)[0], "an up bit the guest has not read stays, as QEMU's");
    }

    @Test
    void saveAndRestoreCarryEveryBus() throws Exception {
        hp.plugged(1, 0);
        hp.requestUnplug(2, 0, record("bsel 2"));
        w32(AcpiPciHotplug.BNUM_OFFSET, 7);
        AcpiPciHotplugState saved = hp.saveState();
        assertEquals(new AcpiPciHotplugState(List.of(new AcpiPciHotplugState.Bus(0, 0), new AcpiPciHotplugState.Bus(1, 0),
            new AcpiPciHotplugState.Bus(0, 1)), 7), saved);
        assertEquals(saved, new StateDecoder(new StateEncoder().writeState(saved).toByteArray(), "t").readState());

        AcpiPciHotplug other = AcpiPciHotplug.ich9(new Gpe0Block(level -> { }, Gpe0Block.Chipset.ICH9), 3);
        other.restoreState(saved);
        assertEquals(saved, other.saveState());
        assertTrue(other.unplugPending(2, 0));

        DeviceStateException fewer = assertThrows(DeviceStateException.class,
            () -> AcpiPciHotplug.ich9(gpe, 2).restoreState(saved));
        assertEquals("ACPI PCI hot-plug: the state has 3 hot-plug buses (BSELs), this machine 2", fewer.getMessage());
        DeviceStateException slot = assertThrows(DeviceStateException.class, () -> other.restoreState(new AcpiPciHotplugState(
            List.of(new AcpiPciHotplugState.Bus(0, 0), new AcpiPciHotplugState.Bus(2, 0), new AcpiPciHotplugState.Bus(0, 0)), 0)));
        assertTrue(slot.getMessage().contains("PCIU of BSEL 1"), slot.getMessage());
        assertEquals(saved, other.saveState(), "a refused state changes nothing");
    }
}
