package org.jvisor.export;

import java.util.function.Consumer;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.devices.virtio.BlockStats;
import org.jvisor.devices.virtio.SplitVirtqueue;
import org.jvisor.devices.virtio.Virtio;
import org.jvisor.devices.virtio.VirtioBlk;
import org.jvisor.devices.virtio.VirtioBlkRequests;

/**
 * A disk served as vhost-user-blk: the features and config space of jvisor's virtio-blk (plus
 * VIRTIO_BLK_F_MQ with {@code numQueues}), each queue executing requests with
 * {@link VirtioBlkRequests}, the logic the VMM's own virtio-blk runs.
 */
public final class VhostUserBlkDevice implements VhostUserBackendDevice {
    /** The queue size seg_max is computed for: QEMU's vhost-user-blk default (queue-size=128). */
    public static final int SEG_MAX_QUEUE_SIZE = 128;
    /** Most queues a frontend may ask for (QEMU's VIRTIO_QUEUE_MAX for blk is larger; this is plenty). */
    public static final int MAX_QUEUES = 64;

    private final BlockBackend disk;
    private final int numQueues;
    private final String serial;
    private final Consumer<String> log;
    private final BlockStats stats = new BlockStats();

    public VhostUserBlkDevice(BlockBackend disk, int numQueues, String serial, Consumer<String> log) {
        if (numQueues < 1 || numQueues > MAX_QUEUES) {
            throw new IllegalArgumentException("num-queues " + numQueues + " (1-" + MAX_QUEUES + ")");
        }
        this.disk = disk;
        this.numQueues = numQueues;
        this.serial = serial;
        this.log = log;
    }

    @Override
    public String name() {
        return "vhost-user-blk(" + disk.describe() + ")";
    }

    @Override
    public long features() {
        long f = VirtioBlkRequests.deviceFeatures(disk);
        return numQueues > 1 ? f | Virtio.bit(VirtioBlk.F_MQ) : f;
    }

    @Override
    public int queueCount() {
        return numQueues;
    }

    @Override
    public byte[] config() {
        return VirtioBlkRequests.config(disk.size() / VirtioBlk.SECTOR, SEG_MAX_QUEUE_SIZE, numQueues);
    }

    @Override
    public SplitVirtqueue.RequestHandler handler(int index) {
        return new VirtioBlkRequests(disk, name(), serial, stats, log);
    }

    public BlockBackend disk() {
        return disk;
    }
}
