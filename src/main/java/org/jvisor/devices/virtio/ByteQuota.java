package org.jvisor.devices.virtio;

import java.util.function.LongSupplier;

/**
 * virtio-rng's rate limit, QEMU's {@code max-bytes} per {@code period} milliseconds: a period
 * starts with the first bytes given after the last one ended, and within it at most
 * {@code maxBytes} go to the guest. Used by one processing thread at a time.
 */
final class ByteQuota {
    /** No limit: QEMU's default max-bytes (INT64_MAX). */
    static final long UNLIMITED = Long.MAX_VALUE;

    private final long maxBytes;
    private final long periodNanos;
    private final LongSupplier nanoClock;
    private boolean running;
    private long periodStart;
    private long given;

    ByteQuota(long maxBytes, long periodNanos, LongSupplier nanoClock) {
        if (maxBytes < 0 || periodNanos <= 0) {
            throw new IllegalArgumentException("max-bytes " + maxBytes + " per " + periodNanos + " ns");
        }
        this.maxBytes = maxBytes;
        this.periodNanos = periodNanos;
        this.nanoClock = nanoClock;
    }

    /** Bytes that may go to the guest now. */
    long available() {
        if (maxBytes == UNLIMITED) {
            return UNLIMITED;
        }
        if (running && nanoClock.getAsLong() - periodStart >= periodNanos) {
            running = false;
        }
        return running ? maxBytes - given : maxBytes;
    }

    /** {@code n} bytes went to the guest (no more than {@link #available()} said). */
    void take(long n) {
        if (maxBytes == UNLIMITED || n == 0) {
            return;
        }
        if (!running) {
            running = true;
            periodStart = nanoClock.getAsLong();
            given = 0;
        }
        given += n;
    }

    /** Nanoseconds until the running period ends and the quota is whole again (0 if none runs). */
    long nanosToRefill() {
        return running ? Math.max(0, periodStart + periodNanos - nanoClock.getAsLong()) : 0;
    }
}
