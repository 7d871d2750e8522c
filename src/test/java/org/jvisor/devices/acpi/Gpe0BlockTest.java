package org.jvisor.devices.acpi;

import org.junit.jupiter.api.Test;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StateDecoder;
import org.jvisor.devices.state.StateEncoder;
import org.jvisor.devices.timer.ManualClock;
import org.jvisor.devices.timer.TimerQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The GPE0 block through its ports, as ACPICA drives it (byte accesses), and the SCI it shares with PM1. */
class Gpe0BlockTest {
    private static final int STS0 = Gpe0Block.STS_OFFSET;
    private static final int STS1 = Gpe0Block.STS_OFFSET + 1;
    private static final int EN0 = Gpe0Block.Chipset.PIIX4.enableOffset();
    private static final int EN1 = Gpe0Block.Chipset.PIIX4.enableOffset() + 1;

    private boolean sci;
    private int sciChanges;
    private final SciLine line = new SciLine(level -> {
        sci = level;
        sciChanges++;
    });
    private final Gpe0Block gpe = new Gpe0Block(line.input(), Gpe0Block.Chipset.PIIX4);

    private int r8(int off) {
        return (int) gpe.read(off, 1);
    }

    private void w8(int off, int v) {
        gpe.write(off, 1, v);
    }

    @Test
    void layoutIsQemusPiix4() {
        assertEquals(0xAFE0, Gpe0Block.Chipset.PIIX4.port());
        assertEquals(4, Gpe0Block.Chipset.PIIX4.length());
        assertEquals(2, Gpe0Block.Chipset.PIIX4.enableOffset());
        assertEquals(16, Gpe0Block.Chipset.PIIX4.events());
    }

    @Test
    void raisedEventSetsStatusAndTheSciOnlyWhenEnabled() {
        gpe.raise(1);
        assertEquals(0x02, r8(STS0));
        assertFalse(sci, "GPE 1 is not enabled");
        w8(EN0, 0x02); // ACPICA enables the GPEs that have an _Exx method
        assertEquals(0x02, r8(EN0));
        assertTrue(sci);
        assertTrue(gpe.sciAsserted());
        w8(STS0, 0x01); // another bit: nothing cleared
        assertEquals(0x02, r8(STS0));
        assertTrue(sci);
        w8(STS0, 0x02); // write 1 to clear
        assertEquals(0, r8(STS0));
        assertFalse(sci);
        assertEquals(2, sciChanges);
    }

    @Test
    void theGuestCannotSetStatusBits() {
        w8(STS0, 0xFF);
        w8(STS1, 0xFF);
        assertEquals(0, gpe.read(STS0, 2));
    }

    @Test
    void highByteEventsAndWideAccesses() {
        gpe.raise(9);
        assertEquals(0x02, r8(STS1));
        w8(EN1, 0x02);
        assertTrue(sci);
        assertEquals(0x0200_0200L, gpe.read(0, 4), "status in the low word, enable in the high word");
        gpe.write(0, 4, 0x0000_0200L); // clear GPE 9, disable everything
        assertEquals(0, gpe.read(0, 4));
        assertFalse(sci);
    }

    @Test
    void enablingAPendingEventRaisesTheSciAtOnce() {
        gpe.raise(3);
        w8(EN0, 0x08);
        assertTrue(sci);
        w8(EN0, 0); // disabled: the status stays, the SCI drops
        assertFalse(sci);
        assertEquals(0x08, r8(STS0));
    }

    @Test
    void eventsOutsideTheBlockAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> gpe.raise(16));
        assertThrows(IllegalArgumentException.class, () -> gpe.raise(-1));
    }

    @Test
    void portsPastTheBlockReadAllOnes() {
        assertEquals(0xFF, r8(4));
    }

    @Test
    void resetClearsStatusAndEnable() {
        gpe.raise(1);
        w8(EN0, 0x02);
        gpe.reset();
        assertEquals(0, gpe.read(0, 4));
        assertFalse(sci);
    }

    @Test
    void saveAndRestoreKeepTheRegistersAndTheSci() throws Exception {
        gpe.raise(1);
        w8(EN0, 0x06);
        Gpe0BlockState saved = gpe.saveState();
        assertEquals(new Gpe0BlockState(0x02, 0x06), saved);
        assertEquals(saved, new StateDecoder(new StateEncoder().writeState(saved).toByteArray(), "t").readState());

        boolean[] otherSci = {false};
        Gpe0Block other = new Gpe0Block(level -> otherSci[0] = level, Gpe0Block.Chipset.PIIX4);
        other.restoreState(saved);
        assertEquals(saved, other.saveState());
        assertTrue(otherSci[0], "the restored block drives its SCI from the registers");
        assertThrows(DeviceStateException.class, () -> other.restoreState(new Gpe0BlockState(0x1_0000, 0)));
    }

    /** PM1 and GPE0 share the SCI: it stays up while either asserts (ACPI 6.4 4.8.5.1). */
    @Test
    void theSciIsTheOrOfPm1AndGpe0() {
        AcpiPm pm = new AcpiPm(new RecordingControl(), line.input(), new TimerQueue(new ManualClock(0)));
        pm.write(AcpiPm.PM1_EVT_OFFSET + 2, 2, AcpiPm.PWRBTN_EN);
        w8(EN0, 0x02);
        pm.pressPowerButton();
        assertTrue(sci);
        gpe.raise(1);
        pm.write(AcpiPm.PM1_EVT_OFFSET, 2, AcpiPm.PWRBTN_STS); // PM1 done: GPE 1 still pending
        assertTrue(sci);
        assertTrue(line.asserted());
        w8(STS0, 0x02);
        assertFalse(sci);
        assertEquals(2, sciChanges, "one rise, one fall");
    }

    /** q35's block, ICH9's: 8 status bytes, then 8 enable bytes, 64 events; its state holds them all. */
    @Test
    void ich9sBlockHas64Events() throws Exception {
        boolean[] level = {false};
        Gpe0Block ich9 = new Gpe0Block(l -> level[0] = l, Gpe0Block.Chipset.ICH9);
        assertEquals(0x620, ich9.chipset().port());
        ich9.raise(1);
        ich9.raise(63);
        assertEquals(0x02, ich9.read(0, 1));
        assertEquals(0x80, ich9.read(7, 1));
        assertFalse(level[0]);
        ich9.write(8 + 7, 1, 0x80);                  // GPE0_EN byte 7: event 63
        assertTrue(level[0]);
        assertEquals(0x80, ich9.read(15, 1));
        assertEquals(0xFF, ich9.read(16, 1), "past the block");
        assertEquals(new Gpe0BlockState(1L << 63 | 2, 1L << 63), ich9.saveState());
        ich9.write(7, 1, 0x80);                      // write-1-to-clear
        assertFalse(level[0]);
        assertThrows(IllegalArgumentException.class, () -> ich9.raise(64));
        Gpe0BlockState wide = new Gpe0BlockState(1L << 20, 0);
        assertThrows(DeviceStateException.class, () -> gpe.restoreState(wide), "pc's block has 16 events");
        ich9.restoreState(wide);
        assertEquals(wide, ich9.saveState());
    }
}
