package org.jvisor.devices.ide;

import java.io.IOException;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.devices.pci.PciDevice;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** READ/WRITE DMA through the bus master and PRD tables in test RAM, as libata's BMDMA path drives them. */
class BusMasterDmaTest {
    private static final long TABLE = 0x1000;
    private static final long BUF_A = 0x10000;
    private static final long BUF_B = 0x30000;

    @TempDir
    Path dir;

    @Test
    void writeDmaThenReadDmaScatterAcrossRegions() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            Path img = IdeRig.image(dir, "d.img", 256);
            rig.disk(img, 0, false);
            byte[] data = new byte[8 * 512];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) (i * 31 + 5);
            }
            // 3 sectors in region A, 5 in region B
            rig.ram.write(BUF_A, data, 0, 3 * 512);
            rig.ram.write(BUF_B, data, 3 * 512, 5 * 512);
            rig.prd(TABLE, BUF_A, 3 * 512, BUF_B, 5 * 512);
            rig.bmSetup(TABLE, false);
            rig.lba28(40, 8);
            rig.command(0xCA); // WRITE DMA
            assertEquals(Ata.READY | Ata.DRQ, rig.altStatus(), "waiting for START");
            assertFalse(rig.irq);
            rig.bmStart(false);
            assertTrue(rig.irq);
            int bm = rig.bmStatus();
            assertEquals(BusMasterDma.STATUS_INTERRUPT, bm & 7, "INTERRUPT set, ACTIVE and ERROR clear");
            rig.bmStop();
            assertEquals(Ata.READY, rig.status());
            assertEquals(0, rig.bmStatus() & 7);
            assertArrayEquals(data, IdeRig.sectors(img, 40, 8));

            // READ DMA EXT back into one region, START before the command this time
            rig.prd(TABLE, BUF_A, 8 * 512);
            rig.bmSetup(TABLE, true);
            rig.bmStart(true);
            assertEquals(BusMasterDma.STATUS_ACTIVE, rig.bmStatus() & 7);
            rig.lba48(40, 8);
            rig.command(0x25);
            assertTrue(rig.irq);
            assertEquals(BusMasterDma.STATUS_INTERRUPT, rig.bmStatus() & 7);
            byte[] back = new byte[data.length];
            rig.ram.read(BUF_A, back, 0, back.length);
            assertArrayEquals(data, back);
        }
    }

    @Test
    void aLongerTableLeavesActiveSet() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 64), 0, false);
            rig.prd(TABLE, BUF_A, 0); // 0 means 64 KiB
            rig.bmSetup(TABLE, true);
            rig.lba28(0, 2);
            rig.command(0xC8);
            rig.bmStart(true);
            assertEquals(BusMasterDma.STATUS_INTERRUPT | BusMasterDma.STATUS_ACTIVE, rig.bmStatus() & 7);
            assertEquals(Ata.READY, rig.status());
        }
    }

    @Test
    void aShortTableClearsActiveWithoutAnInterrupt() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            Path img = IdeRig.image(dir, "d.img", 64);
            rig.disk(img, 0, false);
            rig.prd(TABLE, BUF_A, 512);
            rig.bmSetup(TABLE, false);
            rig.lba28(0, 4);
            rig.command(0xCA);
            rig.bmStart(false);
            assertFalse(rig.irq, "as QEMU: the driver times out and resets");
            assertEquals(0, rig.bmStatus() & 7);
            assertArrayEquals(IdeRig.sectors(IdeRig.image(dir, "ref.img", 64), 0, 4), IdeRig.sectors(img, 0, 4),
                "nothing written");
        }
    }

    @Test
    void aTableOutsideRamIsABusErrorNotAVmmFailure() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 64), 0, false);
            rig.bmSetup(0xF000_0000L, true);
            rig.lba28(0, 1);
            rig.command(0xC8);
            rig.bmStart(true);
            assertTrue(rig.irq);
            assertEquals(BusMasterDma.STATUS_ERROR | BusMasterDma.STATUS_INTERRUPT, rig.bmStatus() & 7);
            assertEquals(Ata.DRDY | Ata.ERR, rig.status());
            assertEquals(Ata.ABRT, rig.error());
            rig.bmStop();

            // a table in RAM whose buffer is not
            rig.prd(TABLE, 0xE000_0000L, 1024);
            rig.bmSetup(TABLE, true);
            rig.lba28(0, 2);
            rig.command(0xC8);
            rig.bmStart(true);
            assertEquals(BusMasterDma.STATUS_ERROR | BusMasterDma.STATUS_INTERRUPT, rig.bmStatus() & 7);
            assertEquals(Ata.ABRT, rig.error());
        }
    }

    @Test
    void withoutBusMasteringTheTransferFails() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 64), 0, false);
            rig.ide.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_IO);
            rig.prd(TABLE, BUF_A, 512);
            rig.bmSetup(TABLE, true);
            rig.lba28(0, 1);
            rig.command(0xC8);
            rig.bmStart(true);
            assertEquals(BusMasterDma.STATUS_ERROR, rig.bmStatus() & BusMasterDma.STATUS_ERROR);
            assertEquals(Ata.ABRT, rig.error());
        }
    }

    @Test
    void clearingStartDropsTheWaitingTransfer() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 64), 0, false);
            rig.prd(TABLE, BUF_A, 512);
            rig.bmSetup(TABLE, true);
            rig.bmStart(true);
            rig.bmStop();
            rig.lba28(0, 1);
            rig.command(0xC8);
            assertFalse(rig.irq, "no START: the drive waits");
            assertEquals(Ata.READY | Ata.DRQ, rig.altStatus());
            rig.control(Ata.CONTROL_SRST);
            rig.control(0);
            assertEquals(Ata.READY, rig.status(), "SRST drops the transfer");
        }
    }

    @Test
    void statusBitsFollowSff8038() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.bm.write(BusMasterDma.STATUS, 1, 0xFF);
            assertEquals(BusMasterDma.STATUS_CAPABLE, rig.bmStatus(), "capable bits stick; ACTIVE is read-only");
            rig.bm.write(BusMasterDma.PRD_ADDRESS, 4, 0x1234_5677);
            assertEquals(0x1234_5674L, rig.bm.read(BusMasterDma.PRD_ADDRESS, 4), "dword-aligned");
            assertEquals(0xFF, rig.bm.read(1, 1), "reserved");
            assertEquals(0xFF, rig.bm.read(8 + 3, 1), "reserved, secondary");
        }
    }
}
