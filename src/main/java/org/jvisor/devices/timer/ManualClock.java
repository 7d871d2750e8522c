package org.jvisor.devices.timer;

/** A clock that moves only when told to: deterministic time for tests (and for instruction counting). */
public final class ManualClock implements Clock {
    private volatile long now;

    public ManualClock() {
        this(0);
    }

    public ManualClock(long startNanos) {
        this.now = startNanos;
    }

    @Override
    public long nanos() {
        return now;
    }

    /** Moves time to {@code nanos}; a value in the past is ignored (the clock is monotonic). */
    public synchronized void set(long nanos) {
        if (nanos > now) {
            now = nanos;
        }
    }

    public void advance(long deltaNanos) {
        if (deltaNanos < 0) {
            throw new IllegalArgumentException("time cannot go backwards: " + deltaNanos);
        }
        synchronized (this) {
            now += deltaNanos;
        }
    }
}
