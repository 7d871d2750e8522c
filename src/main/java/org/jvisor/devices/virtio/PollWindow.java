package org.jvisor.devices.virtio;

/**
 * An iothread's adaptive polling window, as QEMU's {@code adjust_polling_time} (util/aio-posix.c)
 * sizes it: after each wait the time the thread waited for its event ({@code blockNs}, polling
 * included) moves the window. An event found within the window leaves it alone; a wait longer than
 * {@code maxNs} shrinks it (divided by {@code shrink}, or to 0 when shrink is 0); a shorter wait
 * that the window missed grows it (times {@code grow}, 2 when 0; from 0 to 4 µs), capped at
 * {@code maxNs}. With {@code maxNs} 0 the window stays 0: the thread never polls. Not thread-safe:
 * the iothread owns it.
 */
public final class PollWindow {
    /** Where a window grows from 0 (QEMU: "start polling at 4 microseconds"). */
    public static final long INITIAL_NS = 4000;
    /** QEMU's default poll-max-ns on Linux (AIO_POLL_MAX_NS_DEFAULT). */
    public static final long DEFAULT_MAX_NS = 32768;

    private final long maxNs;
    private final long grow;
    private final long shrink;
    /** Written by the iothread only; volatile for readers that report it. */
    private volatile long ns;

    public PollWindow(long maxNs, long grow, long shrink) {
        if (maxNs < 0 || grow < 0 || shrink < 0) {
            throw new IllegalArgumentException("poll-max-ns, poll-grow and poll-shrink must not be negative");
        }
        this.maxNs = maxNs;
        this.grow = grow;
        this.shrink = shrink;
    }

    /** How long the thread polls before it blocks, now. */
    public long ns() {
        return ns;
    }

    public long maxNs() {
        return maxNs;
    }

    /** Whether this window can ever poll (poll-max-ns above 0). */
    public boolean enabled() {
        return maxNs > 0;
    }

    /** The thread waited {@code blockNs} for its last event (polling and blocking together). */
    public void adjust(long blockNs) {
        if (blockNs <= ns) {
            return;                         // found while polling: the sweet spot
        }
        if (blockNs > maxNs) {
            ns = shrink == 0 ? 0 : ns / shrink;     // would have to poll too long: poll less
        } else if (ns < maxNs) {
            long factor = grow == 0 ? 2 : grow;
            long next = ns == 0 ? INITIAL_NS : ns > maxNs / factor ? maxNs : ns * factor;
            ns = Math.min(next, maxNs);
        }
    }
}
