package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * The soft TLB's host accesses: each size at every alignment, in the host's byte order, against
 * the same bytes read through the segment. The suite runs with raw accesses, as the launcher
 * does; the README's embedding example (ReadmeExampleTest) boots a guest without them.
 */
class HostMemoryTest {
    @Test
    void theSuiteRunsWithRawAccessesAsTheLauncherDoes() {
        assertEquals("allow", System.getProperty("sun.misc.unsafe.memory.access"));
        assertEquals(true, HostMemory.RAW);
    }

    @Test
    void eachSizeReadsAndWritesTheHostBytesAtAnyAlignment() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(64);
            long base = m.address();
            for (int off = 0; off < 16; off++) {
                m.fill((byte) 0);
                HostMemory.put8(base + off, 0x8877_6655_4433_2211L);
                assertEquals(0x8877_6655_4433_2211L, m.get(ValueLayout.JAVA_LONG_UNALIGNED, off));
                assertEquals(0x8877_6655_4433_2211L, HostMemory.get8(base + off));
                assertEquals(0x4433_2211L, HostMemory.get4(base + off));
                assertEquals(0x2211L, HostMemory.get2(base + off));
                assertEquals(0x11L, HostMemory.get1(base + off));
                assertEquals(0x88L, HostMemory.get1(base + off + 7), "zero-extended, not sign-extended");
                assertEquals(0x8877_6655L, HostMemory.get4(base + off + 4));
                HostMemory.put4(base + off, 0xFFFF_FFFF_AABB_CCDDL); // only the low four bytes
                HostMemory.put2(base + off + 4, 0x1_EEFFL);
                HostMemory.put1(base + off + 6, 0x1_99L);
                assertEquals(0x8899_EEFF_AABB_CCDDL, m.get(ValueLayout.JAVA_LONG_UNALIGNED, off));
                assertEquals(0L, m.get(ValueLayout.JAVA_BYTE, off + 8), "nothing past the store");
            }
        }
    }
}
