package org.jvisor.devices.virtio;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.GuestMemoryException;

/**
 * The transport-neutral half of a virtio transport: device status lifecycle (2.1), feature
 * negotiation (2.2), the queues' configuration, config generation, DEVICE_NEEDS_RESET, and handing
 * queue notifications to a processing thread.
 *
 * <p>Threads: register accesses (vCPU threads) synchronize on this object; queue processing runs on
 * the {@link #setExecutor executor} (or inline when there is none) under the queue's own monitor, so a
 * notify never waits for I/O; a reset waits for in-flight processing of each queue to end.
 */
public final class VirtioCore {
    private final VirtioDevice device;
    private final DmaSpace dma;
    /** With VIRTIO_F_ACCESS_PLATFORM offered: the device's view through the IOMMU; else null. */
    private volatile DmaSpace platformDma;
    private final Consumer<String> log;
    private final SplitVirtqueue[] queues;
    private final Runnable[] runners;
    private final AtomicIntegerArray scheduled;
    private final AtomicInteger generation = new AtomicInteger();
    /** Guest errors logged at most (then one line saying so). */
    static final int LOGGED_GUEST_ERRORS = 10;
    private final AtomicInteger guestErrors = new AtomicInteger();
    private final VirtioInterrupt deviceInterrupt;
    private volatile VirtioInterrupt transport;
    private volatile Executor executor;
    /** Notifications written through the registers are processed on the writing (vCPU) thread. */
    private volatile boolean processOnNotifyingThread;
    /** Notifications written by the driver, from any vCPU thread (no allocation once created). */
    private final LongAdder driverNotifies = new LongAdder();
    /** Of those, the ones processed on the writing thread ({@link #setProcessOnNotifyingThread}). */
    private final LongAdder notifiesServedInline = new LongAdder();

    private int status;
    private long driverFeatures;
    private volatile boolean activated;
    private volatile boolean needsReset;
    private volatile String needsResetReason;

    public VirtioCore(VirtioDevice device, DmaSpace dma, Consumer<String> log) {
        this.device = device;
        this.dma = dma;
        this.log = log;
        if (!Virtio.has(device.deviceFeatures(), Virtio.F_VERSION_1)) {
            throw new IllegalArgumentException(device.name() + " does not offer VIRTIO_F_VERSION_1");
        }
        int n = device.queueCount();
        queues = new SplitVirtqueue[n];
        runners = new Runnable[n];
        scheduled = new AtomicIntegerArray(n);
        for (int i = 0; i < n; i++) {
            queues[i] = new SplitVirtqueue(i, device.queueMaxSize(i));
            int q = i;
            runners[i] = () -> runQueue(q);
        }
        deviceInterrupt = new VirtioInterrupt() {
            @Override
            public void usedBuffer(int queue) {
                VirtioInterrupt t = transport;
                if (t != null) {
                    t.usedBuffer(queue);
                }
            }

            @Override
            public void backendReady(int queue) {
                notifyQueue(queue);
            }

            @Override
            public void configChanged() {
                generation.incrementAndGet();
                VirtioInterrupt t = transport;
                if (t != null) {
                    t.configChanged();
                }
            }
        };
    }

    /** Logs to standard error with the device name. */
    public VirtioCore(VirtioDevice device, DmaSpace dma) {
        this(device, dma, msg -> System.err.println("jvisor: " + msg));
    }

    /**
     * Offers VIRTIO_F_ACCESS_PLATFORM (virtio 1.2, 6): a driver that accepts it gives the device
     * addresses of {@code translated} (behind an IOMMU); one that does not gives guest-physical
     * addresses, which the device then uses untranslated (as Linux does without the feature).
     * Set while the machine is built, before the driver runs.
     */
    public void offerAccessPlatform(DmaSpace translated) {
        this.platformDma = translated;
    }

    /** The offered features: the device's, and ACCESS_PLATFORM when {@link #offerAccessPlatform} was called. */
    private long offeredFeatures() {
        return device.deviceFeatures() | (platformDma != null ? 1L << Virtio.F_ACCESS_PLATFORM : 0);
    }

    /** Where the queues' addresses point with {@code features} accepted. */
    private DmaSpace dmaFor(long features) {
        DmaSpace p = platformDma;
        return p != null && Virtio.has(features, Virtio.F_ACCESS_PLATFORM) ? p : dma;
    }

    /** The transport's interrupt delivery (set once by the transport's constructor). */
    void setTransportInterrupt(VirtioInterrupt t) {
        this.transport = t;
    }

    /**
     * Where queue processing runs: null (the default) processes on the notifying thread; otherwise a
     * notification hands the queue to {@code executor} (a {@link VirtioIoThread} or a shared pool).
     */
    public void setExecutor(Executor executor) {
        this.executor = executor;
    }

    /**
     * Samecore processing: a notification the driver writes through the transport's registers
     * ({@link #driverNotify}, an MMIO exit on a vCPU thread) processes the queue right there, so
     * the request completes, and its used buffer notification is raised, before the driver's
     * write returns, with no hand-off to another thread. QEMU without an iothread does the same
     * on TCG, where its ioeventfd is off: the notify write runs the device's handler in the vCPU
     * thread. Meant for devices whose requests do not block for long (a disk on the host's page
     * cache). Everything else ({@link #doorbellNotify}, {@link #notifyQueue}: kvm's ioeventfd
     * thread, a backend, a restore) still goes to the {@link #setExecutor executor}. Set while
     * the machine is built.
     */
    public void setProcessOnNotifyingThread(boolean on) {
        this.processOnNotifyingThread = on;
    }

    public VirtioDevice device() {
        return device;
    }

    public int queueCount() {
        return queues.length;
    }

    /** Queue {@code i}, or null if the device has no such queue. */
    public SplitVirtqueue queue(int i) {
        return i >= 0 && i < queues.length ? queues[i] : null;
    }

    public int configGeneration() {
        return generation.get();
    }

    public synchronized int status() {
        return status | (needsReset ? Virtio.STATUS_DEVICE_NEEDS_RESET : 0);
    }

    public boolean isNeedsReset() {
        return needsReset;
    }

    /** Why the device needs a reset, or null. */
    public String needsResetReason() {
        return needsResetReason;
    }

    public synchronized long driverFeatures() {
        return driverFeatures;
    }

    /** 32 bits of the offered features: page 0 is bits 0-31, page 1 bits 32-63; 0 beyond. */
    public int deviceFeatures(int page) {
        long f = offeredFeatures();
        return page == 0 ? (int) f : page == 1 ? (int) (f >>> 32) : 0;
    }

    public synchronized int driverFeatures(int page) {
        return page == 0 ? (int) driverFeatures : page == 1 ? (int) (driverFeatures >>> 32) : 0;
    }

    /** The driver writes 32 bits of the features it accepts (ignored once FEATURES_OK is set). */
    public synchronized void writeDriverFeatures(int page, int value) {
        if ((status & Virtio.STATUS_FEATURES_OK) != 0 || page < 0 || page > 1) {
            return;
        }
        int shift = page * 32;
        driverFeatures = (driverFeatures & ~(0xFFFF_FFFFL << shift)) | ((value & 0xFFFF_FFFFL) << shift);
    }

    /**
     * A write to the device status. 0 resets the device. FEATURES_OK stays clear if the driver
     * accepted a feature the device did not offer or did not accept VIRTIO_F_VERSION_1; DRIVER_OK
     * activates the device.
     */
    public synchronized void writeStatus(int value) {
        value &= 0xFF & ~Virtio.STATUS_DEVICE_NEEDS_RESET;
        if (value == 0) {
            reset();
            return;
        }
        int old = status;
        int added = value & ~old;
        if ((added & Virtio.STATUS_FEATURES_OK) != 0) {
            long offered = offeredFeatures();
            if ((driverFeatures & ~offered) != 0) {
                guestError(String.format("%s: driver accepted features %#x that were not offered; FEATURES_OK refused",
                    device.name(), driverFeatures & ~offered));
                value &= ~Virtio.STATUS_FEATURES_OK;
            } else if (!Virtio.has(driverFeatures, Virtio.F_VERSION_1)) {
                guestError(device.name() + ": driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported); FEATURES_OK refused");
                value &= ~Virtio.STATUS_FEATURES_OK;
            }
        }
        status = value;
        if ((added & Virtio.STATUS_DRIVER_OK) != 0 && !activated) {
            if ((value & Virtio.STATUS_FEATURES_OK) == 0) {
                markNeedsReset("DRIVER_OK set without FEATURES_OK");
                return;
            }
            activate();
        }
    }

    private void activate() {
        activated = true;
        for (SplitVirtqueue q : queues) {
            if (q.ready()) {
                if (!activateQueue(q)) {
                    return;
                }
            }
        }
        device.activate(queues, driverFeatures, deviceInterrupt);
    }

    private boolean activateQueue(SplitVirtqueue q) {
        synchronized (q) {
            try {
                q.activate(dmaFor(driverFeatures), driverFeatures);
                return true;
            } catch (VirtqueueException e) {
                markNeedsReset(e.getMessage());
                return false;
            }
        }
    }

    /** Whether the driver may still change queue {@code q}'s configuration (it is not ready). */
    public synchronized boolean queueWritable(int q) {
        SplitVirtqueue vq = queue(q);
        return vq != null && !vq.ready();
    }

    /** The driver wrote queue_enable / QueueReady. */
    public synchronized void setQueueReady(int q, boolean ready) {
        SplitVirtqueue vq = queue(q);
        if (vq == null) {
            return;
        }
        if (ready) {
            vq.setReady(true);
            if (activated && !vq.active()) {
                activateQueue(vq);
            }
        } else {
            synchronized (vq) {
                vq.reset();
            }
        }
    }

    /**
     * The driver wrote a queue notification to the notify region or QueueNotify (the writing vCPU
     * thread): counted (what sidecore polling saves, reported by -trace exits), then processed
     * here with {@link #setProcessOnNotifyingThread}, else {@link #notifyQueue}.
     */
    public void driverNotify(int q) {
        driverNotifies.increment();
        if (processOnNotifyingThread && q >= 0 && q < queues.length) {
            notifiesServedInline.increment();
            runQueue(q);
        } else {
            notifyQueue(q);
        }
    }

    /**
     * The driver's notification came through an engine doorbell (kvm's ioeventfd, on the engine's
     * doorbell thread, which serves every device): counted, then {@link #notifyQueue}.
     */
    public void doorbellNotify(int q) {
        driverNotifies.increment();
        notifyQueue(q);
    }

    /** How many queue notifications the driver wrote ({@link #driverNotify}, {@link #doorbellNotify}). */
    public long driverNotifies() {
        return driverNotifies.sum();
    }

    /** How many of {@link #driverNotifies} were processed on the writing thread (samecore). */
    public long notifiesServedInline() {
        return notifiesServedInline.sum();
    }

    /** The driver notified queue {@code q}: process it now or on the executor. Cheap, lock-free. */
    public void notifyQueue(int q) {
        if (q < 0 || q >= queues.length) {
            return;
        }
        Executor e = executor;
        if (e == null) {
            runQueue(q);
        } else if (scheduled.compareAndSet(q, 0, 1)) {
            e.execute(runners[q]);
        }
    }

    private void runQueue(int q) {
        scheduled.set(q, 0);
        SplitVirtqueue vq = queues[q];
        synchronized (vq) {
            if (!vq.active() || needsReset) {
                return;
            }
            process(q);
        }
    }

    /**
     * Has every queue polled by an iothread ({@link SplitVirtqueue#setPolled}): its processing then
     * leaves available buffer notifications suppressed until {@link #endPoll}.
     */
    public void setPolled(boolean polled) {
        for (SplitVirtqueue vq : queues) {
            synchronized (vq) {
                vq.setPolled(polled);
            }
        }
    }

    /**
     * One look of a polling iothread at queue {@code q}: processes it if the driver made buffers
     * available. Returns whether it did. Allocates nothing.
     */
    public boolean pollQueue(int q) {
        SplitVirtqueue vq = queues[q];
        synchronized (vq) {
            if (!vq.active() || needsReset || !vq.hasAvailable()) {
                return false;
            }
            process(q);
            return true;
        }
    }

    /**
     * A polling iothread stops polling queue {@code q} (its window ended idle): notifications are
     * enabled again, then the ring is read once more, since the driver may have added a buffer
     * after the last look while it still saw notifications off (virtio 1.2, 2.7.10). Returns
     * whether it did: the caller must process the queue rather than block.
     */
    public boolean endPoll(int q) {
        SplitVirtqueue vq = queues[q];
        synchronized (vq) {
            if (!vq.active() || needsReset) {
                return false;
            }
            vq.setNotification(true);
            return vq.hasAvailable();
        }
    }

    /** Processes queue {@code q}; the caller holds its monitor and has checked it is active. */
    private void process(int q) {
        try {
            device.processQueue(q);
        } catch (VirtqueueException e) {
            markNeedsReset(e.getMessage());
        } catch (GuestMemoryException e) {
            markNeedsReset("queue " + q + ": " + e.getMessage());
        } catch (RuntimeException e) {
            markNeedsReset("queue " + q + ": device model failed: " + e);
        }
    }

    /**
     * Marks the device DEVICE_NEEDS_RESET with {@code reason} (logged once), stops processing its
     * queues and, if the driver is running, sends a configuration change notification.
     */
    public void markNeedsReset(String reason) {
        if (needsReset) {
            return;
        }
        needsResetReason = reason;
        needsReset = true;
        guestError(device.name() + ": bad request from the guest, device needs reset: " + reason);
        VirtioInterrupt t = transport;
        if (t != null && activated) {
            t.configChanged();
        }
    }

    /**
     * Logs a guest error, the first {@value #LOGGED_GUEST_ERRORS} of them: a guest that resets
     * and breaks its device in a loop must not fill the host's log (QEMU leaves these to
     * {@code -d guest_errors}). Resets do not start the count again, since that is the loop.
     */
    private void guestError(String msg) {
        int n = guestErrors.getAndIncrement();
        if (n < LOGGED_GUEST_ERRORS) {
            log.accept(msg);
        } else if (n == LOGGED_GUEST_ERRORS) {
            log.accept(device.name() + ": further guest errors are not logged");
        }
    }

    // ---- state ----

    /** Runs {@code body} holding the monitors of queues {@code from} and up, so no queue is processed meanwhile. */
    private <T> T underQueueLocks(int from, Locked<T> body) throws DeviceStateException {
        if (from == queues.length) {
            return body.run();
        }
        synchronized (queues[from]) {
            return underQueueLocks(from + 1, body);
        }
    }

    @FunctionalInterface
    private interface Locked<T> {
        T run() throws DeviceStateException;
    }

    /** Status, features, every queue and the device's state, read while no queue is being processed. */
    public synchronized VirtioState saveState() {
        try {
            return underQueueLocks(0, () -> {
                List<VirtqueueState> qs = new ArrayList<>(queues.length);
                for (SplitVirtqueue q : queues) {
                    qs.add(q.saveState());
                }
                return new VirtioState(status, driverFeatures, activated, needsReset, needsResetReason,
                    generation.get(), qs, device.saveState());
            });
        } catch (DeviceStateException e) {
            throw new IllegalStateException(e); // saving throws nothing
        }
    }

    /**
     * Restores a state saved from a device of the same type and configuration: checks the status,
     * that the accepted features were offered and every queue ({@link SplitVirtqueue#checkState}),
     * then resets the device, takes the state, starts an activated device again on its queues and
     * hands it its own state. Nothing is processed: when the machine runs again,
     * {@link #kickActiveQueues()} looks at the queues.
     */
    public void restoreState(VirtioState s) throws DeviceStateException {
        String name = device.name();
        DeviceStateException.checkBits(name, "device status", s.status(), 0xFF & ~Virtio.STATUS_DEVICE_NEEDS_RESET);
        long offered = offeredFeatures();
        if ((s.driverFeatures() & ~offered) != 0) {
            throw new DeviceStateException(String.format("%s: the driver accepted features %#x that this device does not offer",
                name, s.driverFeatures() & ~offered));
        }
        DeviceStateException.checkLength(name, "queues", s.queues().size(), queues.length);
        for (int i = 0; i < queues.length; i++) {
            queues[i].checkState(s.queues().get(i), dmaFor(s.driverFeatures()));
        }
        synchronized (this) {
            underQueueLocks(0, () -> {
                for (SplitVirtqueue q : queues) {
                    q.reset();
                }
                device.reset();
                status = s.status();
                driverFeatures = s.driverFeatures();
                needsReset = s.needsReset();
                needsResetReason = s.needsResetReason();
                generation.set(s.configGeneration());
                for (int i = 0; i < queues.length; i++) {
                    queues[i].restoreState(s.queues().get(i), dmaFor(driverFeatures), driverFeatures);
                    scheduled.set(i, 0);
                }
                activated = s.activated();
                if (activated) {
                    device.activate(queues, driverFeatures, deviceInterrupt);
                }
                device.restoreState(s.device());
                return null;
            });
        }
    }

    /**
     * Processes every queue in use once, as if the driver had notified it: after a restore, a
     * notification that came before the save and was not yet processed must not be lost. A queue
     * with nothing available is left as it is; at a first boot no queue is in use yet.
     */
    public void kickActiveQueues() {
        for (int i = 0; i < queues.length; i++) {
            boolean active;
            synchronized (queues[i]) {
                active = queues[i].active();
            }
            if (active) {
                notifyQueue(i);
            }
        }
    }

    /** A device reset from the transport (bus or machine reset): as if the driver wrote status 0. */
    public synchronized void resetDevice() {
        reset();
    }

    private void reset() {
        for (SplitVirtqueue q : queues) {
            synchronized (q) {
                q.reset();
            }
        }
        device.reset();
        status = 0;
        driverFeatures = 0;
        activated = false;
        needsReset = false;
        needsResetReason = null;
        for (int i = 0; i < queues.length; i++) {
            scheduled.set(i, 0);
        }
    }
}
