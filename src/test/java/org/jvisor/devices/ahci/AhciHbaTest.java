package org.jvisor.devices.ahci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.devices.iommu.VtdFault;
import org.jvisor.devices.iommu.VtdGuest;
import org.jvisor.devices.iommu.VtdRegister;
import org.jvisor.devices.state.DeviceStateException;

/** The AHCI HBA driven through ABAR and guest memory as libahci drives it. */
class AhciHbaTest {
    private static final int SECTOR = AhciRig.SECTOR;
    private static final long DATA = 0x80000;

    @TempDir
    Path dir;

    /** A raw image of {@code sectors} sectors of a byte pattern. */
    private Path image(String name, int sectors) throws IOException {
        byte[] b = new byte[sectors * SECTOR];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i / SECTOR * 7 + i * 13);
        }
        Path p = dir.resolve(name);
        Files.write(p, b);
        return p;
    }

    private static String ataString(byte[] identify, int word, int words) {
        byte[] s = new byte[words * 2];
        for (int i = 0; i < words; i++) {
            s[2 * i] = identify[2 * (word + i) + 1];
            s[2 * i + 1] = identify[2 * (word + i)];
        }
        return new String(s, StandardCharsets.US_ASCII).strip();
    }

    @Test
    void hbaRegistersAreQemusIch9Ahci() {
        try (AhciRig rig = new AhciRig()) {
            // 64-bit, NCQ, AHCI only, Gen 1, 32 slots, 6 ports
            assertEquals(0xC014_1F05, rig.hbaReg(HbaRegister.CAP));
            assertEquals(0x3F, rig.hbaReg(HbaRegister.PI));
            assertEquals(0x0001_0000, rig.hbaReg(HbaRegister.VS));
            assertEquals(Ahci.GHC_AE, rig.hbaReg(HbaRegister.GHC));
            rig.hbaReg(HbaRegister.GHC, 0);
            assertEquals(Ahci.GHC_AE, rig.hbaReg(HbaRegister.GHC), "AE is read-only 1 with CAP.SAM");
            // a byte read sees its byte of the dword
            assertEquals(0x1F, rig.hba.read(1, 1));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void portsReportTheirDevicesSignatureAndLink() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            rig.disk(0, image("a.raw", 64), false);
            rig.cdrom(2, image("cd.iso", 64));
            assertEquals(0x0000_0101, rig.reg(0, PortRegister.SIG));
            assertEquals(0xEB14_0101, rig.reg(2, PortRegister.SIG));
            assertEquals(Ahci.SSTS_DEVICE_UP, rig.reg(0, PortRegister.SSTS));
            assertEquals(0, rig.reg(1, PortRegister.SSTS), "no device: no link");
            assertEquals(0, rig.reg(0, PortRegister.TFD) & Ahci.ATA_BSY);
            // COMRESET through SControl: the link drops while DET=1 and comes back with the signature
            rig.start(0);
            rig.reg(0, PortRegister.SCTL, 0x301);
            assertEquals(0, rig.reg(0, PortRegister.SSTS));
            rig.reg(0, PortRegister.SCTL, 0x300);
            assertEquals(Ahci.SSTS_DEVICE_UP, rig.reg(0, PortRegister.SSTS));
            assertEquals(0x34, rig.rxFis(0, Ahci.RX_D2H), "the signature FIS reached the FIS area");
        }
    }

    @Test
    void identifyDeviceIsPioDataInWithAPioSetupFis() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            rig.disk(0, image("a.raw", 64), false);
            rig.start(0);
            rig.command(0, 3, 0xEC, 0, 0, 0, null, false, new AhciRig.Region(DATA, SECTOR));
            rig.issue(0, 3);
            assertEquals(0, rig.reg(0, PortRegister.CI), "the command completed");
            byte[] id = rig.read(DATA, SECTOR);
            assertEquals("QEMU HARDDISK", ataString(id, 27, 20));
            assertEquals(64, (id[120] & 0xFF) | (id[121] & 0xFF) << 8, "words 60-61: sectors");
            assertEquals(31, id[150], "word 75: queue depth 32");
            assertEquals(1, id[153], "word 76: NCQ");
            assertEquals(SECTOR, rig.prdbc(0, 3));
            assertEquals(Ahci.IS_PSS | Ahci.IS_DHRS, rig.reg(0, PortRegister.IS));
            assertEquals(0x5F, rig.rxFis(0, Ahci.RX_PIO_SETUP));
            assertEquals(0x50, rig.rxFis(0, Ahci.RX_PIO_SETUP + 15), "E_Status: ready, no DRQ");
            assertEquals(0x50, rig.reg(0, PortRegister.TFD));
            assertEquals(1, rig.hbaReg(HbaRegister.IS));
            assertTrue(rig.intx);
            assertEquals(1, rig.messages);
            // the driver clears PxIS, then IS: the interrupt falls
            rig.reg(0, PortRegister.IS, -1);
            rig.hbaReg(HbaRegister.IS, 1);
            assertEquals(0, rig.hbaReg(HbaRegister.IS));
            assertFalse(rig.intx);
        }
    }

    @Test
    void writeDmaThenReadDmaThroughSeveralRegions() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            Path img = image("a.raw", 256);
            rig.disk(1, img, false);
            rig.start(1);
            byte[] pattern = new byte[8 * SECTOR];
            for (int i = 0; i < pattern.length; i++) {
                pattern[i] = (byte) (i * 31 + 5);
            }
            rig.dma.write(DATA, pattern, 0, 3 * SECTOR);
            rig.dma.write(DATA + 0x10000, pattern, 3 * SECTOR, 5 * SECTOR);
            // WRITE DMA EXT of 8 sectors at 100 from two regions
            rig.command(1, 0, 0x35, 0, 100, 8, null, true,
                new AhciRig.Region(DATA, 3 * SECTOR), new AhciRig.Region(DATA + 0x10000, 5 * SECTOR));
            rig.issue(1, 0);
            assertEquals(0, rig.reg(1, PortRegister.CI));
            assertEquals(0x50, rig.reg(1, PortRegister.TFD));
            assertEquals(8 * SECTOR, rig.prdbc(1, 0));
            assertEquals(Ahci.IS_DHRS, rig.reg(1, PortRegister.IS));
            rig.backends.getFirst().flush();
            assertArrayEquals(pattern, Arrays.copyOfRange(Files.readAllBytes(img), 100 * SECTOR, 108 * SECTOR));
            // READ DMA EXT back into one region, in another slot
            rig.command(1, 7, 0x25, 0, 100, 8, null, false, new AhciRig.Region(DATA + 0x40000, 8 * SECTOR));
            rig.issue(1, 7);
            assertArrayEquals(pattern, rig.read(DATA + 0x40000, 8 * SECTOR));
            assertEquals(0x34, rig.rxFis(1, Ahci.RX_D2H));
            assertEquals(0x50, rig.rxFis(1, Ahci.RX_D2H + 2));
        }
    }

    @Test
    void pioWriteAndReadMultipleBlocks() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            Path img = image("a.raw", 64);
            rig.disk(0, img, false);
            rig.start(0);
            byte[] pattern = new byte[3 * SECTOR];
            Arrays.fill(pattern, (byte) 0x5A);
            rig.dma.write(DATA, pattern, 0, pattern.length);
            // WRITE SECTORS EXT (PIO, one block per sector)
            rig.command(0, 0, 0x34, 0, 10, 3, null, true, new AhciRig.Region(DATA, 3 * SECTOR));
            rig.issue(0, 0);
            assertEquals(0x50, rig.reg(0, PortRegister.TFD));
            rig.command(0, 0, 0x24, 0, 10, 3, null, false, new AhciRig.Region(DATA + 0x1000, 3 * SECTOR));
            rig.issue(0, 0);
            assertArrayEquals(pattern, rig.read(DATA + 0x1000, 3 * SECTOR));
            assertEquals(3 * SECTOR, rig.prdbc(0, 0));
        }
    }

    @Test
    void queuedWriteAndReadCompleteWithSetDeviceBits() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            Path img = image("a.raw", 128);
            rig.disk(0, img, false);
            rig.start(0);
            byte[] pattern = new byte[4 * SECTOR];
            for (int i = 0; i < pattern.length; i++) {
                pattern[i] = (byte) (i * 7 + 3);
            }
            rig.dma.write(DATA, pattern, 0, pattern.length);
            // WRITE FPDMA QUEUED: count in features, tag 5 in count bits 7:3, as libata builds it
            rig.command(0, 5, Ahci.WRITE_FPDMA_QUEUED, 4, 20, 5 << 3, null, true, new AhciRig.Region(DATA, 4 * SECTOR));
            rig.command(0, 6, Ahci.READ_FPDMA_QUEUED, 4, 20, 6 << 3, null, false,
                new AhciRig.Region(DATA + 0x10000, 4 * SECTOR));
            rig.reg(0, PortRegister.SACT, 1 << 5 | 1 << 6);
            rig.reg(0, PortRegister.CI, 1 << 5 | 1 << 6);
            assertEquals(0, rig.reg(0, PortRegister.SACT), "both tags done");
            assertEquals(0, rig.reg(0, PortRegister.CI));
            assertEquals(Ahci.IS_SDBS, rig.reg(0, PortRegister.IS));
            assertEquals(Fis.TYPE_SET_DEVICE_BITS, rig.rxFis(0, Ahci.RX_SDB));
            assertEquals(1 << 6, rig.dma.readU32(AhciRig.fisArea(0) + Ahci.RX_SDB + 4), "the last FIS names tag 6");
            assertArrayEquals(pattern, rig.read(DATA + 0x10000, 4 * SECTOR));
            assertEquals(4 * SECTOR, rig.prdbc(0, 6));
            rig.backends.getFirst().flush();
            assertArrayEquals(pattern, Arrays.copyOfRange(Files.readAllBytes(img), 20 * SECTOR, 24 * SECTOR));
            // past the end: IDNF, TFES, the tag stays active
            rig.command(0, 1, Ahci.READ_FPDMA_QUEUED, 8, 126, 1 << 3, null, false, new AhciRig.Region(DATA, 8 * SECTOR));
            rig.reg(0, PortRegister.SACT, 1 << 1);
            rig.reg(0, PortRegister.CI, 1 << 1);
            assertEquals(1 << 1, rig.reg(0, PortRegister.SACT));
            assertTrue((rig.reg(0, PortRegister.IS) & Ahci.IS_TFES) != 0);
            assertEquals(0x10, rig.reg(0, PortRegister.TFD) >>> 8, "IDNF");
        }
    }

    private static byte[] read10(int lba, int blocks) {
        return new byte[] {0x28, 0, (byte) (lba >> 24), (byte) (lba >> 16), (byte) (lba >> 8), (byte) lba, 0,
            (byte) (blocks >> 8), (byte) blocks, 0, 0, 0};
    }

    @Test
    void atapiInquiryByPioAndRead10ByDma() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            Path iso = image("cd.iso", 64); // 16 blocks of 2048
            rig.cdrom(0, iso);
            rig.start(0);
            // INQUIRY, PIO data-in (byte count limit in LBA mid/high)
            rig.command(0, 0, 0xA0, 0, 0xFFFF << 8, 0, new byte[] {0x12, 0, 0, 0, 36, 0}, false,
                new AhciRig.Region(DATA, 36));
            rig.issue(0, 0);
            assertEquals(0, rig.reg(0, PortRegister.CI));
            byte[] inq = rig.read(DATA, 36);
            assertEquals(5, inq[0], "a CD/DVD device");
            assertEquals("QEMU    QEMU DVD-ROM    2.5+", new String(inq, 8, 28, StandardCharsets.US_ASCII));
            assertEquals(36, rig.prdbc(0, 0));
            // READ(10) of blocks 3-5 by DMA (features bit 0)
            rig.command(0, 1, 0xA0, 1, 0, 0, read10(3, 3), false, new AhciRig.Region(DATA + 0x10000, 6 * 1024));
            rig.issue(0, 1);
            assertEquals(0x50, rig.reg(0, PortRegister.TFD));
            assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(iso), 3 * 2048, 6 * 2048),
                rig.read(DATA + 0x10000, 3 * 2048));
            // past the end: CHECK CONDITION (ERR, sense key in the error register), TFES, the port halts
            rig.command(0, 2, 0xA0, 1, 0, 0, read10(100, 1), false, new AhciRig.Region(DATA, 2048));
            rig.issue(0, 2);
            assertEquals(1 << 2, rig.reg(0, PortRegister.CI), "a failed command keeps its PxCI bit");
            assertTrue((rig.reg(0, PortRegister.IS) & Ahci.IS_TFES) != 0);
            assertEquals(Ahci.ATA_ERR, rig.reg(0, PortRegister.TFD) & Ahci.ATA_ERR);
            assertEquals(0x5, rig.reg(0, PortRegister.TFD) >>> 12, "ILLEGAL REQUEST");
        }
    }

    /** Runs packet {@code cdb} in slot 0 (PIO data-in to DATA); the sense key of a CHECK CONDITION (then restarts the port), or -1. */
    private static int atapi(AhciRig rig, byte[] cdb, int dataBytes) {
        rig.command(0, 0, 0xA0, 0, 0xFFFF << 8, 0, java.util.Arrays.copyOf(cdb, 12), false,
            new AhciRig.Region(DATA, Math.max(dataBytes, 2)));
        rig.issue(0, 0);
        if ((rig.reg(0, PortRegister.TFD) & Ahci.ATA_ERR) == 0) {
            return -1;
        }
        int key = rig.reg(0, PortRegister.TFD) >>> 12;
        rig.restart(0);
        return key;
    }

    @Test
    void aMediumChangeReachesTheGuestThroughTheFisPath() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            org.jvisor.devices.ide.AtapiCdrom cd = rig.cdrom(0, image("cd.iso", 64));
            rig.start(0);
            assertEquals(-1, atapi(rig, new byte[] {0x00}, 0), "TEST UNIT READY");
            // the host's blockdev-change-medium: open the tray, swap the medium, close it
            Path other = image("other.iso", 128);
            var medium = org.jvisor.backend.block.BlockImages.open(other, "raw", true,
                org.jvisor.backend.block.CacheMode.WRITEBACK, false, msg -> { });
            synchronized (cd.mediaLock()) {
                cd.moveTray(false);
                cd.replaceMedium(medium).close();
                cd.moveTray(true);
            }
            assertEquals(0x2, atapi(rig, new byte[] {0x00}, 0), "NOT READY: the old medium went");
            assertEquals(0x6, atapi(rig, new byte[] {0x00}, 0), "UNIT ATTENTION: a new one came");
            assertEquals(-1, atapi(rig, new byte[] {0x03, 0, 0, 0, 18}, 18));
            byte[] sense = rig.read(DATA, 18);
            assertEquals(0x06, sense[2]);
            assertEquals(0x28, sense[12]);
            assertEquals(-1, atapi(rig, new byte[] {0x25}, 8), "READ CAPACITY");
            assertArrayEquals(new byte[] {0, 0, 0, 31, 0, 0, 8, 0}, rig.read(DATA, 8), "32 blocks of the new medium");
            assertEquals(-1, atapi(rig, new byte[] {0x28, 0, 0, 0, 0, 5, 0, 0, 1}, 2048));
            assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(other), 5 * 2048, 6 * 2048), rig.read(DATA, 2048));
            medium.close();
        }
    }

    @Test
    void aPrdtOutsideRamAbortsTheCommandAndThePortRecovers() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            rig.disk(0, image("a.raw", 64), false);
            rig.start(0);
            rig.command(0, 0, 0x25, 0, 0, 4, null, false, new AhciRig.Region(0x7_0000_0000L, 4 * SECTOR));
            rig.issue(0, 0);
            assertEquals(1, rig.reg(0, PortRegister.CI));
            assertEquals(Ahci.ATA_ABRT << 8 | Ahci.ATA_DRDY | Ahci.ATA_ERR, rig.reg(0, PortRegister.TFD));
            assertTrue((rig.reg(0, PortRegister.IS) & Ahci.IS_TFES) != 0);
            assertTrue(rig.log.stream().anyMatch(l -> l.contains("ahci0 port 0") && l.contains("outside RAM")), rig.log.toString());
            // halted: a further command waits until the driver restarts the engine
            rig.command(0, 1, 0xE7, 0, 0, 0, null, false);
            rig.issue(0, 1);
            assertEquals(3, rig.reg(0, PortRegister.CI));
            rig.restart(0);
            assertEquals(0, rig.reg(0, PortRegister.CI), "ST cleared dropped the list");
            rig.command(0, 0, 0x25, 0, 0, 4, null, false, new AhciRig.Region(DATA, 4 * SECTOR));
            rig.issue(0, 0);
            assertEquals(0, rig.reg(0, PortRegister.CI));
            assertEquals(0x50, rig.reg(0, PortRegister.TFD));
        }
    }

    /**
     * On q35 the HBA at 00:1f.2 is behind the VT-d unit (the DMAR lists it): its bus addresses
     * are IOVAs of its requester id. The guest maps the HBA's structures and one data page at
     * guest-physical addresses 16 MiB above their IOVAs; a read lands there, and a read into an
     * unmapped IOVA is refused: the unit records the fault (a write, reason 5, source 00:1f.2)
     * and sends the fault event, and the command ends in an ATA error, the port recovering.
     */
    @Test
    void behindAnIommuTheHbaUsesIovasAndAnUnmappedOneIsAFault() throws IOException {
        int sid = 0x1F << 3 | 2;
        long shift = 0x100_0000L;
        try (VtdGuest g = new VtdGuest()) {
            long top = g.table();
            g.root(0);
            g.context(sid, 0, top, 1, 7, false);
            for (long iova = AhciRig.commandList(0); iova < AhciRig.table(2); iova += 0x1000) {
                g.map(top, 3, iova, iova + shift, 1, 3);
            }
            g.map(top, 3, DATA, DATA + shift, 1, 3);
            g.reg(VtdRegister.FEDATA, 0x42);
            g.reg(VtdRegister.FEADDR, 0xFEE0_0000L);
            g.reg(VtdRegister.FECTL, 0);   // fault events unmasked
            g.enable();
            try (AhciRig rig = new AhciRig(g.ram, g.unit.dmaFor(sid))) {
                Path img = image("a.raw", 64);
                rig.disk(0, img, false);
                rig.start(0);
                rig.command(0, 0, 0x25, 0, 8, 4, null, false, new AhciRig.Region(DATA, 4 * SECTOR));
                rig.issue(0, 0);
                assertEquals(0x50, rig.reg(0, PortRegister.TFD));
                byte[] landed = new byte[4 * SECTOR];
                g.ram.read(DATA + shift, landed, 0, landed.length);
                assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(img), 8 * SECTOR, 12 * SECTOR), landed,
                    "the sectors went to the page the IOVA maps");
                assertEquals(0, g.ram.readU64(DATA), "nothing at the IOVA taken as guest-physical");
                assertEquals(0x34, g.ram.readU8(AhciRig.fisArea(0) + shift + Ahci.RX_D2H), "the D2H FIS too");
                assertEquals(0, g.reg(VtdRegister.FSTS), "no faults");

                long unmapped = DATA + 0x10000;
                rig.command(0, 1, 0x25, 0, 8, 4, null, false, new AhciRig.Region(unmapped, 4 * SECTOR));
                rig.issue(0, 1);
                assertEquals(2, rig.reg(0, PortRegister.CI), "the command failed: its bit stays until the restart");
                assertEquals(Ahci.ATA_ABRT << 8 | Ahci.ATA_DRDY | Ahci.ATA_ERR, rig.reg(0, PortRegister.TFD));
                assertTrue((rig.reg(0, PortRegister.IS) & Ahci.IS_TFES) != 0);
                assertTrue(rig.log.stream().anyMatch(l -> l.contains("refused by the IOMMU")), rig.log.toString());
                assertEquals(2, g.reg(VtdRegister.FSTS), "FSTS.PPF: a primary fault is pending");
                assertEquals(unmapped, g.reg(VtdRegister.FRCD_LO), "the faulting page");
                assertEquals(1L << 63 | (long) VtdFault.WRITE.code << 32 | sid, g.reg(VtdRegister.FRCD_HI),
                    "F, a write (T=0: the disk's data goes to memory), reason 5, source 00:1f.2");
                assertEquals(List.of("fee00000:42"), g.messages, "the fault event");
                assertEquals(0, g.ram.readU64(unmapped), "nothing written at the IOVA taken as guest-physical");

                rig.restart(0);
                rig.command(0, 0, 0x25, 0, 0, 1, null, false, new AhciRig.Region(DATA, SECTOR));
                rig.issue(0, 0);
                assertEquals(0x50, rig.reg(0, PortRegister.TFD), "the port works again");
            }
        }
    }

    @Test
    void aPrdtShorterThanTheDataAbortsTheCommand() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            rig.disk(0, image("a.raw", 64), false);
            rig.start(0);
            rig.command(0, 0, 0xC8, 0, 0, 4, null, false, new AhciRig.Region(DATA, 2 * SECTOR));
            rig.issue(0, 0);
            assertEquals(Ahci.ATA_ABRT << 8 | Ahci.ATA_DRDY | Ahci.ATA_ERR, rig.reg(0, PortRegister.TFD));
            assertTrue(rig.log.stream().anyMatch(l -> l.contains("shorter")), rig.log.toString());
            // the same with PIO: READ SECTORS of 4 into 1 sector
            rig.restart(0);
            rig.command(0, 0, 0x20, 0, 0, 4, null, false, new AhciRig.Region(DATA, SECTOR));
            rig.issue(0, 0);
            assertEquals(Ahci.ATA_ERR, rig.reg(0, PortRegister.TFD) & Ahci.ATA_ERR);
        }
    }

    @Test
    void aCommandListOutsideRamIsAHostBusFatalError() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            rig.disk(0, image("a.raw", 64), false);
            rig.start(0);
            rig.reg(0, PortRegister.CLBU, 0x7);
            rig.issue(0, 0);
            assertTrue((rig.reg(0, PortRegister.IS) & Ahci.IS_HBFS) != 0);
            assertEquals(1, rig.reg(0, PortRegister.CI));
            assertTrue(rig.log.stream().anyMatch(l -> l.contains("command list")), rig.log.toString());
        }
    }

    @Test
    void aFisThatIsNotRegisterH2dIsAborted() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            rig.disk(0, image("a.raw", 64), false);
            rig.start(0);
            rig.command(0, 0, 0xEC, 0, 0, 0, null, false, new AhciRig.Region(DATA, SECTOR));
            rig.dma.writeU32(AhciRig.table(0), 0x39); // a DMA Activate FIS from the host
            rig.issue(0, 0);
            assertTrue((rig.reg(0, PortRegister.IS) & Ahci.IS_TFES) != 0);
            assertTrue(rig.log.stream().anyMatch(l -> l.contains("FIS type 0x39")), rig.log.toString());
        }
    }

    @Test
    void startWithoutFisReceiveIsRefused() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            rig.disk(0, image("a.raw", 64), false);
            rig.reg(0, PortRegister.CMD, Ahci.CMD_ST);
            assertEquals(0, rig.reg(0, PortRegister.CMD) & (Ahci.CMD_ST | Ahci.CMD_CR));
            assertTrue(rig.log.stream().anyMatch(l -> l.contains("ST set without FRE")), rig.log.toString());
            rig.issue(0, 0);
            assertEquals(0, rig.reg(0, PortRegister.CI), "PxCI ignores writes while stopped");
        }
    }

    @Test
    void hostResetClearsPortsAndInterrupts() throws IOException {
        try (AhciRig rig = new AhciRig()) {
            rig.disk(0, image("a.raw", 64), false);
            rig.start(0);
            rig.command(0, 0, 0xE7, 0, 0, 0, null, false);
            rig.issue(0, 0);
            assertTrue(rig.intx);
            rig.hbaReg(HbaRegister.GHC, Ahci.GHC_HR);
            assertEquals(Ahci.GHC_AE, rig.hbaReg(HbaRegister.GHC));
            assertFalse(rig.intx);
            assertEquals(Ahci.CMD_SUD | Ahci.CMD_POD, rig.reg(0, PortRegister.CMD));
            assertEquals(0, rig.reg(0, PortRegister.CLB));
        }
    }

    @Test
    void stateRoundTripsAndIsChecked() throws Exception {
        try (AhciRig rig = new AhciRig(); AhciRig other = new AhciRig()) {
            rig.disk(0, image("a.raw", 64), false);
            rig.cdrom(1, image("cd.iso", 64));
            rig.start(0);
            rig.command(0, 0, 0xEC, 0, 0, 0, null, false, new AhciRig.Region(DATA, SECTOR));
            rig.issue(0, 0);
            List<AhciPortState> saved = rig.hba.save();
            other.disk(0, image("b.raw", 64), false);
            other.cdrom(1, image("cd2.iso", 64));
            other.hba.restore("ahci0", rig.hba.globalControl(), saved);
            assertEquals(saved, other.hba.save());
            assertTrue(other.intx, "the restored HBA drives its pending interrupt");
            // the next command runs on the restored port
            other.command(0, 1, 0x25, 0, 0, 1, null, false, new AhciRig.Region(DATA, SECTOR));
            other.issue(0, 1);
            assertEquals(0x50, other.reg(0, PortRegister.TFD));
            try (AhciRig empty = new AhciRig()) {
                assertThrows(DeviceStateException.class, () -> empty.hba.restore("ahci0", Ahci.GHC_AE, saved));
            }
        }
    }
}
