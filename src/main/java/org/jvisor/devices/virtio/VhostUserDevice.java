package org.jvisor.devices.virtio;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

import org.jvisor.backend.vhost.VhostUserException;
import org.jvisor.backend.vhost.VhostUserFrontend;
import org.jvisor.backend.vhost.VhostUserMessage;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.GuestMemory;
import org.jvisor.sys.EventFd;
import org.jvisor.sys.Poll;
import org.jvisor.sys.SysException;

/**
 * A vhost-user device (QEMU's hw/virtio/vhost-user.c with hw/block/vhost-user-blk.c or
 * hw/virtio/vhost-user-fs.c; what kind is a {@link VhostUserKind}): a virtio device whose queues
 * another process serves. jvisor keeps the transport (registers, feature negotiation, MSI-X) and hands the rings
 * to the backend at DRIVER_OK: guest RAM by descriptor, ring addresses as jvisor's own virtual
 * addresses, one kick and one call eventfd per queue. A queue notification becomes a write to the
 * kick eventfd ({@link #processQueue}, or on kvm an ioeventfd on it). The backend's signal on a
 * call eventfd is the queue's used-buffer interrupt: on kvm, while the guest lets the queue's MSI-X
 * vector send, the eventfd is bound to the vector's message in the kernel (irqfd, by the
 * transport: {@link #queueCallInKernel}) and the interrupt never passes through jvisor; otherwise
 * (tcg, a masked vector, MSI-X off) a thread of the device waits on it and raises the interrupt
 * (the relay, counted by {@link #relayedCalls}). A blk device's
 * config space is the backend's (GET_CONFIG), an fs device's its own (the tag).
 *
 * <p>When the backend goes away: with reconnect (the chardev's reconnect=N) the device connects
 * again every N seconds, repeats the handshake and, if the driver is running, starts the rings
 * again from the used index in guest memory (QEMU's way for backends without in-flight
 * tracking: requests not completed are read again), so I/O goes on. Without reconnect the
 * device completes every request from then on with an error (VIRTIO_BLK_S_IOERR, FUSE's EIO):
 * the guest sees I/O errors, the VMM runs on.
 *
 * <p>Threads: {@link #activate}, {@link #reset} and config writes come from vCPU threads,
 * {@link #processQueue} from the transport's processing thread, reconnects from the device's
 * own thread; {@link #lock} serializes every conversation with the backend.
 */
public final class VhostUserDevice implements VirtioDevice, AutoCloseable {
    private static final int BLK_CONFIG_WRITEBACK = 32;

    /**
     * The device's settings: what it is, the backend's socket, QEMU's chardev reconnect=N (0:
     * none) and the queues' size.
     */
    public record Options(VhostUserKind kind, Path socket, int reconnectSeconds, int queueSize) {
    }

    private final Options options;
    private final GuestMemory ram;
    private final Consumer<String> log;
    private final String name;
    private final long offeredFeatures;
    private final EventFd[] kick;
    private final EventFd[] call;
    private final EventFd wake;
    private final Thread watcher;
    private final Object lock = new Object();
    private final SplitVirtqueue.RequestHandler failRequest;

    // Guarded by lock.
    private VhostUserFrontend frontend;
    private boolean driverRunning;
    private volatile SplitVirtqueue[] queues;
    private long driverFeatures;
    private boolean reconnectFailureLogged;
    // Read lock-free on the processing thread and the watcher.
    private volatile byte[] config;
    private volatile VirtioInterrupt interrupt;
    /** No backend and no reconnect: every request fails. */
    private volatile boolean failed;
    private volatile boolean closed;
    /** Per queue, in failed mode: whether the queue was moved to the used index yet (processing thread only). */
    private final boolean[] resumed;
    /** Per queue: whether the backend runs its ring now (guarded by lock): a reset stops these. */
    private final boolean[] started;
    /** Per queue: 1 while the kernel raises the interrupt for the call eventfd (irqfd), so the watcher leaves it alone. */
    private final AtomicIntegerArray callInKernel;
    /** Used-buffer interrupts the watcher raised for a call eventfd (the relay). */
    private final LongAdder relayedCalls = new LongAdder();

    private VhostUserDevice(Options options, GuestMemory ram, Consumer<String> log, String name, VhostUserFrontend frontend,
                            VhostUserFrontend.Handshake hs) throws SysException {
        this.options = options;
        this.ram = ram;
        this.log = log;
        this.name = name;
        this.frontend = frontend;
        this.failRequest = options.kind()::fail;
        int n = options.kind().queueCount();
        this.offeredFeatures = options.kind().offeredFeatures(hs.features());
        this.config = options.kind().config(hs.config());
        this.kick = new EventFd[n];
        this.call = new EventFd[n];
        this.resumed = new boolean[n];
        this.started = new boolean[n];
        this.callInKernel = new AtomicIntegerArray(n);
        List<EventFd> made = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                kick[i] = EventFd.createNonBlocking();
                made.add(kick[i]);
                call[i] = EventFd.createNonBlocking();
                made.add(call[i]);
            }
            this.wake = EventFd.createNonBlocking();
        } catch (SysException e) {
            made.forEach(EventFd::close);
            throw e;
        }
        this.watcher = Thread.ofPlatform().daemon().name(name + "-vhost-user").unstarted(this::watch);
    }

    /**
     * Connects to the backend and does the handshake (QEMU's realize): a backend that is not
     * there, lacks what the device needs or has fewer queues than it has is refused here.
     *
     * @param ram  guest RAM, which must be shareable (memfd or file mapped share=on)
     * @param name the device's name in messages and its thread's name ("vhost-user-blk0")
     */
    public static VhostUserDevice open(Options options, GuestMemory ram, Consumer<String> log, String name)
            throws VhostUserException {
        if (!ram.shareable()) {
            throw new VhostUserException("Failed initializing vhost-user memory map, consider using -object "
                + "memory-backend-file share=on (or memory-backend-memfd) with -machine memory-backend=ID");
        }
        VhostUserFrontend f = connectAtStart(options, log, name);
        try {
            VhostUserKind kind = options.kind();
            VhostUserFrontend.Handshake hs = f.handshake(kind.configFromBackend() ? kind.configSize() : 0);
            if (!Virtio.has(hs.features(), Virtio.F_VERSION_1)) {
                throw new VhostUserException(f.channel().name() + ": the backend does not offer VIRTIO_F_VERSION_1");
            }
            if (kind.queueCount() > hs.queueNum()) {
                throw new VhostUserException("The maximum number of queues supported by the backend is " + hs.queueNum()
                    + " (" + kind.model() + " has " + kind.queueCount() + ")");
            }
            VhostUserDevice d = new VhostUserDevice(options, ram, log, name, f, hs);
            d.watcher.start();
            return d;
        } catch (VhostUserException | RuntimeException e) {
            f.close();
            throw e;
        } catch (SysException e) {
            f.close();
            throw new VhostUserException(name + ": " + e.getMessage(), e);
        }
    }

    /**
     * The first connection. With reconnect=N the machine waits for the backend, trying every N
     * seconds, as QEMU 7.2's realize does (qemu_chr_fe_wait_connected); without it a missing
     * backend is an error at once.
     */
    private static VhostUserFrontend connectAtStart(Options options, Consumer<String> log, String name)
            throws VhostUserException {
        boolean logged = false;
        while (true) {
            try {
                return VhostUserFrontend.connect(options.socket(), VhostUserFrontend.DEFAULT_REPLY_TIMEOUT_MILLIS);
            } catch (VhostUserException e) {
                if (options.reconnectSeconds() == 0) {
                    throw e;
                }
                if (!logged) {
                    log.accept(name + ": waiting for the backend (reconnect=" + options.reconnectSeconds() + "): " + e.getMessage());
                    logged = true;
                }
            }
            try {
                Thread.sleep(options.reconnectSeconds() * 1000L);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new VhostUserException(name + ": interrupted while waiting for the backend at " + options.socket(), e);
            }
        }
    }

    @Override
    public int deviceType() {
        return options.kind().deviceType();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long deviceFeatures() {
        return offeredFeatures;
    }

    @Override
    public int queueCount() {
        return options.kind().queueCount();
    }

    @Override
    public int queueMaxSize(int queue) {
        return options.queueSize();
    }

    @Override
    public int configSize() {
        return options.kind().configSize();
    }

    @Override
    public long readConfig(int offset, int size) {
        byte[] c = config;
        long v = 0;
        for (int i = 0; i < size && offset + i < c.length; i++) {
            v |= (c[offset + i] & 0xFFL) << (8 * i);
        }
        return v;
    }

    /** A blk driver may change only the write-back flag (with CONFIG_WCE); it goes to the backend (SET_CONFIG). */
    @Override
    public void writeConfig(int offset, int size, long value) {
        if (!(options.kind() instanceof VhostUserKind.Blk) || offset != BLK_CONFIG_WRITEBACK || size != 1
                || !Virtio.has(offeredFeatures, VirtioBlk.F_CONFIG_WCE)) {
            return;
        }
        synchronized (lock) {
            byte[] c = config.clone();
            c[BLK_CONFIG_WRITEBACK] = (byte) value;
            config = c;
            if (frontend != null) {
                try {
                    frontend.setConfig(BLK_CONFIG_WRITEBACK, new byte[] {(byte) value});
                } catch (VhostUserException e) {
                    backendLost(e.getMessage());
                }
            }
        }
    }

    @Override
    public void activate(SplitVirtqueue[] queues, long features, VirtioInterrupt interrupt) {
        synchronized (lock) {
            this.queues = queues;
            this.driverFeatures = features;
            this.interrupt = interrupt;
            this.driverRunning = true;
            Arrays.fill(resumed, false);
            if (frontend != null) {
                try {
                    startBackend(false);
                } catch (VhostUserException e) {
                    backendLost(e.getMessage());
                }
            } else if (failed) {
                failQueues();
            }
        }
    }

    /**
     * Hands the rings to the backend. A fresh start begins at the queue's first entry; after a
     * reconnect, at the used index the guest sees (the backend that died took its last avail index along).
     */
    private void startBackend(boolean afterReconnect) throws VhostUserException {
        List<VhostUserMessage.MemoryRegion> regions = new ArrayList<>();
        List<GuestMemory.SharedRegion> shared = ram.sharedRegions();
        int[] fds = new int[shared.size()];
        for (int i = 0; i < shared.size(); i++) {
            GuestMemory.SharedRegion r = shared.get(i);
            regions.add(new VhostUserMessage.MemoryRegion(r.guestAddress(), r.size(), r.userAddress(), r.fdOffset()));
            fds[i] = r.fd().fd();
        }
        List<VhostUserFrontend.Ring> rings = new ArrayList<>();
        for (SplitVirtqueue q : queues) {
            if (!q.active()) {
                continue;
            }
            int i = q.index();
            int base = afterReconnect ? ram.readU16(q.deviceArea() + 2) & 0xFFFF : q.lastAvailIndex();
            rings.add(new VhostUserFrontend.Ring(i, q.size(), hostAddress(q.descTable(), 16L * q.size()),
                hostAddress(q.deviceArea(), 6 + 8L * q.size()), hostAddress(q.driverArea(), 6 + 2L * q.size()), base,
                kick[i].fd(), call[i].fd()));
        }
        frontend.start(driverFeatures, regions, fds, rings);
        for (VhostUserFrontend.Ring r : rings) {
            started[r.index()] = true;
        }
    }

    /** The frontend virtual address of guest-physical {@code gpa} (the core checked the ring lies in RAM). */
    private long hostAddress(long gpa, long length) {
        return ram.segment().address() + ram.offsetOf(gpa, length);
    }

    /** On kvm the guest's notify write signals the kick eventfd in the kernel: the backend is kicked without jvisor. */
    @Override
    public int queueKickDescriptor(int queue) {
        return queue >= 0 && queue < kick.length ? kick[queue].fd() : -1;
    }

    /** The backend's call eventfd of queue {@code queue}, which the transport binds to the queue's MSI-X vector on kvm. */
    @Override
    public int queueCallDescriptor(int queue) {
        return queue >= 0 && queue < call.length ? call[queue].fd() : -1;
    }

    /**
     * While bound in the kernel the watcher stops reading the call eventfd; when unbound it reads
     * it again, and whatever the backend signalled meanwhile becomes an interrupt through the
     * transport (the pending bit of a masked vector).
     */
    @Override
    public void queueCallInKernel(int queue, boolean inKernel) {
        if (queue >= 0 && queue < call.length && callInKernel.getAndSet(queue, inKernel ? 1 : 0) != (inKernel ? 1 : 0)) {
            wakeWatcher();
        }
    }

    /** Used-buffer interrupts jvisor raised for the backend (the relay); those the kernel raised (irqfd) are not counted. */
    public long relayedCalls() {
        return relayedCalls.sum();
    }

    /** The driver notified queue {@code queue} (tcg, or kvm with ioeventfd=off): kick the backend, or fail the requests when there is none. */
    @Override
    public void processQueue(int queue) throws VirtqueueException {
        if (failed) {
            failRequests(queue);
            return;
        }
        try {
            kick[queue].signal(1);
        } catch (SysException e) {
            throw new IllegalStateException(name + ": kick of queue " + queue + ": " + e.getMessage(), e);
        }
    }

    /** Completes every available request of {@code queue} with an error ({@link VhostUserKind#fail}). */
    private void failRequests(int queue) throws VirtqueueException {
        SplitVirtqueue[] qs = queues;
        VirtioInterrupt irq = interrupt;
        if (qs == null || irq == null || !qs[queue].active()) {
            return;
        }
        if (!resumed[queue]) {
            qs[queue].resumeFromUsedRing();
            resumed[queue] = true;
        }
        if (qs[queue].drain(failRequest)) {
            irq.usedBuffer(queue);
        }
    }

    /** The driver reset the device: the backend stops each ring it runs (GET_VRING_BASE), as QEMU's vhost_dev_stop. */
    @Override
    public void reset() {
        synchronized (lock) {
            for (int i = 0; i < started.length; i++) {
                if (started[i] && frontend != null) {
                    try {
                        frontend.stopRing(i);
                    } catch (VhostUserException e) {
                        backendLost(e.getMessage());
                    }
                }
                started[i] = false;
            }
            driverRunning = false;
            queues = null;
            interrupt = null;
        }
    }

    /**
     * The backend is gone or broke the protocol: drop the connection; reconnect later, or fail
     * every request from now on. Called with {@link #lock} held.
     */
    private void backendLost(String why) {
        if (frontend == null) {
            return;
        }
        frontend.close();
        frontend = null;
        Arrays.fill(started, false);
        if (options.reconnectSeconds() > 0) {
            log.accept(name + ": " + why + "; reconnecting every " + options.reconnectSeconds() + " s");
            reconnectFailureLogged = false;
        } else {
            log.accept(name + ": " + why + "; the device fails every request from now on (no reconnect=)");
            failed = true;
            if (driverRunning) {
                failQueues();
            }
        }
        wakeWatcher();
    }

    /** Has the processing thread fail what the guest queued (processQueue in failed mode). */
    private void failQueues() {
        VirtioInterrupt irq = interrupt;
        if (irq != null) {
            for (int i = 0; i < kick.length; i++) {
                irq.backendReady(i);
            }
        }
    }

    private void wakeWatcher() {
        try {
            wake.signal(1);
        } catch (SysException e) {
            // closing: the watcher is ending anyway
        }
    }

    /**
     * The device's thread: call eventfds become used-buffer interrupts, a hang-up on the socket
     * is a lost backend, and while disconnected it tries to connect every reconnect=N seconds.
     */
    private void watch() {
        int n = call.length;
        int wakeAt = 2 * n;
        int socketAt = 2 * n + 1;
        try (Poll poll = new Poll(2 * n + 2)) {
            poll.watch(wakeAt, wake.fd(), Poll.POLLIN);
            long nextAttempt = 0;
            while (!closed) {
                int socketFd;
                synchronized (lock) {
                    socketFd = frontend != null ? frontend.channel().socket().fd() : -1;
                }
                // POLLRDHUP only: replies are read by whoever asked; the watcher looks for the peer's end.
                poll.watch(socketAt, socketFd, POLLRDHUP);
                // Failed: no backend reads the kicks (on kvm they arrive as ioeventfd signals), so the device does.
                for (int i = 0; i < n; i++) {
                    poll.watch(n + i, failed ? kick[i].fd() : -1, Poll.POLLIN);
                    poll.watch(i, callInKernel.get(i) != 0 ? -1 : call[i].fd(), Poll.POLLIN);
                }
                int timeout = -1;
                if (socketFd < 0 && !failed) {
                    timeout = (int) Math.max(0, (nextAttempt - System.nanoTime()) / 1_000_000);
                }
                poll.await(timeout);
                VirtioInterrupt irq = interrupt;
                for (int i = 0; i < n; i++) {
                    if ((poll.revents(i) & Poll.POLLIN) != 0 && call[i].drain() != 0 && irq != null) {
                        relayedCalls.increment();
                        irq.usedBuffer(i);
                    }
                    if ((poll.revents(n + i) & Poll.POLLIN) != 0 && kick[i].drain() != 0 && irq != null) {
                        irq.backendReady(i);
                    }
                }
                if ((poll.revents(wakeAt) & Poll.POLLIN) != 0) {
                    wake.drain();
                }
                if (socketFd >= 0 && (poll.revents(socketAt) & (POLLRDHUP | Poll.POLLHUP | Poll.POLLERR)) != 0) {
                    synchronized (lock) {
                        if (frontend != null && frontend.channel().socket().fd() == socketFd) {
                            backendLost("the vhost-user backend closed the connection");
                        }
                    }
                    nextAttempt = System.nanoTime() + options.reconnectSeconds() * 1_000_000_000L;
                } else if (socketFd < 0 && !failed && System.nanoTime() - nextAttempt >= 0 && !closed) {
                    reconnect();
                    nextAttempt = System.nanoTime() + options.reconnectSeconds() * 1_000_000_000L;
                }
            }
        } catch (SysException | RuntimeException e) {
            if (!closed) {
                log.accept(name + ": the vhost-user thread stopped: " + e);
            }
        }
    }

    private static final short POLLRDHUP = 0x2000;

    /** One attempt to reach the backend again: handshake, and the rings if the driver runs. */
    private void reconnect() {
        synchronized (lock) {
            if (closed || frontend != null) {
                return;
            }
            VhostUserFrontend f;
            try {
                f = VhostUserFrontend.connect(options.socket(), VhostUserFrontend.DEFAULT_REPLY_TIMEOUT_MILLIS);
            } catch (VhostUserException e) {
                if (!reconnectFailureLogged) {
                    log.accept(name + ": waiting for the backend: " + e.getMessage());
                    reconnectFailureLogged = true;
                }
                return;
            }
            try {
                VhostUserKind kind = options.kind();
                VhostUserFrontend.Handshake hs = f.handshake(kind.configFromBackend() ? kind.configSize() : 0);
                if ((offeredFeatures & ~hs.features()) != 0 || hs.queueNum() < kick.length) {
                    throw new VhostUserException(String.format("the backend that came back offers features %#x and %d queues; "
                        + "the guest was given %#x and %d", hs.features(), hs.queueNum(), offeredFeatures, kick.length));
                }
                frontend = f;
                if (driverRunning) {
                    startBackend(true);
                }
                log.accept(name + ": reconnected to the vhost-user backend at " + options.socket());
                // Requests the guest queued meanwhile: their kicks wait in the eventfds, which the new backend reads.
            } catch (VhostUserException e) {
                log.accept(name + ": reconnect failed: " + e.getMessage());
                frontend = null;
                f.close();
            }
        }
    }

    @Override
    public DeviceState saveState() {
        throw new IllegalStateException(name + ": a device served by a vhost-user backend cannot be saved "
            + "(its rings' state lives in the backend)");
    }

    @Override
    public void restoreState(DeviceState state) throws DeviceStateException {
        throw new DeviceStateException(name + ": a device served by a vhost-user backend cannot be restored");
    }

    /** Whether the backend is connected now (tests, monitors). */
    public boolean connected() {
        synchronized (lock) {
            return frontend != null;
        }
    }

    /** Whether the device fails every request (the backend went away without reconnect). */
    public boolean failed() {
        return failed;
    }

    @Override
    public void close() {
        closed = true;
        wakeWatcher();
        try {
            watcher.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (lock) {
            if (frontend != null) {
                frontend.close();
                frontend = null;
            }
        }
        for (int i = 0; i < kick.length; i++) {
            kick[i].close();
            call[i].close();
        }
        wake.close();
    }
}
