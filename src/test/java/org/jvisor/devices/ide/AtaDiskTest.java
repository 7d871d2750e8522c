package org.jvisor.devices.ide;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.backend.block.BlockBackend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An ATA disk on the primary channel, through its ports (PIO protocols, errors, resets). */
class AtaDiskTest {
    @TempDir
    Path dir;

    @Test
    void identifyDeviceReportsWhatQemuReports() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 1000), 0, false);
            rig.select(0);
            rig.command(0xEC);
            assertTrue(rig.irq, "IDENTIFY interrupts when its data is ready");
            assertEquals(Ata.READY | Ata.DRQ, rig.altStatus());
            byte[] id = rig.readPio(512);
            assertEquals(Ata.READY, rig.status());
            assertFalse(rig.irq, "reading status lowers INTRQ");
            assertEquals(0x0040, IdeRig.word(id, 0));
            assertEquals("QEMU HARDDISK", IdeRig.text(id, 27, 20));
            assertEquals("QM00001", IdeRig.text(id, 10, 10));
            assertEquals("2.5+", IdeRig.text(id, 23, 4));
            assertEquals(1000, IdeRig.word(id, 60) | IdeRig.word(id, 61) << 16);
            assertEquals(1000, IdeRig.word(id, 100));
            assertEquals(0x8000 | 16, IdeRig.word(id, 47), "READ/WRITE MULTIPLE up to 16");
            assertEquals(0x100 | 16, IdeRig.word(id, 59), "multiple count 16 after power-on");
            assertEquals(0x07, IdeRig.word(id, 63), "multiword DMA 0-2");
            assertEquals(0x3F | 1 << 13, IdeRig.word(id, 88), "UDMA 0-5, mode 5 selected");
            assertEquals(1 << 14 | 1 << 13 | 1 << 12 | 1 << 10, IdeRig.word(id, 83), "LBA48, FLUSH CACHE (EXT)");
            assertEquals(16, IdeRig.word(id, 3));
            assertEquals(63, IdeRig.word(id, 6));
            assertEquals(2, IdeRig.word(id, 1), "at least 2 cylinders");
        }
    }

    /** A SMART command with subcommand {@code feature}, its parameter in LBA low, and the key unless {@code keyless}. */
    private static void smart(IdeRig rig, int feature, int lbaLow, boolean keyless) {
        rig.reg(AtaRegister.ERROR_FEATURES, feature);
        rig.reg(AtaRegister.LBA_LOW, lbaLow);
        rig.reg(AtaRegister.LBA_MID, keyless ? 0 : Smart.KEY_MID);
        rig.reg(AtaRegister.LBA_HIGH, keyless ? 0 : Smart.KEY_HIGH);
        rig.reg(AtaRegister.DEVICE, 0xA0);
        rig.command(0xB0);
    }

    private static void assertChecksummed(byte[] page) {
        int sum = 0;
        for (byte b : page) {
            sum += b;
        }
        assertEquals(0, sum & 0xFF, "the page's bytes sum to 0");
        assertEquals(1, page[0], "data structure revision");
    }

    @Test
    void smartAnswersThroughTheRegistersAsQemu() throws Exception {
        org.jvisor.devices.pci.PciFunctionState saved;
        Path image = IdeRig.image(dir, "d.img", 1000);
        try (IdeRig rig = new IdeRig()) {
            rig.disk(image, 0, false);
            smart(rig, Smart.RETURN_STATUS, 0, true);
            assertEquals(Ata.ABRT, rig.error(), "no key, no SMART");
            smart(rig, Smart.RETURN_STATUS, 0, false);
            assertEquals(Ata.READY, rig.status());
            assertEquals(Smart.KEY_MID, rig.reg(AtaRegister.LBA_MID), "threshold not exceeded");
            assertEquals(Smart.KEY_HIGH, rig.reg(AtaRegister.LBA_HIGH));
            smart(rig, Smart.READ_DATA, 0, false);
            assertTrue(rig.irq);
            byte[] data = rig.readPio(512);
            assertEquals(Ata.READY, rig.status());
            assertChecksummed(data);
            assertEquals(190, data[2 + 6 * 12] & 0xFF, "airflow temperature");
            assertEquals(0x45, data[2 + 6 * 12 + 3]);
            assertEquals(0x1F, data[2 + 6 * 12 + 5], "31 degrees");
            assertEquals((byte) 0x82, data[362], "autosave on, off-line collection done");
            smart(rig, Smart.READ_THRESHOLDS, 0, false);
            byte[] thresholds = rig.readPio(512);
            assertChecksummed(thresholds);
            assertEquals(0x32, thresholds[3 + 6 * 12], "temperature threshold");
            smart(rig, Smart.EXECUTE_OFFLINE, 1, false);
            assertEquals(Ata.READY, rig.status(), "a short self-test");
            smart(rig, Smart.READ_LOG, 6, false);
            byte[] log = rig.readPio(512);
            assertChecksummed(log);
            assertEquals(1, log[2], "the short self-test");
            assertEquals(1, log[508], "one test");
            smart(rig, Smart.READ_LOG, 0x80, false);
            assertEquals(Ata.ABRT, rig.error());
            smart(rig, Smart.DISABLE, 0, false);
            smart(rig, Smart.READ_DATA, 0, false);
            assertEquals(Ata.ABRT, rig.error(), "SMART is off");
            saved = rig.ide.saveState();
        }
        try (IdeRig other = new IdeRig()) {
            other.disk(image, 0, false);
            other.ide.restoreState(saved);
            smart(other, Smart.RETURN_STATUS, 0, false);
            assertEquals(Ata.ABRT, other.error(), "still off after a restore");
            smart(other, Smart.ENABLE, 0, false);
            smart(other, Smart.READ_LOG, 6, false);
            assertEquals(1, other.readPio(512)[508], "the log came along");
        }
    }

    /** The range entries of a TRIM: (LBA, count) pairs as 48+16-bit little-endian words, padded to a block. */
    private static byte[] trimRanges(long... lbaCount) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(512).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < lbaCount.length; i += 2) {
            b.putLong(lbaCount[i] | lbaCount[i + 1] << 48);
        }
        return b.array();
    }

    @Test
    void dataSetManagementTrimDiscardsTheRangesThroughTheBusMaster() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            Path image = IdeRig.image(dir, "d.img", 1000);
            rig.disk(image, 0, false);
            rig.select(0);
            rig.command(0xEC);
            byte[] id = rig.readPio(512);
            assertEquals(1, IdeRig.word(id, 169), "TRIM, as QEMU's ide-hd");
            assertEquals(1 << 14, IdeRig.word(id, 69));
            rig.ram.write(0x10000, trimRanges(8, 4, 0, 0, 100, 2), 0, 512);
            rig.prd(0x1000, 0x10000, 512);
            rig.bmSetup(0x1000, false);
            rig.reg(AtaRegister.ERROR_FEATURES, 0);
            rig.reg(AtaRegister.ERROR_FEATURES, AtaDisk.DSM_TRIM);
            rig.lba48(0, 1);
            rig.command(0x06);
            assertEquals(Ata.READY | Ata.DRQ, rig.altStatus(), "waiting for the bus master");
            rig.bmStart(false);
            assertTrue(rig.irq);
            assertEquals(Ata.READY, rig.status());
            byte[] after = java.nio.file.Files.readAllBytes(image);
            for (long s : new long[] {8, 11, 100, 101}) {
                assertTrue(java.util.Arrays.equals(new byte[512], java.util.Arrays.copyOfRange(after, (int) s * 512, (int) s * 512 + 512)),
                    "sector " + s + " was discarded");
            }
            assertFalse(java.util.Arrays.equals(new byte[512], java.util.Arrays.copyOfRange(after, 12 * 512, 13 * 512)),
                "sector 12 was not");
            // a range past the end: ABRT, as QEMU's -EINVAL
            rig.ram.write(0x10000, trimRanges(999, 2), 0, 512);
            rig.bmStop();
            rig.bmSetup(0x1000, false);
            rig.reg(AtaRegister.ERROR_FEATURES, AtaDisk.DSM_TRIM);
            rig.lba48(0, 1);
            rig.command(0x06);
            rig.bmStart(false);
            assertEquals(Ata.DRDY | Ata.ERR, rig.status());
            assertEquals(Ata.ABRT, rig.error());
            // only TRIM is a data set management function
            rig.reg(AtaRegister.ERROR_FEATURES, 0x02);
            rig.lba48(0, 1);
            rig.command(0x06);
            assertEquals(Ata.ABRT, rig.error());
        }
    }

    @Test
    void setFeaturesTransferModeShowsInIdentify() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 64), 0, false);
            rig.reg(AtaRegister.ERROR_FEATURES, 0x03);
            rig.reg(AtaRegister.SECTOR_COUNT, 0x22); // multiword DMA mode 2
            rig.command(0xEF);
            assertEquals(Ata.READY, rig.status());
            rig.command(0xEC);
            byte[] id = rig.readPio(512);
            assertEquals(0x07 | 1 << 10, IdeRig.word(id, 63));
            assertEquals(0x3F, IdeRig.word(id, 88));
            rig.reg(AtaRegister.ERROR_FEATURES, 0x77); // no such subcommand
            rig.command(0xEF);
            assertEquals(Ata.DRDY | Ata.ERR, rig.status());
            assertEquals(Ata.ABRT, rig.error());
        }
    }

    @Test
    void readSectorsInterruptsPerSectorAndLeavesTheNextAddress() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            Path img = IdeRig.image(dir, "d.img", 64);
            rig.disk(img, 0, false);
            rig.lba28(5, 3);
            rig.command(0x20);
            byte[] got = new byte[3 * 512];
            for (int s = 0; s < 3; s++) {
                assertTrue(rig.irq, "an interrupt for sector " + s);
                assertEquals(Ata.READY | Ata.DRQ, rig.status());
                System.arraycopy(rig.readPio(512), 0, got, s * 512, 512);
            }
            assertEquals(3, rig.irqEdges);
            assertEquals(Ata.READY, rig.status(), "no DRQ after the last sector");
            assertArrayEquals(IdeRig.sectors(img, 5, 3), got);
            assertEquals(8, rig.reg(AtaRegister.LBA_LOW));
            assertEquals(3, rig.stats.counters().readOps(), "one image read per DRQ block");
            assertEquals(3 * 512, rig.stats.counters().readBytes());
        }
    }

    @Test
    void readMultipleDeliversBlocksOfTheMultipleCount() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            Path img = IdeRig.image(dir, "d.img", 64);
            rig.disk(img, 0, false);
            rig.reg(AtaRegister.SECTOR_COUNT, 4);
            rig.command(0xC6);
            assertEquals(Ata.READY, rig.status());
            rig.lba48(20, 10);
            rig.irqEdges = 0;
            rig.command(0x29); // READ MULTIPLE EXT
            byte[] got = new byte[10 * 512];
            int at = 0;
            for (int block : new int[] {4, 4, 2}) {
                assertEquals(Ata.READY | Ata.DRQ, rig.status());
                System.arraycopy(rig.readPio(block * 512), 0, got, at, block * 512);
                at += block * 512;
            }
            assertEquals(3, rig.irqEdges);
            assertArrayEquals(IdeRig.sectors(img, 20, 10), got);
            rig.reg(AtaRegister.SECTOR_COUNT, 3); // not a power of two
            rig.command(0xC6);
            assertEquals(Ata.ABRT, rig.error());
        }
    }

    @Test
    void writeSectorsExtLandsInTheImage() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            Path img = IdeRig.image(dir, "d.img", 64);
            rig.disk(img, 0, false);
            byte[] data = new byte[2 * 512];
            Arrays.fill(data, (byte) 0xA5);
            data[700] = 1;
            rig.lba48(30, 2);
            rig.command(0x34);
            assertEquals(Ata.READY | Ata.DRQ, rig.altStatus());
            assertFalse(rig.irq, "no interrupt before the first block of a PIO write");
            rig.writePio(Arrays.copyOfRange(data, 0, 512));
            assertTrue(rig.irq);
            assertEquals(Ata.READY | Ata.DRQ, rig.status());
            rig.writePio(Arrays.copyOfRange(data, 512, 1024));
            assertTrue(rig.irq);
            assertEquals(Ata.READY, rig.status());
            rig.command(0xE7); // FLUSH CACHE
            assertEquals(Ata.READY, rig.status());
            assertArrayEquals(data, IdeRig.sectors(img, 30, 2));
            assertArrayEquals(IdeRig.sectors(IdeRig.image(dir, "ref.img", 64), 29, 1), IdeRig.sectors(img, 29, 1),
                "the sector before is untouched");
        }
    }

    @Test
    void chsAddressingUsesTheReportedGeometry() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            Path img = IdeRig.image(dir, "d.img", 2 * 16 * 63);
            rig.disk(img, 0, false);
            // cylinder 1, head 2, sector 5 = (1 * 16 + 2) * 63 + 4
            rig.reg(AtaRegister.SECTOR_COUNT, 1);
            rig.reg(AtaRegister.LBA_LOW, 5);
            rig.reg(AtaRegister.LBA_MID, 1);
            rig.reg(AtaRegister.LBA_HIGH, 0);
            rig.reg(AtaRegister.DEVICE, 0xA2);
            rig.command(0x20);
            assertArrayEquals(IdeRig.sectors(img, (1 * 16 + 2) * 63 + 4, 1), rig.readPio(512));
        }
    }

    @Test
    void anAddressPastTheEndIsIdNotFound() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 64), 0, false);
            rig.lba28(63, 2);
            rig.command(0x20);
            assertTrue(rig.irq);
            assertEquals(Ata.DRDY | Ata.ERR, rig.status());
            assertEquals(Ata.IDNF, rig.error());
            rig.lba48(1L << 40, 1);
            rig.command(0x25); // READ DMA EXT
            assertEquals(Ata.IDNF, rig.error());
            rig.lba28(64, 1);
            rig.command(0x40); // READ VERIFY
            assertEquals(Ata.IDNF, rig.error());
        }
    }

    @Test
    void unknownCommandsAndPacketCommandsAreAborted() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 64), 0, false);
            for (int op : new int[] {0xFF, 0x00, 0xA0, 0xA1, 0x08, 0xB0, 0x06}) {
                rig.command(op);
                assertEquals(Ata.DRDY | Ata.ERR, rig.status(), String.format("command %#x", op));
                assertEquals(Ata.ABRT, rig.error(), String.format("command %#x", op));
            }
            rig.lba28(0, 1);
            rig.command(0x20);
            assertEquals(0, rig.error(), "the next command clears the error");
        }
    }

    @Test
    void aReadOnlyDriveRefusesWritesWithAbort() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            Path img = IdeRig.image(dir, "d.img", 64);
            rig.disk(img, 0, true);
            for (int op : new int[] {0x30, 0x34, 0xC5, 0xCA, 0x35}) {
                rig.reg(AtaRegister.SECTOR_COUNT, 4);
                rig.command(0xC6);
                if (op == 0x34 || op == 0x35) {
                    rig.lba48(1, 1);
                } else {
                    rig.lba28(1, 1);
                }
                rig.command(op);
                assertEquals(Ata.DRDY | Ata.ERR, rig.status(), String.format("command %#x", op));
                assertEquals(Ata.ABRT, rig.error());
            }
            rig.lba28(1, 1);
            rig.command(0x20);
            assertArrayEquals(IdeRig.sectors(img, 1, 1), rig.readPio(512), "reads still work");
        }
    }

    @Test
    void imageErrorsBecomeAtaErrors() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(new FailingBackend(64), 0);
            rig.lba28(2, 1);
            rig.command(0x20);
            assertEquals(Ata.DRDY | Ata.ERR, rig.status());
            assertEquals(Ata.UNC, rig.error());
            assertEquals(2, rig.reg(AtaRegister.LBA_LOW), "the failing sector's address");
            rig.lba28(3, 1);
            rig.command(0x30);
            rig.writePio(new byte[512]);
            assertEquals(Ata.ABRT, rig.error());
            rig.command(0xEA);
            assertEquals(Ata.ABRT, rig.error());
        }
    }

    @Test
    void nIenKeepsTheInterruptLow() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 64), 0, false);
            rig.control(Ata.CONTROL_NIEN);
            rig.command(0xEC);
            assertFalse(rig.irq);
            assertEquals(Ata.READY | Ata.DRQ, rig.status(), "polling still works");
            rig.readPio(512);
            rig.control(0);
            rig.command(0xE7);
            assertTrue(rig.irq);
        }
    }

    @Test
    void softResetShowsBusyThenTheSignature() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 64), 0, false);
            rig.reg(AtaRegister.SECTOR_COUNT, 0);
            rig.command(0xC6); // multiple count 0
            rig.lba28(7, 1);
            rig.command(0x20); // leave a transfer pending
            rig.control(Ata.CONTROL_SRST);
            assertEquals(Ata.BSY, rig.altStatus());
            rig.command(0xEC);
            rig.control(0);
            assertEquals(Ata.READY, rig.status(), "the transfer is gone, the command during SRST ignored");
            assertEquals(1, rig.reg(AtaRegister.SECTOR_COUNT));
            assertEquals(1, rig.reg(AtaRegister.LBA_LOW));
            assertEquals(0, rig.reg(AtaRegister.LBA_MID));
            assertEquals(0, rig.reg(AtaRegister.LBA_HIGH));
            assertEquals(Ata.DIAGNOSTIC_PASSED, rig.error());
            rig.command(0xEC);
            assertEquals(0x100 | 16, IdeRig.word(rig.readPio(512), 59), "the multiple count is back to 16");
        }
    }

    @Test
    void anAbsentSlaveReadsZeroAndIgnoresCommands() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 64), 0, false);
            rig.select(1);
            rig.reg(AtaRegister.SECTOR_COUNT, 0x55);
            assertEquals(0, rig.reg(AtaRegister.SECTOR_COUNT));
            assertEquals(0, rig.status());
            rig.command(0xEC);
            assertFalse(rig.irq);
            rig.select(0);
            assertEquals(0x55, rig.reg(AtaRegister.SECTOR_COUNT), "the master latched the write");
            assertEquals(Ata.READY, rig.status());
        }
    }

    @Test
    void hobReadsTheHighHalfOfTheRegisterFifo() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 64), 0, false);
            rig.reg(AtaRegister.LBA_LOW, 0x12);
            rig.reg(AtaRegister.LBA_LOW, 0x34);
            rig.control(Ata.CONTROL_HOB);
            assertEquals(0x12, rig.reg(AtaRegister.LBA_LOW));
            rig.control(0);
            assertEquals(0x34, rig.reg(AtaRegister.LBA_LOW));
        }
    }

    @Test
    void nativeMaxAddressIsTheLastSector() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.disk(IdeRig.image(dir, "d.img", 300), 0, false);
            rig.reg(AtaRegister.DEVICE, 0x40);
            rig.command(0x27);
            assertEquals(Ata.READY, rig.status());
            assertEquals(299 & 0xFF, rig.reg(AtaRegister.LBA_LOW));
            assertEquals(299 >> 8, rig.reg(AtaRegister.LBA_MID));
        }
    }

    /** An image in memory that counts its flushes and the writes since the last one. */
    static final class FlushCountingBackend implements BlockBackend {
        final byte[] data;
        int flushes;
        int unflushedWrites;

        FlushCountingBackend(int sectors) {
            data = new byte[sectors * 512];
        }

        @Override
        public long size() {
            return data.length;
        }

        @Override
        public boolean readOnly() {
            return false;
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            dst.put(data, (int) offset, dst.remaining());
        }

        @Override
        public void write(long offset, ByteBuffer src) {
            src.get(data, (int) offset, src.remaining());
            unflushedWrites++;
        }

        @Override
        public void flush() {
            flushes++;
            unflushedWrites = 0;
        }

        @Override
        public void discard(long offset, long length) {
        }

        @Override
        public void writeZeroes(long offset, long length, boolean mayUnmap) {
        }

        @Override
        public String describe() {
            return "memory";
        }

        @Override
        public void close() {
        }
    }

    @Test
    void fuaWritesAreFlushedBeforeTheyCompleteWithTheCacheOn() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            FlushCountingBackend b = new FlushCountingBackend(64);
            rig.disk(b, 0);
            rig.select(0);
            rig.command(0xEC);
            byte[] id = rig.readPio(512);
            assertEquals(1 << 6, IdeRig.word(id, 84) & 1 << 6, "FUA supported");
            assertEquals(1 << 6, IdeRig.word(id, 87) & 1 << 6);
            // WRITE DMA EXT with the write cache on: nothing flushed
            rig.prd(0x1000, 0x10000, 2 * 512);
            rig.bmSetup(0x1000, false);
            rig.lba48(4, 2);
            rig.command(0x35);
            rig.bmStart(false);
            assertEquals(Ata.READY, rig.status());
            assertEquals(0, b.flushes);
            // WRITE DMA FUA EXT: on the medium when it completes
            rig.bmStop();
            rig.bmSetup(0x1000, false);
            rig.lba48(8, 2);
            rig.command(0x3D);
            rig.bmStart(false);
            assertEquals(Ata.READY, rig.status());
            assertEquals(0, b.unflushedWrites, "flushed");
            assertEquals(1, b.flushes);
            // WRITE MULTIPLE FUA EXT (PIO, blocks of the multiple count)
            rig.lba48(16, 3);
            rig.command(0xCE);
            rig.writePio(new byte[3 * 512]);
            assertEquals(Ata.READY, rig.status());
            assertEquals(0, b.unflushedWrites, "flushed");
            assertTrue(b.flushes >= 2);
        }
    }

    /** A 512-byte-sector image whose reads, writes and flushes all fail. */
    static final class FailingBackend implements BlockBackend {
        private final long sectors;

        FailingBackend(long sectors) {
            this.sectors = sectors;
        }

        @Override
        public long size() {
            return sectors * 512;
        }

        @Override
        public boolean readOnly() {
            return false;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            throw new IOException("EIO");
        }

        @Override
        public void write(long offset, ByteBuffer src) throws IOException {
            throw new IOException("EIO");
        }

        @Override
        public void flush() throws IOException {
            throw new IOException("EIO");
        }

        @Override
        public void discard(long offset, long length) {
        }

        @Override
        public void writeZeroes(long offset, long length, boolean mayUnmap) {
        }

        @Override
        public String describe() {
            return "failing";
        }

        @Override
        public void close() {
        }
    }
}
