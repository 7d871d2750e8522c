package org.jvisor.devices.ide;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.devices.pci.PciFunctionState;
import org.jvisor.devices.state.StateDecoder;
import org.jvisor.devices.state.StateEncoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A CD-ROM's tray and medium through the PIIX3's ports, as QEMU 7.2's ide-cd behaves
 * (hw/ide/atapi.c): NOT READY without a medium, the change reported once, media events, the
 * guest's eject and lock, and the tray in the state record.
 */
class CdromMediaTest {
    private static final int BLOCK = 2048;
    private static final byte[] TEST_UNIT_READY = {0x00};
    private static final byte[] READ_CAPACITY = {0x25};
    private static final byte[] GESN_MEDIA = {0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8};
    private static final byte[] OPEN_TRAY = {0x1B, 0, 0, 0, 0x02};
    private static final byte[] CLOSE_TRAY = {0x1B, 0, 0, 0, 0x03};
    private static final byte[] LOCK = {0x1E, 0, 0, 0, 1};

    @TempDir
    Path dir;

    private Path medium(String name, int blocks) throws IOException {
        return IdeRig.image(dir, name, blocks * BLOCK / IdeRig.SECTOR);
    }

    /** The sense key, ASC and ASCQ REQUEST SENSE reports. */
    private static List<Integer> sense(IdeRig rig) {
        rig.packet(new byte[] {0x03, 0, 0, 0, 18, 0}, 0xFFFF, false);
        byte[] s = rig.readPio(18);
        return List.of(s[2] & 0xF, s[12] & 0xFF, s[13] & 0xFF);
    }

    /** GET EVENT STATUS NOTIFICATION's media event code and media status. */
    private static List<Integer> mediaEvent(IdeRig rig) {
        rig.packet(GESN_MEDIA, 0xFFFF, false);
        byte[] e = rig.readPio(8);
        assertEquals(0x04, e[2], "media class");
        return List.of(e[4] & 0xFF, e[5] & 0xFF);
    }

    private static void checkCondition(IdeRig rig, int senseKey) {
        assertEquals(Ata.DRDY | Ata.ERR, rig.status());
        assertEquals(senseKey << 4, rig.error());
    }

    private static long lastBlock(IdeRig rig) {
        rig.packet(READ_CAPACITY, 8, false);
        byte[] c = rig.readPio(8);
        return (c[0] & 0xFFL) << 24 | (c[1] & 0xFF) << 16 | (c[2] & 0xFF) << 8 | c[3] & 0xFF;
    }

    /** The host's blockdev-change-medium: open the tray, swap, close. */
    private static void change(AtapiCdrom cd, BlockBackend medium) throws IOException {
        cd.moveTray(false);
        BlockBackend old = cd.replaceMedium(medium);
        if (old != null) {
            old.close();
        }
        cd.moveTray(true);
    }

    @Test
    void anEmptyDriveIsNotReadyAndSaysWhereTheTrayIs() {
        try (IdeRig rig = new IdeRig()) {
            AtapiCdrom cd = rig.emptyCdrom(0);
            List<Boolean> moves = new ArrayList<>();
            cd.onTrayMoved(moves::add);
            rig.packet(TEST_UNIT_READY, 0, false);
            checkCondition(rig, Sense.NOT_READY);
            assertEquals(List.of(Sense.NOT_READY, 0x3A, 0x01), sense(rig), "MEDIUM NOT PRESENT - TRAY CLOSED");
            assertEquals(List.of(0, 0), mediaEvent(rig), "no event, no medium");
            rig.packet(READ_CAPACITY, 8, false);
            checkCondition(rig, Sense.NOT_READY);
            sense(rig);
            rig.packet(OPEN_TRAY, 0, false);
            assertEquals(Ata.READY, rig.status());
            assertEquals(List.of(true), moves, "the guest's eject is reported");
            assertTrue(cd.trayOpen());
            rig.packet(TEST_UNIT_READY, 0, false);
            assertEquals(List.of(Sense.NOT_READY, 0x3A, 0x02), sense(rig), "MEDIUM NOT PRESENT - TRAY OPEN");
            assertEquals(List.of(0, MmcResponder.MEDIA_TRAY_OPEN), mediaEvent(rig));
            rig.packet(CLOSE_TRAY, 0, false);
            assertEquals(List.of(true, false), moves);
            rig.packet(OPEN_TRAY, 0, false);
            rig.packet(OPEN_TRAY, 0, false);
            assertEquals(List.of(true, false, true), moves, "an open tray does not move again");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aNewMediumIsReportedOnceThenReadWithItsOwnSize() throws IOException {
        Path b = medium("b.iso", 40);
        try (IdeRig rig = new IdeRig()) {
            AtapiCdrom cd = rig.cdrom(medium("a.iso", 16), 0);
            assertEquals(15, lastBlock(rig));
            assertEquals(List.of(0, MmcResponder.MEDIA_PRESENT), mediaEvent(rig));
            rig.status();   // acknowledges the last command's interrupt
            int edges = rig.irqEdges;
            change(cd, rig.medium(b));
            assertTrue(rig.irqEdges > edges, "QEMU raises the channel's interrupt on a change");
            assertEquals(List.of(MmcResponder.MEDIA_NEW_MEDIA, MmcResponder.MEDIA_PRESENT), mediaEvent(rig),
                "GET EVENT STATUS NOTIFICATION is exempt and consumes the event");
            assertEquals(List.of(0, MmcResponder.MEDIA_PRESENT), mediaEvent(rig));
            rig.packet(TEST_UNIT_READY, 0, false);
            checkCondition(rig, Sense.NOT_READY);
            assertEquals(List.of(Sense.NOT_READY, 0x3A, 0x01), sense(rig), "first the medium seems gone");
            rig.packet(TEST_UNIT_READY, 0, false);
            checkCondition(rig, Sense.UNIT_ATTENTION);
            rig.packet(READ_CAPACITY, 8, false);
            assertEquals(Ata.ERR, rig.status(), "a pending UNIT ATTENTION fails every other command");
            assertEquals(Sense.UNIT_ATTENTION << 4 | Ata.MC, rig.error());
            assertEquals(List.of(Sense.UNIT_ATTENTION, 0x28, 0), sense(rig), "NOT READY TO READY CHANGE");
            rig.packet(TEST_UNIT_READY, 0, false);
            assertEquals(Ata.READY, rig.status(), "reported once");
            assertEquals(39, lastBlock(rig), "READ CAPACITY follows the new medium");
            rig.packet(new byte[] {0x43, 0, 0, 0, 0, 0, (byte) 0xAA, 0, 12}, 0xFFFF, false);
            byte[] toc = rig.readPio(12);
            assertEquals(40, toc[11], "the lead-out of READ TOC too");
            rig.packet(new byte[] {0x28, 0, 0, 0, 0, 30, 0, 0, 1}, BLOCK, false);
            assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(b), 30 * BLOCK, 31 * BLOCK), rig.readPio(BLOCK));
        }
    }

    @Test
    void aLockedTrayStaysShutUntilTheHostForcesIt() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            AtapiCdrom cd = rig.cdrom(medium("a.iso", 16), 0);
            List<Boolean> moves = new ArrayList<>();
            cd.onTrayMoved(moves::add);
            rig.packet(LOCK, 0, false);
            assertTrue(cd.trayLocked());
            rig.packet(new byte[] {0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 28}, 0xFFFF, false);
            assertEquals(0x2B, rig.readPio(28)[14], "MODE SENSE shows the lock");
            rig.packet(OPEN_TRAY, 0, false);
            checkCondition(rig, Sense.NOT_READY);
            assertEquals(List.of(Sense.NOT_READY, 0x53, 0x02), sense(rig), "MEDIUM REMOVAL PREVENTED");
            assertFalse(cd.trayOpen());
            cd.requestEject(false);
            assertTrue(cd.trayLocked());
            assertEquals(List.of(MmcResponder.MEDIA_EJECT_REQUEST, MmcResponder.MEDIA_PRESENT), mediaEvent(rig));
            cd.requestEject(true);
            assertFalse(cd.trayLocked(), "force unlocks");
            rig.packet(OPEN_TRAY, 0, false);
            assertEquals(Ata.READY, rig.status());
            assertEquals(List.of(true), moves);
            assertEquals(List.of(0, MmcResponder.MEDIA_TRAY_OPEN), mediaEvent(rig), "no event while the tray is open");
        }
    }

    @Test
    void aMediumGoesInAndOutOnlyWithTheTrayOpen() throws IOException {
        try (IdeRig rig = new IdeRig()) {
            AtapiCdrom cd = rig.cdrom(medium("a.iso", 16), 0);
            BlockBackend b = rig.medium(medium("b.iso", 8));
            rig.backends.add(b);
            assertThrows(IllegalStateException.class, () -> cd.replaceMedium(b));
            rig.packet(OPEN_TRAY, 0, false);
            rig.packet(TEST_UNIT_READY, 0, false);
            assertEquals(List.of(Sense.NOT_READY, 0x3A, 0x02), sense(rig), "a medium in an open tray cannot be read");
            assertTrue(cd.medium().isPresent(), "the guest's eject leaves the medium in the tray (as QEMU)");
            rig.packet(CLOSE_TRAY, 0, false);
            rig.packet(TEST_UNIT_READY, 0, false);
            assertEquals(Ata.READY, rig.status(), "closing the tray on the same medium is no change");
        }
    }

    @Test
    void theTrayAndAPendingChangeSurviveSaveAndRestore() throws Exception {
        Path a = medium("a.iso", 16);
        Path b = medium("b.iso", 24);
        PciFunctionState saved;
        try (IdeRig rig = new IdeRig()) {
            AtapiCdrom cd = rig.cdrom(a, 0);
            rig.packet(LOCK, 0, false);
            cd.requestEject(true);
            rig.packet(LOCK, 0, false);
            change(cd, rig.medium(b));
            rig.packet(TEST_UNIT_READY, 0, false);          // NOT READY: the UNIT ATTENTION is next
            sense(rig);
            saved = rig.ide.saveState();
            assertEquals(saved, new StateDecoder(new StateEncoder().writeState(saved).toByteArray(), "t").readState());
        }
        try (IdeRig other = new IdeRig()) {
            assertThrows(org.jvisor.devices.state.DeviceStateException.class, () -> {
                try (IdeRig wrong = new IdeRig()) {
                    wrong.cdrom(a, 0);
                    wrong.ide.restoreState(saved);
                }
            }, "the medium in the drive must be the one saved");
            AtapiCdrom cd = other.cdrom(b, 0);
            other.ide.restoreState(saved);
            assertEquals(saved, other.ide.saveState());
            assertTrue(cd.trayLocked());
            other.packet(TEST_UNIT_READY, 0, false);
            checkCondition(other, Sense.UNIT_ATTENTION);
            assertEquals(List.of(MmcResponder.MEDIA_NEW_MEDIA, MmcResponder.MEDIA_PRESENT), mediaEvent(other));
            assertEquals(List.of(Sense.UNIT_ATTENTION, 0x28, 0), sense(other));
            assertEquals(23, lastBlock(other));
        }
        try (IdeRig empty = new IdeRig()) {
            empty.emptyCdrom(0);
            assertThrows(org.jvisor.devices.state.DeviceStateException.class, () -> empty.ide.restoreState(saved));
        }
    }
}
