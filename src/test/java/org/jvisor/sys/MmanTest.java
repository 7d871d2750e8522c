package org.jvisor.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class MmanTest {
    @Test
    void twoSharedMappingsOfOneMemfdSeeEachOthersWrites() throws IOException {
        long size = 1 << 20;
        try (Fd memfd = Mman.memfdCreate("guest-ram", Mman.MFD_CLOEXEC)) {
            memfd.ftruncate(size);
            MemorySegment a = Mman.map(size, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, memfd, 0);
            MemorySegment b = Mman.map(size, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, memfd, 0);
            try {
                assertNotEquals(a.address(), b.address());
                a.set(ValueLayout.JAVA_LONG, 0x1000, 0x1122_3344_5566_7788L);
                assertEquals(0x1122_3344_5566_7788L, b.get(ValueLayout.JAVA_LONG, 0x1000));
                b.set(ValueLayout.JAVA_INT, size - 4, 0xCAFE);
                assertEquals(0xCAFE, a.get(ValueLayout.JAVA_INT, size - 4));
                Mman.advise(b.asSlice(0, 4096), Mman.MADV_DONTNEED);
                assertEquals(0x1122_3344_5566_7788L, a.get(ValueLayout.JAVA_LONG, 0x1000),
                    "MADV_DONTNEED on a shared mapping drops only that mapping's pages, not the file's data");
            } finally {
                Mman.unmap(a);
                Mman.unmap(b);
            }
        }
    }

    @Test
    void anonymousMappingsAreZeroedAndProtectable() throws IOException {
        MemorySegment m = Mman.mapAnonymous(8192, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE | Mman.MAP_NORESERVE);
        assertEquals(8192, m.byteSize());
        assertEquals(0, m.get(ValueLayout.JAVA_LONG, 4096));
        Mman.protect(m, Mman.PROT_READ);
        Mman.protect(m, Mman.PROT_READ | Mman.PROT_WRITE);
        m.set(ValueLayout.JAVA_BYTE, 1, (byte) 1);
        Mman.unmap(m);
    }

    @Test
    void aFailedMapNamesItsArguments() {
        SysException e = assertThrows(SysException.class,
            () -> Mman.mapAnonymous(0, Mman.PROT_READ, Mman.MAP_PRIVATE));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().startsWith("mmap(anonymous, 0 bytes, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS): EINVAL"),
            e.getMessage());
    }

    @Test
    void residentBytesCountsTheTouchedPagesOnly() throws IOException {
        long size = 80L << 20; // more pages than one mincore call asks about
        MemorySegment m = Mman.mapAnonymous(size, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE | Mman.MAP_NORESERVE);
        try {
            assertEquals(0, Mman.residentBytes(m));
            m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 1);
            m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 5 * 4096 + 7, (byte) 1);
            m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, size - 1, (byte) 1);
            assertEquals(3 * 4096, Mman.residentBytes(m));
            Mman.advise(m, Mman.MADV_DONTNEED);
            assertEquals(0, Mman.residentBytes(m), "pages given back are not resident");
        } finally {
            Mman.unmap(m);
        }
    }
}
