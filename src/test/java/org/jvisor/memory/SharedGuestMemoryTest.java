package org.jvisor.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.sys.Mman;

/** Guest RAM from a memfd or a file: another mapping of the descriptor sees the guest's bytes (what a vhost-user backend does). */
class SharedGuestMemoryTest {
    @TempDir
    Path dir;

    @Test
    void memfdRamIsSeenThroughASecondMappingOfItsDescriptor() throws Exception {
        long size = 3L << 30 | 64L << 20; // crosses the PCI hole: two regions, one descriptor
        try (GuestMemory m = GuestMemory.allocate(size, new RamBacking.Memfd("test", true, true))) {
            assertTrue(m.shareable());
            List<GuestMemory.SharedRegion> regions = m.sharedRegions();
            assertEquals(2, regions.size());
            GuestMemory.SharedRegion high = regions.get(1);
            assertEquals(GuestMemory.HIGH_RAM_START, high.guestAddress());
            assertEquals(64L << 20, high.size());
            assertEquals(GuestMemory.PCI_HOLE_START, high.fdOffset());
            assertEquals(m.segment().address() + GuestMemory.PCI_HOLE_START, high.userAddress());
            m.writeU64(GuestMemory.HIGH_RAM_START + 0x1000, 0x1122_3344_5566_7788L);
            MemorySegment other = Mman.map(high.size(), Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, high.fd(),
                high.fdOffset());
            try {
                assertEquals(0x1122_3344_5566_7788L, other.get(ValueLayout.JAVA_LONG_UNALIGNED, 0x1000));
                other.set(ValueLayout.JAVA_INT_UNALIGNED, 0x2000, 0xCAFE);
                assertEquals(0xCAFE, m.readU32(GuestMemory.HIGH_RAM_START + 0x2000), "the other process's writes reach the guest");
            } finally {
                Mman.unmap(other);
            }
        }
    }

    @Test
    void anonymousAndPrivateRamHaveNothingToShare() {
        try (GuestMemory a = GuestMemory.allocate(4L << 20);
             GuestMemory p = GuestMemory.allocate(4L << 20, new RamBacking.Memfd("private", false, false))) {
            assertFalse(a.shareable());
            assertTrue(a.sharedRegions().isEmpty());
            assertFalse(p.shareable());
        }
    }

    @Test
    void sharedFileRamWritesReachTheFile() throws Exception {
        Path file = dir.resolve("ram");
        try (GuestMemory m = GuestMemory.allocate(4L << 20, new RamBacking.File(file, true))) {
            m.write(0x3000, new byte[] {1, 2, 3, 4});
        }
        assertEquals(4L << 20, Files.size(file), "an empty file is sized to RAM");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            byte[] b = new byte[4];
            f.seek(0x3000);
            f.readFully(b);
            assertArrayEquals(new byte[] {1, 2, 3, 4}, b);
        }
    }

    @Test
    void aDirectoryGetsAnUnlinkedFileAndATooSmallFileIsRefused() throws Exception {
        try (GuestMemory m = GuestMemory.allocate(4L << 20, new RamBacking.File(dir, true))) {
            assertTrue(m.shareable());
            m.writeU8(0, (byte) 1);
        }
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count(), "the temporary file was unlinked");
        }
        Path small = dir.resolve("small");
        Files.write(small, new byte[4096]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> GuestMemory.allocate(4L << 20, new RamBacking.File(small, true)));
        assertTrue(e.getMessage().contains("does not match 'size' option"), e.getMessage());
    }
}
