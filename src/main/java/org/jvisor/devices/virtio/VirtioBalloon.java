package org.jvisor.devices.virtio;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
    /** The configuration space (5.5.4), le32 fields: the host's target, in pages. */
    static final int CONFIG_NUM_PAGES = 0;
    /** The pages the driver holds, which it writes. */
    static final int CONFIG_ACTUAL = 4;
    /**
     * free_page_hint_cmd_id (then poison_val at 12) exists only with VIRTIO_BALLOON_F_FREE_PAGE_HINT
     * (and _F_PAGE_POISON), not offered: the space ends before it, as QEMU's does then.
     */
    static final int CONFIG_FREE_PAGE_HINT_CMD_ID = 8;
    static final int CONFIG_SIZE = CONFIG_FREE_PAGE_HINT_CMD_ID;

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
    /** num_pages and actual; guarded by itself (the host sets one, the driver the other, from other threads). */
    private final ConfigSpace config = new ConfigSpace(CONFIG_SIZE);
    /** A piece of an inflate buffer: frame numbers, le32 each. */
    private final ByteBuffer pfns = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
    /**
     * The statistics buffer: figures of a le16 tag and a le64 value, room for 64 (the driver sends
     * one per tag it knows, ten in Linux 6.1).
     */
    private final ByteBuffer statsBuf = ByteBuffer.allocate(640).order(ByteOrder.LITTLE_ENDIAN);
    private final long[] stats = new long[STAT_NAMES.length];
    private final boolean[] statSeen = new boolean[STAT_NAMES.length];

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
        synchronized (config) {
            return config.read(offset, size);
        }
    }

    /** The driver writes {@code actual}; num_pages is the host's and stays. */
    @Override
    public void writeConfig(int offset, int size, long value) {
        updateConfig(c -> {
            int target = targetPages();
            c.write(offset, size, value);
            c.put32(CONFIG_NUM_PAGES, target);
        });
    }

    /** Changes the space; a new {@code actual} goes to the machine (outside the lock: it publishes an event). */
    private void updateConfig(Consumer<ConfigSpace> change) {
        int before;
        int after;
        synchronized (config) {
            before = actualPages();
            change.accept(config);
            after = actualPages();
        }
        if (after != before) {
            actualChanged.accept(bytesLeft(after));
        }
    }

    /**
     * The host's target: the guest should keep {@code bytes} of its RAM (QMP's balloon), so the
     * balloon should hold the rest, in whole 4 KiB pages; more than the RAM means all of it.
     */
    public void setTarget(long bytes) {
        long keep = Math.min(Math.max(bytes, 0), ramBytes);
        synchronized (config) {
            config.put32(CONFIG_NUM_PAGES, (int) ((ramBytes - keep) >>> PAGE_SHIFT));
        }
        VirtioInterrupt i = interrupt;
        if (i != null) {
            i.configChanged();
        }
    }

    /** Guest RAM the guest has now: the RAM less what the balloon holds (QMP's query-balloon "actual"). */
    public long actualBytes() {
        return bytesLeft(actualPages());
    }

    /** The guest's RAM while the balloon holds {@code pages}. */
    private long bytesLeft(int pages) {
        return ramBytes - ((long) pages << PAGE_SHIFT);
    }

    private int actualPages() {
        synchronized (config) {
            return (int) config.read(CONFIG_ACTUAL, 4);
        }
    }

    /** Pages the host asks the balloon to hold. */
    public int targetPages() {
        synchronized (config) {
            return (int) config.read(CONFIG_NUM_PAGES, 4);
        }
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
        updateConfig(c -> c.put32(CONFIG_ACTUAL, 0));   // a reset driver holds nothing: its pages are the guest's again
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
            int n = c.read(at, pfns.array(), 0, (int) Math.min(pfns.capacity(), bytes - at));
            if (n <= 0) {
                break;
            }
            for (int k = 0; k + 4 <= n; k += 4) {
                long pfn = Integer.toUnsignedLong(pfns.getInt(k));
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
            ByteBuffer b = statsBuf;
            int n = c.read(0, b.array(), 0, (int) Math.min(c.readableBytes(), b.capacity()));
            synchronized (this) {
                for (int k = 0; k + 10 <= n; k += 10) {
                    int tag = Short.toUnsignedInt(b.getShort(k));
                    if (tag < stats.length) {
                        stats[tag] = b.getLong(k + 2);
                        statSeen[tag] = true;
                    }
                }
                statsUpdatedMillis = System.currentTimeMillis();
            }
        }
    }

    @Override
    public DeviceState saveState() {
        synchronized (config) {
            return new VirtioBalloonState(targetPages(), actualPages(), statsHead);
        }
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
        synchronized (config) {
            config.put32(CONFIG_NUM_PAGES, s.numPages());
            config.put32(CONFIG_ACTUAL, s.actual());
        }
        statsHead = s.statsHead();
        Arrays.fill(statSeen, false);
    }
}
