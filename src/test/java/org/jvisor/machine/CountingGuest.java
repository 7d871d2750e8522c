package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Supplier;

/**
 * The test guests that count in RAM, and how a test waits on them: spin.elf (guests/spin.S) counts
 * at {@link #COUNTER} without a single exit; ticks.elf (guests/ticks.S) counts there too and counts
 * its local APIC timer interrupts at {@link #TICKS}. Snapshot, migration and pause tests read the
 * counters to see that a guest ran, stopped, or went on from where it was saved.
 */
final class CountingGuest {
    /** The loop count of both guests. */
    static final long COUNTER = 0x300000;
    /** ticks.elf's count of LAPIC timer interrupts taken. */
    static final long TICKS = 0x300008;
    /** A hang guard, not a time limit: a loaded CI host runs these guests in well under a second. */
    private static final long HANG_GUARD_NS = 120_000_000_000L;

    private CountingGuest() {
    }

    /** Waits until the guest's loop count reached {@code count}. */
    static void awaitCount(Machine m, long count) throws InterruptedException {
        awaitAtLeast(m, count, 0, () -> "");
    }

    /**
     * Waits until the loop count reached {@code count} and ticks.elf took {@code ticks} timer
     * interrupts; {@code detail} (e.g. the machine's events) goes into the hang guard's message.
     */
    static void awaitAtLeast(Machine m, long count, long ticks, Supplier<?> detail) throws InterruptedException {
        long guard = System.nanoTime() + HANG_GUARD_NS;
        while (m.ram().readU64(COUNTER) < count || ticks > 0 && m.ram().readU64(TICKS) < ticks) {
            assertTrue(System.nanoTime() < guard, () -> "hang guard: count " + m.ram().readU64(COUNTER) + " of " + count
                + ", ticks " + m.ram().readU64(TICKS) + " of " + ticks + " " + detail.get());
            Thread.sleep(1);
        }
    }
}
