package org.jvisor.devices.virtio;

import java.security.SecureRandom;

import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * virtio-rng (virtio 1.2, 5.4): one queue of writable buffers, filled with host entropy from
 * {@link SecureRandom} (the OS source, /dev/urandom on Linux).
 */
public final class VirtioRng implements VirtioDevice {
    public static final int QUEUE_SIZE = 64;
    /** At most this many bytes per request, so one greedy buffer cannot hog the device thread. */
    public static final int MAX_PER_REQUEST = 64 * 1024;

    private final SecureRandom random;
    /**
     * Entropy drawn from the source 4 KiB at a time; the last {@link #pooled} bytes are unused.
     * Each byte goes to the guest once: a 64-byte request costs 64 bytes of the source, not 4 KiB.
     */
    private final byte[] buf = new byte[4096];
    private int pooled;
    private volatile SplitVirtqueue queue;
    private volatile VirtioInterrupt interrupt;

    public VirtioRng() {
        this(new SecureRandom());
    }

    public VirtioRng(SecureRandom random) {
        this.random = random;
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

    /** Bound once: processQueue runs per notification and must not allocate. */
    private final SplitVirtqueue.RequestHandler handler = this::fill;

    @Override
    public void processQueue(int index) throws VirtqueueException {
        SplitVirtqueue q = queue;
        if (q == null) {
            return;
        }
        if (q.drain(handler)) {
            interrupt.usedBuffer(0);
        }
    }

    /** Fills one request's writable buffers with entropy; returns the bytes written. */
    private int fill(DescriptorChain c) throws VirtqueueException {
        if (c.readableCount() != 0) {
            throw new VirtqueueException("virtio-rng request " + c.head() + " has device-readable buffers");
        }
        long want = Math.min(c.writableBytes(), MAX_PER_REQUEST);
        int done = 0;
        while (done < want) {
            if (pooled == 0) {
                random.nextBytes(buf);
                pooled = buf.length;
            }
            int n = (int) Math.min(pooled, want - done);
            c.write(done, buf, buf.length - pooled, n);
            pooled -= n;
            done += n;
        }
        return done;
    }
}
