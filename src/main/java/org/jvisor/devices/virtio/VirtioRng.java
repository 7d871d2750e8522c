package org.jvisor.devices.virtio;

import java.io.IOException;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

import org.jvisor.backend.rng.BuiltinEntropy;
import org.jvisor.backend.rng.EntropySource;

import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.util.DelayedAction;

/**
 * virtio-rng (virtio 1.2, 5.4): one queue of writable buffers, filled from an
 * {@link EntropySource} (QEMU's rng backends), at most {@code max-bytes} per {@code period} as
 * QEMU's device limits it. A request waits in the queue, not popped, while the source has nothing
 * or the period's bytes are used up; the device then looks again when the source may have more
 * (every {@link #SOURCE_RETRY_NANOS}) or the period ends. The device owns its source: {@link #close}
 * closes it.
 */
public final class VirtioRng implements VirtioDevice, AutoCloseable {
    public static final int QUEUE_SIZE = 64;
    /** At most this many bytes per request, so one greedy buffer cannot hog the device thread. */
    public static final int MAX_PER_REQUEST = 64 * 1024;
    /** QEMU's default period: 2^16 ms (with max-bytes unlimited it never matters). */
    public static final long DEFAULT_PERIOD_MILLIS = 1 << 16;
    /** How soon an empty source is asked again while a request waits. */
    static final long SOURCE_RETRY_NANOS = 10_000_000;

    private final EntropySource source;
    private final ByteQuota quota;
    private final Consumer<String> log;
    private final byte[] buf = new byte[4096];
    /**
     * Looks at the queue again once the source may have bytes or the period ends; closed before
     * the machine unmaps guest RAM, so no late look touches it.
     */
    private final DelayedAction retry = new DelayedAction("virtio-rng-wait", () -> {
        VirtioInterrupt i = this.interrupt;
        if (i != null) {
            i.backendReady(0);
        }
    });
    private boolean toldExhausted;
    private boolean toldError;
    private volatile SplitVirtqueue queue;
    private volatile VirtioInterrupt interrupt;

    /** The host's generator, no rate limit. */
    public VirtioRng() {
        this(new BuiltinEntropy(), ByteQuota.UNLIMITED, DEFAULT_PERIOD_MILLIS, System::nanoTime,
            msg -> System.err.println("jvisor: " + msg));
    }

    public VirtioRng(EntropySource source) {
        this(source, ByteQuota.UNLIMITED, DEFAULT_PERIOD_MILLIS, System::nanoTime, msg -> System.err.println("jvisor: " + msg));
    }

    /**
     * {@code maxBytes} per {@code periodMillis} (QEMU's max-bytes and period; {@link Long#MAX_VALUE}
     * for no limit), timed by {@code nanoClock}.
     */
    public VirtioRng(EntropySource source, long maxBytes, long periodMillis, LongSupplier nanoClock, Consumer<String> log) {
        this.source = source;
        this.quota = new ByteQuota(maxBytes, periodMillis * 1_000_000L, nanoClock);
        this.log = log;
    }

    @Override
    public int deviceType() {
        return Virtio.ID_RNG;
    }

    @Override
    public String name() {
        return "virtio-rng";
    }

    @Override
    public long deviceFeatures() {
        return Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_RING_INDIRECT_DESC)
            | Virtio.bit(Virtio.F_RING_EVENT_IDX);
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize(int queue) {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return 0;
    }

    @Override
    public long readConfig(int offset, int size) {
        return 0;
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
    }

    @Override
    public void activate(SplitVirtqueue[] queues, long features, VirtioInterrupt interrupt) {
        this.queue = queues[0];
        this.interrupt = interrupt;
    }

    @Override
    public void reset() {
        queue = null;
        interrupt = null;
    }

    @Override
    public DeviceState saveState() {
        return new VirtioRngState();
    }

    @Override
    public void restoreState(DeviceState state) throws DeviceStateException {
        if (!(state instanceof VirtioRngState)) {
            throw DeviceStateException.wrongKind(name(), VirtioRngState.class, state);
        }
    }

    @Override
    public void processQueue(int index) throws VirtqueueException {
        SplitVirtqueue q = queue;
        if (q == null) {
            return;
        }
        boolean used = false;
        boolean waiting = false;    // on the source or the period: looked at again by retryIn
        do {
            q.setNotification(false);
            while (q.hasAvailable()) {
                long allowed = quota.available();
                if (allowed == 0) {
                    retryIn(quota.nanosToRefill());
                    waiting = true;
                    break;
                }
                DescriptorChain c = q.pop();
                if (c.writableBytes() == 0) {
                    q.push(c.head(), fill(c, 0));    // nothing to fill (checked, and done at once)
                    used = true;
                    continue;
                }
                int n = fill(c, allowed);
                if (n == 0) {
                    q.unpop(1);
                    sourceEmpty();
                    waiting = true;
                    break;
                }
                quota.take(n);
                q.push(c.head(), n);
                used = true;
            }
            if (q.polled()) {
                break;      // the poller looks again, and re-enables notifications when it stops
            }
            // a waiting request needs no kick to be served (the retry comes); a new one re-checks here
            q.setNotification(true);
        } while (!waiting && q.hasAvailable());
        if (used && q.needsNotification()) {
            interrupt.usedBuffer(0);
        }
    }

    /** Fills one request's writable buffers with what the source has, at most {@code allowed} bytes. */
    private int fill(DescriptorChain c, long allowed) throws VirtqueueException {
        if (c.readableCount() != 0) {
            throw new VirtqueueException("virtio-rng request " + c.head() + " has device-readable buffers");
        }
        long want = Math.min(Math.min(c.writableBytes(), MAX_PER_REQUEST), allowed);
        int done = 0;
        while (done < want) {
            int n;
            try {
                n = source.read(buf, 0, (int) Math.min(buf.length, want - done));
            } catch (IOException e) {
                if (!toldError) {       // once: the source is asked again every few milliseconds
                    toldError = true;
                    log.accept("virtio-rng: " + source.describe() + ": " + e.getMessage() + "; requests wait");
                }
                break;
            }
            if (n == 0) {
                break;
            }
            c.write(done, buf, 0, n);
            done += n;
        }
        return done;
    }

    /** The source had nothing for a waiting request: ask it again soon, unless it has ended for good. */
    private void sourceEmpty() {
        if (!source.exhausted()) {
            retryIn(SOURCE_RETRY_NANOS);
        } else if (!toldExhausted) {
            toldExhausted = true;
            log.accept("virtio-rng: " + source.describe() + " has no more bytes; the guest's requests wait");
        }
    }

    /** Processes the queue again in {@code nanos}, as if the driver had notified it (one wait at a time). */
    private void retryIn(long nanos) {
        retry.schedule(nanos);
    }

    /** Stops looking at the queue by itself (before the machine unmaps guest RAM), then closes the source it owns. */
    @Override
    public void close() {
        retry.close();
        source.close();
    }
}
