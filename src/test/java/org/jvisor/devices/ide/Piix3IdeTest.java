package org.jvisor.devices.ide;

import java.io.IOException;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.pci.PciFunctionState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StateDecoder;
import org.jvisor.devices.state.StateEncoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The PIIX3 IDE function's configuration space, reset and saved state. */
class Piix3IdeTest {
    @TempDir
    Path dir;

    @Test
    void configurationSpaceIsQemusPiix3Ide() {
        try (IdeRig rig = new IdeRig()) {
            PciDevice f = rig.ide;
            assertEquals(0x7010_8086, f.readConfig(0, 4));
            assertEquals(0x01_01_80_00, f.readConfig(8, 4), "class IDE, prog-if 0x80, revision 0");
            assertEquals(0x0280, f.readConfig(PciDevice.STATUS, 2));
            assertEquals(0, f.interruptPin(), "legacy mode: IRQ 14/15, no INTx");
            assertEquals(0x1100_1AF4, f.readConfig(PciDevice.SUBSYSTEM_VENDOR_ID, 4));
            for (int bar = 0; bar < 4; bar++) {
                assertEquals(0, f.readConfig(PciDevice.BAR0 + 4 * bar, 4), "BAR " + bar + " not implemented");
            }
            f.writeConfig(0x20, 4, -1);
            assertEquals(0xFFFF_FFF1, f.readConfig(0x20, 4), "BAR4: 16 bytes of I/O");
            assertEquals(0x8000, f.readConfig(Piix3Ide.IDETIM_PRIMARY, 2));
            f.writeConfig(Piix3Ide.IDETIM_PRIMARY, 2, 0xE307);
            assertEquals(0xE307, f.readConfig(Piix3Ide.IDETIM_PRIMARY, 2), "ata_piix programs timings");
            f.reset();
            assertEquals(0x8000, f.readConfig(Piix3Ide.IDETIM_PRIMARY, 2), "decode enabled again after reset");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aTransferInProgressSurvivesSaveAndRestore() throws Exception {
        Path img = IdeRig.image(dir, "d.img", 64);
        byte[] second;
        PciFunctionState saved;
        try (IdeRig rig = new IdeRig()) {
            rig.disk(img, 0, false);
            rig.bm.write(BusMasterDma.PRD_ADDRESS, 4, 0x2000);
            rig.lba28(10, 3);
            rig.command(0x20);
            rig.readPio(512);
            byte[] half = rig.readPio(200);
            saved = rig.ide.saveState();
            byte[] bytes = new StateEncoder().writeState(saved).toByteArray();
            assertEquals(saved, new StateDecoder(bytes, "test").readState(), "the snapshot encoding keeps it");
            second = rig.readPio(312);
            assertArrayEquals(java.util.Arrays.copyOfRange(IdeRig.sectors(img, 11, 1), 0, 200), half);
        }
        try (IdeRig other = new IdeRig()) {
            other.disk(img, 0, false);
            other.ide.restoreState(saved);
            assertEquals(saved, other.ide.saveState(), "save after restore gives the same state");
            assertTrue(other.irq, "the pending interrupt is driven again");
            assertArrayEquals(second, other.readPio(312));
            assertEquals(Ata.READY | Ata.DRQ, other.status());
            assertArrayEquals(IdeRig.sectors(img, 12, 1), other.readPio(512));
            assertEquals(0x2000, other.bm.read(BusMasterDma.PRD_ADDRESS, 4));
        }
    }

    @Test
    void aStateForAnotherDiskIsRefused() throws Exception {
        PciFunctionState saved;
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "a.img", 64), 0, false);
            saved = rig.ide.saveState();
        }
        try (IdeRig other = new IdeRig()) {
            other.disk(IdeRig.image(dir, "b.img", 128), 0, false);
            DeviceStateException e = assertThrows(DeviceStateException.class, () -> other.ide.restoreState(saved));
            assertTrue(e.getMessage().contains("64 sectors"), e.getMessage());
        }
        try (IdeRig other = new IdeRig()) {
            other.disk(IdeRig.image(dir, "c.img", 64), 1, false);
            assertThrows(DeviceStateException.class, () -> other.ide.restoreState(saved), "drive at another unit");
        }
    }
}
