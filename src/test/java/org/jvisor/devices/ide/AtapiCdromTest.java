package org.jvisor.devices.ide;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.devices.pci.PciFunctionState;
import org.jvisor.devices.state.StateDecoder;
import org.jvisor.devices.state.StateEncoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An ATAPI CD-ROM through the ports: signature, IDENTIFY PACKET DEVICE, packets with PIO and DMA data, sense. */
class AtapiCdromTest {
    private static final int BLOCK = 2048;

    @TempDir
    Path dir;

    private Path medium(int blocks) throws IOException {
        return IdeRig.image(dir, "cd.iso", blocks * BLOCK / IdeRig.SECTOR);
    }

    private static byte[] read10(long lba, int blocks) {
        return new byte[] {0x28, 0, (byte) (lba >> 24), (byte) (lba >> 16), (byte) (lba >> 8), (byte) lba, 0,
            (byte) (blocks >> 8), (byte) blocks};
    }

    private static byte[] bytes(Path p, long from, int n) throws IOException {
        return Arrays.copyOfRange(Files.readAllBytes(p), (int) from, (int) from + n);
    }

    @Test
    void aPacketDeviceShowsItsSignatureAndIdentifiesItself() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.cdrom(medium(16), 0);
            assertEquals(0x14, rig.reg(AtaRegister.LBA_MID));
            assertEquals(0xEB, rig.reg(AtaRegister.LBA_HIGH));
            assertEquals(0, rig.status() & Ata.DRDY, "no DRDY after reset (ATAPI)");
            rig.command(0xEC);
            assertEquals(Ata.ABRT, rig.error(), "IDENTIFY DEVICE aborts");
            assertEquals(0xEB, rig.reg(AtaRegister.LBA_HIGH), "with the signature");
            rig.command(0xA1);
            byte[] id = rig.readPio(512);
            assertEquals(0x85C0, IdeRig.word(id, 0));
            assertEquals("QEMU DVD-ROM", IdeRig.text(id, 27, 20));
            assertEquals(1 << 9 | 1 << 8, IdeRig.word(id, 49), "LBA and DMA");
        }
    }

    @Test
    void readInPioBlocksOfTheByteCountLimit() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            Path iso = medium(16);
            rig.cdrom(iso, 0);
            rig.packet(read10(3, 5), 2 * BLOCK, false);
            byte[] got = new byte[5 * BLOCK];
            int at = 0;
            for (int block : new int[] {2 * BLOCK, 2 * BLOCK, BLOCK}) {
                assertTrue(rig.irq);
                assertEquals(Ata.READY | Ata.DRQ, rig.status());
                assertEquals(AtapiCdrom.REASON_IO, rig.reg(AtaRegister.SECTOR_COUNT), "interrupt reason: data to the host");
                assertEquals(block, rig.reg(AtaRegister.LBA_MID) | rig.reg(AtaRegister.LBA_HIGH) << 8);
                System.arraycopy(rig.readPio(block), 0, got, at, block);
                at += block;
            }
            assertTrue(rig.irq, "completion interrupt");
            assertEquals(Ata.READY, rig.status());
            assertEquals(AtapiCdrom.REASON_IO | AtapiCdrom.REASON_COD, rig.reg(AtaRegister.SECTOR_COUNT));
            assertArrayEquals(bytes(iso, 3L * BLOCK, 5 * BLOCK), got);
        }
    }

    @Test
    void inquiryAndReadCapacityAnswerAsQemu() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.cdrom(medium(300), 0);
            rig.packet(new byte[] {0x12, 0, 0, 0, 36, 0}, 0xFFFF, false);
            byte[] inq = rig.readPio(36);
            assertEquals(0x05, inq[0]);
            assertEquals((byte) 0x80, inq[1]);
            assertEquals("QEMU    QEMU DVD-ROM    2.5+", new String(inq, 8, 28, java.nio.charset.StandardCharsets.US_ASCII));
            rig.packet(new byte[] {0x25}, 8, false);
            byte[] cap = rig.readPio(8);
            assertArrayEquals(new byte[] {0, 0, 1, 43, 0, 0, 8, 0}, cap, "last block 299, 2048-byte blocks");
            rig.packet(new byte[] {0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 28}, 0xFFFF, false);
            byte[] caps = rig.readPio(28);
            assertEquals(0x2A, caps[8]);
            assertEquals(0x29, caps[14], "lock, eject, tray");
        }
    }

    @Test
    void badPacketsEndInCheckConditionWithSense() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            rig.cdrom(medium(16), 0);
            rig.packet(read10(15, 2), 0xFFFF, false);
            assertTrue(rig.irq);
            assertEquals(Ata.DRDY | Ata.ERR, rig.status());
            assertEquals(Sense.ILLEGAL_REQUEST << 4, rig.error());
            rig.packet(new byte[] {0x03, 0, 0, 0, 18, 0}, 0xFFFF, false);
            byte[] sense = rig.readPio(18);
            assertEquals(0x70, sense[0]);
            assertEquals(Sense.ILLEGAL_REQUEST, sense[2]);
            assertEquals(Sense.ASC_LBA_OUT_OF_RANGE, sense[12]);
            rig.packet(new byte[] {0x03, 0, 0, 0, 18, 0}, 0xFFFF, false);
            assertEquals(Sense.NO_SENSE, rig.readPio(18)[2], "reported once");
            rig.packet(new byte[] {(byte) 0xEE}, 0xFFFF, false);
            assertEquals(Ata.DRDY | Ata.ERR, rig.status());
            rig.packet(new byte[] {0x03, 0, 0, 0, 18, 0}, 0xFFFF, false);
            assertEquals(Sense.ASC_INVALID_OPCODE, rig.readPio(18)[12]);
            rig.packet(new byte[] {0x00}, 0, false);
            assertEquals(Ata.READY, rig.status(), "TEST UNIT READY");
        }
    }

    @Test
    void readThroughTheBusMaster() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            Path iso = medium(16);
            rig.cdrom(iso, 0);
            rig.prd(0x1000, 0x10000, 3 * BLOCK);
            rig.bmSetup(0x1000, true);
            rig.packet(new byte[] {(byte) 0xA8, 0, 0, 0, 0, 7, 0, 0, 0, 3}, 0, true);
            assertEquals(Ata.READY | Ata.DRQ, rig.altStatus());
            rig.bmStart(true);
            assertTrue(rig.irq);
            assertEquals(BusMasterDma.STATUS_INTERRUPT, rig.bmStatus() & 7);
            assertEquals(Ata.READY, rig.status());
            byte[] got = new byte[3 * BLOCK];
            rig.ram.read(0x10000, got, 0, got.length);
            assertArrayEquals(bytes(iso, 7L * BLOCK, 3 * BLOCK), got);
        }
    }

    @Test
    void aPacketTransferSurvivesSaveAndRestore() throws Exception {
        Path iso = medium(16);
        PciFunctionState saved;
        byte[] rest;
        try (IdeRig rig = new IdeRig()) {
            rig.cdrom(iso, 1);
            rig.select(1);
            rig.packet(read10(2, 2), BLOCK, false);
            rig.readPio(1000);
            saved = rig.ide.saveState();
            assertEquals(saved, new StateDecoder(new StateEncoder().writeState(saved).toByteArray(), "t").readState());
            rest = rig.readPio(BLOCK - 1000);
        }
        try (IdeRig other = new IdeRig()) {
            other.cdrom(iso, 1);
            other.ide.restoreState(saved);
            assertEquals(saved, other.ide.saveState());
            assertArrayEquals(rest, other.readPio(BLOCK - 1000));
            assertArrayEquals(bytes(iso, 3L * BLOCK, BLOCK), other.readPio(BLOCK));
            assertEquals(Ata.READY, other.status());
        }
    }
}
