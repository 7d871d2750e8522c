package org.jvisor.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;

import org.junit.jupiter.api.Test;
import org.jvisor.testing.Smaps;

/**
 * Guest RAM as the host kernel sees it (/proc/self/smaps): anonymous RAM is a private mapping,
 * which the host's KSM can merge once it is marked mergeable; a MAP_SHARED memfd, which KSM never
 * merges, is left unmarked.
 */
class MergeableGuestMemoryTest {
    @Test
    void anonymousRamIsPrivateAndMergeableOnlyWhenAsked() throws IOException {
        try (GuestMemory plain = GuestMemory.allocate(8L << 20); GuestMemory merged = GuestMemory.allocate(8L << 20)) {
            Smaps p = Smaps.at(plain.segment().address());
            assertEquals("rw-p", p.perms(), "private, as QEMU's RAM: KSM merges only private pages");
            assertFalse(p.mergeable(), "without the advice the mapping stays as mmap made it");

            assumeTrue(Smaps.hostHasKsm(), "the host kernel has no KSM (CONFIG_KSM)");
            assertTrue(merged.mergeIdenticalPages());
            Smaps m = Smaps.at(merged.segment().address());
            assertTrue(m.mergeable(), m.toString());
            assertEquals("rw-p", m.perms());
            assertFalse(Smaps.at(plain.segment().address()).mergeable(), "only the RAM advised");
            merged.writeU64(0x1000, 0x0123_4567_89AB_CDEFL);
            assertEquals(0x0123_4567_89AB_CDEFL, merged.readU64(0x1000));
        }
    }

    @Test
    void sharedMemfdRamIsNotMarked() throws IOException {
        assumeTrue(Smaps.hostHasKsm(), "the host kernel has no KSM (CONFIG_KSM)");
        try (GuestMemory shared = GuestMemory.allocate(8L << 20, new RamBacking.Memfd("shared", true, false));
             GuestMemory priv = GuestMemory.allocate(8L << 20, new RamBacking.Memfd("private", false, false))) {
            assertTrue(shared.mergeIdenticalPages(), "no error: the kernel leaves a shared mapping alone");
            Smaps s = Smaps.at(shared.segment().address());
            assertEquals("rw-s", s.perms());
            assertFalse(s.mergeable(), "KSM never merges MAP_SHARED pages (another process may map them)");
            assertTrue(priv.mergeIdenticalPages());
            assertTrue(Smaps.at(priv.segment().address()).mergeable(), "a private memfd mapping's copied pages can merge");
        }
    }
}
