package org.jvisor.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.LongUnaryOperator;

import org.jvisor.memory.GuestMemory;

/**
 * Where a device under a fuzz target wrote guest RAM: a shadow copy of RAM that receives every
 * store the test's driver makes (through the put methods here, which write both), so any byte
 * where RAM and the shadow differ was written by the device. {@link #check} walks those bytes and
 * fails on the first that lies outside the ranges the device may write (its buffers as the guest
 * described them), then takes the allowed ones into the shadow so the next check starts clean.
 */
public final class RamWriteCheck {
    private final GuestMemory ram;
    private final long size;
    private final MemorySegment before;

    /** A shadow of all of {@code ram} (at most 2 GiB; fuzz targets use a few MiB). */
    public RamWriteCheck(GuestMemory ram) {
        this.ram = ram;
        this.size = ram.size();
        this.before = MemorySegment.ofArray(new byte[Math.toIntExact(size)]);
        MemorySegment.copy(ram.segment(), 0, before, 0, size);
    }

    public GuestMemory ram() {
        return ram;
    }

    public void put64(long a, long v) {
        ram.writeU64(a, v);
        before.set(ValueLayout.JAVA_LONG_UNALIGNED, a, v);
    }

    public void put32(long a, int v) {
        ram.writeU32(a, v);
        before.set(ValueLayout.JAVA_INT_UNALIGNED, a, v);
    }

    public void put16(long a, int v) {
        ram.writeU16(a, (short) v);
        before.set(ValueLayout.JAVA_SHORT_UNALIGNED, a, (short) v);
    }

    public void putBytes(long a, byte[] b) {
        ram.write(a, b);
        MemorySegment.copy(b, 0, before, ValueLayout.JAVA_BYTE, a, b.length);
    }

    public void zero(long a, long len) {
        ram.fill(a, len, (byte) 0);
        before.asSlice(a, len).fill((byte) 0);
    }

    /**
     * Every byte of RAM the device changed since the last check lies in an allowed range:
     * {@code allowedEnd} maps an address to the end of the allowed range holding it, or to the
     * address itself when none does.
     */
    public void check(LongUnaryOperator allowedEnd) {
        MemorySegment now = ram.segment();
        long pos = 0;
        while (pos < size) {
            long m = now.asSlice(pos).mismatch(before.asSlice(pos, size - pos));
            if (m < 0) {
                break;
            }
            long at = pos + m;
            long end = Math.min(allowedEnd.applyAsLong(at), size);
            assertTrue(end > at, String.format("device wrote guest RAM at %#x, outside its buffers", at));
            MemorySegment.copy(now, at, before, at, end - at); // seen: the next check starts from here
            pos = end;
        }
    }
}
