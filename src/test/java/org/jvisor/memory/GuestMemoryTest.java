package org.jvisor.memory;

import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuestMemoryTest {

    /**
     * Found by KernelLoaderFuzzTest: an ELF segment at 0x6c6c6c0a00000000 whose size made
     * address + size wrap past 2^63 passed isRam, and the write then failed outside RAM.
     */
    @Test
    void rangesWhoseEndWrapsAreNotRam() {
        try (GuestMemory m = GuestMemory.allocate(64L << 20)) {
            assertFalse(m.isRam(0x6c6c6c0a00000000L, 0x9393_93F6_0000_0000L));
            assertFalse(m.isRam(Long.MAX_VALUE, 2));
            assertFalse(m.isRam(0x1000, Long.MAX_VALUE));
            assertFalse(m.isRam(GuestMemory.HIGH_RAM_START + 0x1000, Long.MAX_VALUE - 0x10));
            assertEquals(-1, m.offsetOf(Long.MAX_VALUE - 8, 16));
            assertEquals(0x1000, m.offsetOf(0x1000, 0x1000));
            assertEquals((64L << 20) - 8, m.offsetOf((64L << 20) - 8, 8));
        }
    }

    @Test
    void smallGuestIsOneRangeFromZero() {
        try (GuestMemory m = GuestMemory.allocate(64L << 20)) {
            assertEquals(1, m.ranges().size());
            assertEquals(new GuestMemory.RamRange(0, 64L << 20, 0), m.ranges().get(0));
            m.writeU64(0x1000, 0x1122_3344_5566_7788L);
            assertEquals(0x5566_7788, m.readU32(0x1000));
            assertEquals((short) 0x3344, m.readU16(0x1004));
            assertEquals((byte) 0x11, m.readU8(0x1007));
            assertThrows(GuestMemoryException.class, () -> m.readU64((64L << 20) - 4));
            assertFalse(m.isRam(64L << 20, 1));
        }
    }

    @Test
    void ramAboveThreeGibContinuesAtFourGib() {
        // MAP_NORESERVE: 4 GiB of address space costs nothing until touched.
        try (GuestMemory m = GuestMemory.allocate(4L << 30)) {
            assertEquals(2, m.ranges().size());
            assertEquals(new GuestMemory.RamRange(0, 0xC000_0000L, 0), m.ranges().get(0));
            assertEquals(new GuestMemory.RamRange(0x1_0000_0000L, 1L << 30, 0xC000_0000L), m.ranges().get(1));
            assertFalse(m.isRam(0xC000_0000L, 1), "the PCI hole is not RAM");
            assertFalse(m.isRam(0xFEE0_0000L, 4), "the LAPIC page is not RAM");
            assertTrue(m.isRam(0x1_0000_0000L, 8));
            assertFalse(m.isRam(0xBFFF_FFFCL, 8), "an access may not straddle the hole");
            m.writeU32(0x1_0000_0000L, 0xCAFE);
            assertEquals(0xCAFE, m.segment().get(java.lang.foreign.ValueLayout.JAVA_INT, 0xC000_0000L));
            assertEquals(0xC000_0000L, m.offsetOf(0x1_0000_0000L, 4));
            assertFalse(m.isRam(0x1_4000_0000L, 1));
        }
    }

    /** QEMU's q35 split (firmware): 2 GiB below 4 GiB once RAM would reach the ECAM at 0xB0000000. */
    @Test
    void aLowerHoleStartMovesTheRestAboveFourGib() {
        try (GuestMemory m = GuestMemory.allocate(3L << 30, new RamBacking.Anonymous(), 0, 0x8000_0000L)) {
            assertEquals(0x8000_0000L, m.lowSize());
            assertEquals(List.of(new GuestMemory.RamRange(0, 0x8000_0000L, 0),
                new GuestMemory.RamRange(0x1_0000_0000L, 1L << 30, 0x8000_0000L)), m.ranges());
            assertFalse(m.isRam(0x8000_0000L, 1), "the hole starts at 2 GiB");
            m.writeU32(0x1_0000_0000L, 0xBEEF);
            assertEquals(0x8000_0000L, m.offsetOf(0x1_0000_0000L, 4));
            assertEquals(0xBEEF, m.readU32(0x1_0000_0000L));
        }
        try (GuestMemory m = GuestMemory.allocate(512L << 20, new RamBacking.Anonymous(), 0, 0xB000_0000L)) {
            assertEquals(List.of(new GuestMemory.RamRange(0, 512L << 20, 0)), m.ranges(), "all of it fits below");
        }
        var e = assertThrows(IllegalArgumentException.class,
            () -> GuestMemory.allocate(64L << 20, new RamBacking.Anonymous(), 0, 0xD000_0000L));
        assertTrue(e.getMessage().contains("low RAM limit 0xd0000000"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GuestMemory.allocate(64L << 20, new RamBacking.Anonymous(), 0, 0x8000_1000L));
    }

    @Test
    void sizesTheHostCannotHaveAreRefusedWithAReason() {
        var e = assertThrows(IllegalArgumentException.class, () -> GuestMemory.allocate(1L << 20));
        assertTrue(e.getMessage().contains("too small"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GuestMemory.allocate(1L << 46));
        assertTrue(e.getMessage().contains("more than this host has"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GuestMemory.allocate((8L << 20) + 1));
        assertTrue(e.getMessage().contains("multiple of 4 KiB"), e.getMessage());
    }

    @Test
    void identityDmaReachesRamAndFaultsOutsideIt() {
        try (GuestMemory m = GuestMemory.allocate(8L << 20)) {
            DmaSpace dma = new IdentityDma(m);
            dma.write(0x2000, new byte[] {1, 2, 3, 4}, 0, 4);
            assertEquals(0x04030201, dma.readU32(0x2000));
            byte[] back = new byte[2];
            dma.read(0x2001, back, 0, 2);
            assertEquals(2, back[0]);
            assertThrows(GuestMemoryException.class, () -> dma.readU64(8L << 20));
        }
    }

    @Test
    void firmwareRomEndsAt4GibReadableButWriteProtected() {
        try (GuestMemory m = GuestMemory.allocate(4L << 20, 128 << 10)) {
            byte[] rom = new byte[128 << 10];
            rom[rom.length - 16] = (byte) 0xEA; // the reset vector's far jump
            m.loadRom(rom);
            assertEquals((byte) 0xEA, m.readU8(0xFFFF_FFF0L));
            assertTrue(m.isRam(0xFFFE_0000L, 0x2_0000));
            assertFalse(m.isRam(0xFFFD_F000L, 1), "below the ROM");
            assertTrue(m.writeProtected(0xFFFF_FFF0L));
            assertFalse(m.writeProtected(0x1_0000_0000L));
            assertEquals(new GuestMemory.RamRange(0xFFFE_0000L, 128 << 10, 4L << 20), m.romRange());
            assertEquals(List.of(new GuestMemory.RamRange(0, 4L << 20, 0)), m.ranges(), "the ROM is not RAM for e820");
            int epoch = m.protectionEpoch();
            m.setLowBiosReadOnly(1 << 12 | 1);
            assertTrue(m.writeProtected(0xF0000) && m.writeProtected(0xC3FFF));
            assertFalse(m.writeProtected(0xC4000) || m.writeProtected(0xEFFFF) || m.writeProtected(0xBFFFF));
            assertNotEquals(epoch, m.protectionEpoch());
        }
        assertThrows(IllegalArgumentException.class, () -> GuestMemory.allocate(4L << 20, 1000));
    }

    /**
     * A balloon's discard: the pages read as zero afterwards and stop being resident, in a private
     * anonymous mapping (madvise) and in a shared memfd (a hole punched, seen through the mapping);
     * a range that is not page-aligned RAM is refused and left as it was.
     */
    @Test
    void discardedPagesReadAsZeroAndLeaveTheHost() {
        for (RamBacking backing : List.of(new RamBacking.Anonymous(), new RamBacking.Memfd("discard-test", true, false))) {
            try (GuestMemory m = GuestMemory.allocate(16L << 20, backing)) {
                m.fill(0x100000, 64 << 10, (byte) 0x5A);
                long before = m.residentBytes();
                assertTrue(m.discard(0x104000, 32 << 10), backing.toString());
                assertEquals(before - (32 << 10), m.residentBytes(), "32 KiB left the host: " + backing);
                assertEquals(0, m.readU8(0x104000), backing.toString());
                assertEquals(0, m.readU8(0x104000 + (32 << 10) - 1), backing.toString());
                assertEquals(0x5A, m.readU8(0x103FFF), "the page before stays: " + backing);
                assertEquals(0x5A, m.readU8(0x10C000), "the page after stays: " + backing);
                assertFalse(m.discard(0x100800, 4096), "not page-aligned");
                assertFalse(m.discard((16L << 20) - 4096, 8192), "beyond RAM");
                assertEquals(0x5A, m.readU8(0x100800), backing.toString());
            }
        }
    }
}
