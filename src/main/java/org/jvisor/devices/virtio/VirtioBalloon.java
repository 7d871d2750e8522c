package org.jvisor.devices.virtio;

import java.util.Arrays;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.util.DelayedAction;

/**
 * The traditional memory balloon (virtio 1.2, 5.5). The host sets a target, {@code num_pages}
 * 4 KiB pages the guest should give up; the driver allocates that many pages and lists their frame
 * numbers on the inflate queue, and the device gives each one back to the host
 * ({@link PageDiscard}: the page then takes no host memory and reads as zero); pages the driver
 * takes back come on the deflate queue and need nothing (the guest may use them at once:
 * VIRTIO_BALLOON_F_MUST_TELL_HOST is not offered). The driver reports what it holds in
 * {@code actual}. The statistics queue carries the driver's memory figures in one buffer, which the
 * device keeps until it wants them again (QEMU's way: giving it back asks for new ones).
 */
public final class VirtioBalloon implements VirtioDevice, AutoCloseable {
    public static final int F_MUST_TELL_HOST = 0;
    public static final int F_STATS_VQ = 1;
    public static final int F_DEFLATE_ON_OOM = 2;

    static final int INFLATE = 0;
    static final int DEFLATE = 1;
    static final int STATS = 2;
    public static final int QUEUE_SIZE = 128;
    /** The balloon's page: 4 KiB whatever the guest's page size (5.5.6). */
    public static final int PAGE_SHIFT = 12;
    /** num_pages and actual, le32 each (free_page_hint_cmd_id and poison_val need features not offered). */
    static final int CONFIG_SIZE = 8;

    /** The virtio-balloon statistics tags (5.5.6.3), indexed by tag; QEMU's names in guest-stats. */
    static final String[] STAT_NAMES = {"stat-swap-in", "stat-swap-out", "stat-major-faults", "stat-minor-faults",
        "stat-free-memory", "stat-total-memory", "stat-available-memory", "stat-disk-caches", "stat-htlb-pgalloc",
        "stat-htlb-pgfail"};

    /** Gives guest RAM back to the host; what was there reads as zero afterwards. */
    @FunctionalInterface
    public interface PageDiscard {
        /** {@code [gpa, gpa + length)}, page-aligned; false when it is not all guest RAM (nothing done). */
        boolean discard(long gpa, long length);
    }

    private final long ramBytes;
    private final boolean deflateOnOom;
    private final PageDiscard discard;
    private final LongConsumer actualChanged;
    private final Consumer<String> log;
    private final byte[] pfnBuf = new byte[4096];
    /** Room for 64 figures of 10 bytes: the driver sends one per tag it knows (ten in Linux 6.1). */
    private final byte[] statsBuf = new byte[640];
    private final long[] stats = new long[STAT_NAMES.length];
    private final boolean[] statSeen = new boolean[STAT_NAMES.length];

    private volatile int numPages;
    private volatile int actual;
    private volatile long statsUpdatedMillis;
    /** Head of the statistics buffer held, or -1; touched on the statistics queue's thread only. */
    private int statsHead = -1;
    private volatile boolean statsWanted;
    private int pollingInterval;
    /** The statistics timer, closed before the machine unmaps guest RAM; null while it does not run. */
    private DelayedAction poller;
    private int badFrames;
    private volatile SplitVirtqueue[] queues;
    private volatile VirtioInterrupt interrupt;
    private final SplitVirtqueue.RequestHandler inflate = this::inflate;
    private final SplitVirtqueue.RequestHandler deflate = c -> 0;

    /**
     * A balloon for {@code ramBytes} of guest RAM; {@code actualChanged} hears the RAM the guest has
     * now ({@link #actualBytes}) when the driver writes a new {@code actual} (QEMU's BALLOON_CHANGE).
     */
    public VirtioBalloon(long ramBytes, boolean deflateOnOom, PageDiscard discard, LongConsumer actualChanged,
            Consumer<String> log) {
        this.ramBytes = ramBytes;
        this.deflateOnOom = deflateOnOom;
        this.discard = discard;
        this.actualChanged = actualChanged;
        this.log = log;
    }

    @Override
    public int deviceType() {
        return Virtio.ID_BALLOON;
    }

    @Override
    public String name() {
        return "virtio-balloon";
    }

    @Override
    public long deviceFeatures() {
        return Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_RING_INDIRECT_DESC) | Virtio.bit(Virtio.F_RING_EVENT_IDX)
            | Virtio.bit(F_STATS_VQ) | (deflateOnOom ? Virtio.bit(F_DEFLATE_ON_OOM) : 0);
    }

    @Override
    public int queueCount() {
        return 3;
    }

    @Override
    public int queueMaxSize(int queue) {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        long both = (numPages & 0xFFFF_FFFFL) | (actual & 0xFFFF_FFFFL) << 32;
        if (offset < 0 || size <= 0 || offset + size > CONFIG_SIZE) {
            return 0;
        }
        long v = both >>> (8 * offset);
        return size == 8 ? v : v & ((1L << (8 * size)) - 1);
    }

    /** The driver writes {@code actual} (bytes 4-7); num_pages is the host's and stays. */
    @Override
    public void writeConfig(int offset, int size, long value) {
        if (offset + size <= 4 || offset < 0 || offset + size > CONFIG_SIZE) {
            return;
        }
        long both = (numPages & 0xFFFF_FFFFL) | (actual & 0xFFFF_FFFFL) << 32;
        long mask = (size == 8 ? -1L : (1L << (8 * size)) - 1) << (8 * offset);
        both = both & ~mask | (value << (8 * offset)) & mask;
        setActual((int) (both >>> 32));
    }

    private void setActual(int pages) {
        if (pages != actual) {
            actual = pages;
            actualChanged.accept(actualBytes());
        }
    }

    /**
     * The host's target: the guest should keep {@code bytes} of its RAM (QMP's balloon), so the
     * balloon should hold the rest, in whole 4 KiB pages; more than the RAM means all of it.
     */
    public void setTarget(long bytes) {
        long keep = Math.min(Math.max(bytes, 0), ramBytes);
        numPages = (int) ((ramBytes - keep) >>> PAGE_SHIFT);
        VirtioInterrupt i = interrupt;
        if (i != null) {
            i.configChanged();
        }
    }

    /** Guest RAM the guest has now: the RAM less what the balloon holds (QMP's query-balloon "actual"). */
    public long actualBytes() {
        return ramBytes - ((long) actual << PAGE_SHIFT);
    }

    /** Pages the host asks the balloon to hold. */
    public int targetPages() {
        return numPages;
    }

    /** The driver's last figures by QEMU's names (absent: not reported), and when they came (ms, 0: never). */
    public record GuestStats(java.util.Map<String, Long> stats, long updatedMillis) {
    }

    public synchronized GuestStats guestStats() {
        java.util.Map<String, Long> m = new java.util.LinkedHashMap<>();
        for (int t = 0; t < STAT_NAMES.length; t++) {
            m.put(STAT_NAMES[t], statSeen[t] ? stats[t] : -1L);
        }
        return new GuestStats(m, statsUpdatedMillis);
    }

    /**
     * Every {@code seconds} the driver is asked for new figures (QEMU's guest-stats-polling-interval;
     * 0 stops asking). One timer thread while it runs.
     */
    public void setStatsPollingInterval(int seconds) {
        if (seconds < 0) {
            throw new IllegalArgumentException("timer value must be positive");
        }
        DelayedAction old;
        synchronized (this) {
            pollingInterval = seconds;
            old = poller;
            poller = seconds == 0 ? null : new DelayedAction("virtio-balloon-stats", this::pollStats);
            if (poller != null) {
                poller.schedule(seconds * 1_000_000_000L);
            }
        }
        if (old != null) {
            old.close();
        }
    }

    /** The statistics timer fired: ask for figures, and arm it again while it is the current one. */
    private void pollStats() {
        requestStats();
        synchronized (this) {
            if (poller != null && pollingInterval > 0) {
                poller.schedule(pollingInterval * 1_000_000_000L);
            }
        }
    }

    public synchronized int statsPollingInterval() {
        return pollingInterval;
    }

    /** Stops the statistics timer and waits for it (before the machine unmaps guest RAM). */
    @Override
    public void close() {
        setStatsPollingInterval(0);
    }

    /** Asks the driver for new figures: the held statistics buffer goes back (QEMU's polling timer). */
    public void requestStats() {
        statsWanted = true;
        VirtioInterrupt i = interrupt;
        if (i != null) {
            i.backendReady(STATS);
        }
    }

    @Override
    public void activate(SplitVirtqueue[] queues, long features, VirtioInterrupt interrupt) {
        this.queues = queues;
        this.interrupt = interrupt;
    }

    @Override
    public void reset() {
        queues = null;
        interrupt = null;
        statsHead = -1;
        setActual(0);   // a reset driver holds nothing: its pages are the guest's again
    }

    @Override
    public void processQueue(int index) throws VirtqueueException {
        SplitVirtqueue[] qs = queues;
        if (qs == null) {
            return;
        }
        SplitVirtqueue q = qs[index];
        switch (index) {
            case INFLATE -> {
                if (q.drain(inflate)) {
                    interrupt.usedBuffer(INFLATE);
                }
            }
            case DEFLATE -> {
                if (q.drain(deflate)) {
                    interrupt.usedBuffer(DEFLATE);
                }
            }
            case STATS -> stats(q);
            default -> { }
        }
    }

    /**
     * Gives the frames one inflate buffer lists back to the host, each run of neighbours (upwards
     * or downwards) in one call: Linux's 256-frame batches come mostly in descending runs.
     */
    private int inflate(DescriptorChain c) {
        long bytes = c.readableBytes() & ~3L;
        long runStart = -1;
        long runPages = 0;
        for (long at = 0; at < bytes; ) {
            int n = c.read(at, pfnBuf, 0, (int) Math.min(pfnBuf.length, bytes - at));
            if (n <= 0) {
                break;
            }
            for (int k = 0; k + 4 <= n; k += 4) {
                long pfn = (pfnBuf[k] & 0xFFL) | (pfnBuf[k + 1] & 0xFFL) << 8 | (pfnBuf[k + 2] & 0xFFL) << 16
                    | (pfnBuf[k + 3] & 0xFFL) << 24;
                if (runStart >= 0 && pfn == runStart + runPages) {
                    runPages++;
                    continue;
                }
                if (runStart > 0 && pfn == runStart - 1) {    // Linux lists a batch's frames downwards
                    runStart = pfn;
                    runPages++;
                    continue;
                }
                giveBack(runStart, runPages);
                runStart = pfn;
                runPages = 1;
            }
            at += n;
        }
        giveBack(runStart, runPages);
        return 0;
    }

    private void giveBack(long pfn, long pages) {
        if (pages == 0) {
            return;
        }
        if (!discard.discard(pfn << PAGE_SHIFT, pages << PAGE_SHIFT)) {
            // QEMU ignores a frame outside RAM too (a guest error, not the host's)
            if (badFrames++ == 0) {
                log.accept(String.format("virtio-balloon: the guest inflated frames %#x-%#x, not guest RAM: ignored",
                    pfn, pfn + pages - 1));
            }
        }
    }

    /**
     * The driver's statistics buffer: read its figures (tag le16, value le64 each) and keep the
     * buffer; give it back when new figures are wanted.
     */
    private void stats(SplitVirtqueue q) throws VirtqueueException {
        if (statsWanted && statsHead >= 0) {
            statsWanted = false;
            q.push(statsHead, 0);
            statsHead = -1;
            if (q.needsNotification()) {
                interrupt.usedBuffer(STATS);
            }
        }
        DescriptorChain c;
        while ((c = q.pop()) != null) {
            if (statsHead >= 0) {
                q.push(statsHead, 0);   // a driver that sent another: the older one goes back unread
            }
            statsHead = c.head();
            byte[] b = statsBuf;
            int n = c.read(0, b, 0, (int) Math.min(c.readableBytes(), b.length));
            synchronized (this) {
                for (int k = 0; k + 10 <= n; k += 10) {
                    int tag = (b[k] & 0xFF) | (b[k + 1] & 0xFF) << 8;
                    long v = 0;
                    for (int i = 7; i >= 0; i--) {
                        v = v << 8 | (b[k + 2 + i] & 0xFF);
                    }
                    if (tag < stats.length) {
                        stats[tag] = v;
                        statSeen[tag] = true;
                    }
                }
                statsUpdatedMillis = System.currentTimeMillis();
            }
        }
    }

    @Override
    public DeviceState saveState() {
        return new VirtioBalloonState(numPages, actual, statsHead);
    }

    @Override
    public void restoreState(DeviceState state) throws DeviceStateException {
        if (!(state instanceof VirtioBalloonState s)) {
            throw DeviceStateException.wrongKind(name(), VirtioBalloonState.class, state);
        }
        if (s.numPages() < 0 || s.numPages() > ramBytes >>> PAGE_SHIFT) {
            throw new DeviceStateException(name() + ": a target of " + Integer.toUnsignedString(s.numPages())
                + " pages does not fit this machine's " + (ramBytes >>> 20) + " MiB");
        }
        if (s.statsHead() < -1 || s.statsHead() >= QUEUE_SIZE) {
            throw new DeviceStateException(name() + ": statsHead " + s.statsHead() + " is not a descriptor of a "
                + QUEUE_SIZE + "-entry queue");
        }
        numPages = s.numPages();
        actual = s.actual();
        statsHead = s.statsHead();
        Arrays.fill(statSeen, false);
    }
}
