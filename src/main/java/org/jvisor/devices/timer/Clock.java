package org.jvisor.devices.timer;

/**
 * Monotonic guest time in nanoseconds. Every timer device (PIT, RTC, LAPIC timer) reads time only
 * through this, so a run can be driven by host time or, in tests, by a {@link ManualClock}.
 */
public interface Clock {

    /** Guest nanoseconds since an arbitrary origin; never decreases. */
    long nanos();

    /** Host monotonic time ({@link System#nanoTime()}), 0 at the moment this is called. */
    static Clock host() {
        long origin = System.nanoTime();
        return () -> System.nanoTime() - origin;
    }
}
