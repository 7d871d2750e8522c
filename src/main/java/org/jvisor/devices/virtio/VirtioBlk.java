package org.jvisor.devices.virtio;

import java.util.function.Consumer;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * virtio-blk (virtio 1.2, 5.2): one request queue; read, write, flush, get-id, discard and
 * write-zeroes on a {@link BlockBackend}, executed by {@link VirtioBlkRequests} (the logic jvisor's
 * vhost-user-blk backend shares). A flush completes only after the backend's flush returned (the
 * data reached the disk).
 */
public final class VirtioBlk implements VirtioDevice {
    public static final int F_SIZE_MAX = 1;
    public static final int F_SEG_MAX = 2;
    public static final int F_GEOMETRY = 4;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_TOPOLOGY = 10;
    public static final int F_CONFIG_WCE = 11;
    public static final int F_MQ = 12;
    public static final int F_DISCARD = 13;
    public static final int F_WRITE_ZEROES = 14;

    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;
    public static final int T_DISCARD = 11;
    public static final int T_WRITE_ZEROES = 13;

    public static final int S_OK = 0;
    public static final int S_IOERR = 1;
    public static final int S_UNSUPP = 2;

    public static final int SECTOR = 512;
    public static final int ID_BYTES = 20;
    public static final int DEFAULT_QUEUE_SIZE = 256;
    public static final int MAX_DISCARD_SECTORS = 0x3F_FFFF;
    public static final int MAX_DISCARD_SEG = 32;
    public static final int MAX_WRITE_ZEROES_SECTORS = 0x3F_FFFF;
    public static final int MAX_WRITE_ZEROES_SEG = 1;
    /** Bytes of struct virtio_blk_config up to write_zeroes_may_unmap and its padding. */
    public static final int CONFIG_SIZE = 60;

    private final BlockBackend backend;
    private final int queueSize;
    private final long capacity;
    private final long features;
    private final ConfigSpace config;
    private final SplitVirtqueue.RequestHandler handler;

    private volatile SplitVirtqueue queue;
    private volatile VirtioInterrupt interrupt;

    public VirtioBlk(BlockBackend backend, String serial) {
        this(backend, serial, DEFAULT_QUEUE_SIZE, msg -> System.err.println("jvisor: " + msg));
    }

    /**
     * @param serial what GET_ID returns (at most 20 bytes are used; the image name is a good default)
     */
    public VirtioBlk(BlockBackend backend, String serial, int queueSize, Consumer<String> log) {
        this(backend, serial, queueSize, log, new BlockStats());
    }

    /** As above, counting what the device does in {@code stats} (QMP query-blockstats). */
    public VirtioBlk(BlockBackend backend, String serial, int queueSize, Consumer<String> log, BlockStats stats) {
        this.backend = backend;
        this.queueSize = queueSize;
        this.capacity = backend.size() / SECTOR;
        this.features = VirtioBlkRequests.deviceFeatures(backend);
        this.config = ConfigSpace.of(VirtioBlkRequests.config(capacity, queueSize, 1));
        this.handler = new VirtioBlkRequests(backend, name(), serial, stats, log);
    }

    public BlockBackend backend() {
        return backend;
    }

    /** Capacity in 512-byte sectors. */
    public long capacity() {
        return capacity;
    }

    @Override
    public int deviceType() {
        return Virtio.ID_BLOCK;
    }

    @Override
    public String name() {
        return "virtio-blk(" + backend.describe() + ")";
    }

    @Override
    public long deviceFeatures() {
        return features;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize(int queue) {
        return queueSize;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        return config.read(offset, size);
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
        // writeback is writable only with VIRTIO_BLK_F_CONFIG_WCE, which is not offered
    }

    @Override
    public void activate(SplitVirtqueue[] queues, long negotiated, VirtioInterrupt interrupt) {
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
        return new VirtioBlkState(capacity, backend.readOnly());
    }

    /** Checks that this disk looks as the driver saw it: same capacity, same read-only flag. */
    @Override
    public void restoreState(DeviceState state) throws DeviceStateException {
        if (!(state instanceof VirtioBlkState s)) {
            throw DeviceStateException.wrongKind(name(), VirtioBlkState.class, state);
        }
        if (s.capacitySectors() != capacity) {
            throw new DeviceStateException(String.format("%s: capacity is %d sectors in the state but the disk has %d",
                name(), s.capacitySectors(), capacity));
        }
        if (s.readOnly() != backend.readOnly()) {
            throw new DeviceStateException(name() + ": the disk is " + (s.readOnly() ? "read-only" : "writable")
                + " in the state but " + (backend.readOnly() ? "read-only" : "writable") + " here");
        }
    }

    @Override
    public void processQueue(int index) throws VirtqueueException {
        SplitVirtqueue q = queue;
        if (q == null || index != 0) {
            return;
        }
        if (q.drain(handler)) {
            interrupt.usedBuffer(0);
        }
    }

}
