package org.jvisor.memory;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AddressSpaceTest {

    /** Records accesses; reads return offset * 0x11 + size so tests can see offset and size. */
    static final class Recorder implements BusDevice {
        final List<String> log = new ArrayList<>();

        @Override
        public long read(long offset, int size) {
            log.add("r" + offset + "/" + size);
            return offset * 0x11 + size;
        }

        @Override
        public void write(long offset, int size, long value) {
            log.add("w" + offset + "/" + size + "=" + Long.toHexString(value));
        }
    }

    @Test
    void dispatchesToTheOwningRegionWithTheOffsetFromItsBase() {
        AddressSpace io = new AddressSpace("io", 0x10000);
        Recorder a = new Recorder();
        Recorder b = new Recorder();
        io.register("a", 0x3F8, 8, a);
        io.register("b", 0x60, 1, b);
        assertEquals(5 * 0x11 + 1, io.read(0x3FD, 1));
        io.write(0x3F8, 1, 0x41);
        io.write(0x60, 1, 0xFE);
        assertEquals(List.of("r5/1", "w0/1=41"), a.log);
        assertEquals(List.of("w0/1=fe"), b.log);
        assertSame(a, io.find(0x3FF).device());
        assertNull(io.find(0x400));
        assertNull(io.find(0x3F7));
    }

    @Test
    void unclaimedReadsAreAllOnesAndUnclaimedWritesAreCounted() {
        AddressSpace io = new AddressSpace("io", 0x10000);
        assertEquals(0xFF, io.read(0x80, 1));
        assertEquals(0xFFFF, io.read(0x80, 2));
        assertEquals(0xFFFF_FFFFL, io.read(0x80, 4));
        assertEquals(-1L, io.read(0x80, 8));
        io.write(0x80, 1, 1);
        io.write(0x81, 4, 2);
        assertEquals(4, io.unclaimedReads());
        assertEquals(2, io.unclaimedWrites());
        assertEquals(0x81, io.lastUnclaimedAddress());
    }

    @Test
    void overlappingOrOutOfRangeRegionsAreRefused() {
        AddressSpace io = new AddressSpace("io", 0x10000);
        io.register("a", 0x100, 0x10, new Recorder());
        var e = assertThrows(IllegalArgumentException.class, () -> io.register("b", 0x10F, 2, new Recorder()));
        assertTrue(e.getMessage().contains("overlaps a"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> io.register("c", 0xFFFF, 2, new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> io.register("d", 0x200, 0, new Recorder()));
        io.register("adjacent", 0x110, 0x10, new Recorder());
    }

    @Test
    void unregisteredRegionsStopReceivingAccesses() {
        AddressSpace mem = new AddressSpace("memory", 1L << 52);
        Recorder r = new Recorder();
        var region = mem.register("mmio", 0xFEC0_0000L, 0x1000, r);
        mem.write(0xFEC0_0010L, 4, 7);
        mem.unregister(region);
        mem.write(0xFEC0_0010L, 4, 7);
        assertEquals(1, r.log.size());
        assertEquals(1, mem.unclaimedWrites());
    }

    @Test
    void manyRegionsAreFoundByBinarySearch() {
        AddressSpace io = new AddressSpace("io", 0x10000);
        for (int i = 0; i < 100; i++) {
            io.register("r" + i, i * 0x10, 8, new Recorder());
        }
        for (int i = 0; i < 100; i++) {
            assertEquals("r" + i, io.find(i * 0x10 + 7).owner());
            assertNull(io.find(i * 0x10 + 8));
        }
    }
}
