package org.jvisor.tcg;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Loads and stores at host addresses of guest RAM, for the soft TLB's hits ({@link Mmu}): the
 * address is checked against guest RAM when the TLB entry is filled, not here.
 * <p>
 * Through {@code java.lang.foreign} each access inlines about thirty methods (the var handle,
 * the segment's bounds, alignment and session checks, the scoped access), which C2 folds away
 * in the end, but only after parsing them: C2 stops inlining in a method once it has created
 * 18000 nodes ({@code NodeCountInliningCutoff}, fixed in product builds), and a translated unit
 * with a dozen guest loads reaches that after five or six of them; the rest become calls, across
 * which every guest register goes back to memory (measured in md5sum's units with
 * {@code -XX:+PrintInlining}). {@code sun.misc.Unsafe}'s raw accesses are one intrinsic each. They
 * are deprecated for removal and warn unless the JVM runs with
 * {@code --sun-misc-unsafe-memory-access=allow} (JEP 471), so they are used only where the JVM
 * was started so (the launcher and the test suite do); anywhere else this falls back to the
 * segment, the same accesses, slower in large units.
 */
@SuppressWarnings("removal")
final class HostMemory {
    /** Whether raw accesses are in use (else the segment): for -d jit and tests. */
    static final boolean RAW;
    private static final sun.misc.Unsafe UNSAFE;
    /** The whole address space as one segment: a constant, so C2 drops its bounds and liveness checks. */
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private static final ValueLayout.OfByte B = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfShort W = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt D = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong Q = ValueLayout.JAVA_LONG_UNALIGNED;

    static {
        sun.misc.Unsafe u = null;
        if ("allow".equals(System.getProperty("sun.misc.unsafe.memory.access"))) {
            try {
                var f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
                f.setAccessible(true);
                u = (sun.misc.Unsafe) f.get(null);
            } catch (ReflectiveOperationException | RuntimeException e) {
                u = null; // a JDK without it: the segment does the same
            }
        }
        UNSAFE = u;
        RAW = u != null;
    }

    private HostMemory() {
    }

    // Each method tests a static final field, which C2 and C1 fold: only one path is compiled.
    // Both orders are the host's (x86: little-endian, unaligned accesses allowed).

    static long get1(long address) {
        return (RAW ? UNSAFE.getByte(address) : ALL.get(B, address)) & 0xFFL;
    }

    static long get2(long address) {
        return (RAW ? UNSAFE.getShort(address) : ALL.get(W, address)) & 0xFFFFL;
    }

    static long get4(long address) {
        return (RAW ? UNSAFE.getInt(address) : ALL.get(D, address)) & 0xFFFF_FFFFL;
    }

    static long get8(long address) {
        return RAW ? UNSAFE.getLong(address) : ALL.get(Q, address);
    }

    static void put1(long address, long v) {
        if (RAW) {
            UNSAFE.putByte(address, (byte) v);
        } else {
            ALL.set(B, address, (byte) v);
        }
    }

    static void put2(long address, long v) {
        if (RAW) {
            UNSAFE.putShort(address, (short) v);
        } else {
            ALL.set(W, address, (short) v);
        }
    }

    static void put4(long address, long v) {
        if (RAW) {
            UNSAFE.putInt(address, (int) v);
        } else {
            ALL.set(D, address, (int) v);
        }
    }

    static void put8(long address, long v) {
        if (RAW) {
            UNSAFE.putLong(address, v);
        } else {
            ALL.set(Q, address, v);
        }
    }
}
