package org.jvisor.devices.virtio;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * What a {@link VhostUserDevice} is to the guest: its virtio device type, queues, where its config
 * space comes from, the features it lets through from the backend (QEMU's user_feature_bits of
 * that device), and how it fails a request when no backend is left.
 */
public sealed interface VhostUserKind {

    /** Device ID (virtio 1.2, 5). */
    int deviceType();

    /** QEMU's device name without the transport: "vhost-user-blk". */
    String model();

    int queueCount();

    /** Bytes of config space. */
    int configSize();

    /** Whether the config space is the backend's (GET_CONFIG; the backend must offer PROTOCOL_F_CONFIG). */
    boolean configFromBackend();

    /** The config space this device makes itself (when not from the backend), or adjusts in the backend's. */
    byte[] config(byte[] fromBackend);

    /** The features offered to the driver, of those the backend offers. */
    long offeredFeatures(long backendFeatures);

    /** Completes a request with an error (no backend is left): the bytes written. */
    int fail(DescriptorChain c) throws VirtqueueException;

    /** The ring features every vhost-user device lets through (QEMU's user_feature_bits share these). */
    long RING_FEATURES = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_RING_INDIRECT_DESC)
        | Virtio.bit(Virtio.F_RING_EVENT_IDX);

    /**
     * vhost-user-blk (hw/block/vhost-user-blk.c): the config space is the backend's, with
     * num_queues set to the device's; a failed request gets VIRTIO_BLK_S_IOERR.
     */
    record Blk(int numQueues, boolean configWce) implements VhostUserKind {
        private static final int CONFIG_NUM_QUEUES = 34;
        private static final long PASSED_THROUGH = Virtio.bit(VirtioBlk.F_SIZE_MAX) | Virtio.bit(VirtioBlk.F_SEG_MAX)
            | Virtio.bit(VirtioBlk.F_GEOMETRY) | Virtio.bit(VirtioBlk.F_RO) | Virtio.bit(VirtioBlk.F_BLK_SIZE)
            | Virtio.bit(VirtioBlk.F_FLUSH) | Virtio.bit(VirtioBlk.F_TOPOLOGY) | Virtio.bit(VirtioBlk.F_DISCARD)
            | Virtio.bit(VirtioBlk.F_WRITE_ZEROES) | RING_FEATURES;

        @Override
        public int deviceType() {
            return Virtio.ID_BLOCK;
        }

        @Override
        public String model() {
            return "vhost-user-blk";
        }

        @Override
        public int queueCount() {
            return numQueues;
        }

        /** sizeof(struct virtio_blk_config) (virtio 1.2, 5.2.4). */
        @Override
        public int configSize() {
            return 60;
        }

        @Override
        public boolean configFromBackend() {
            return true;
        }

        @Override
        public byte[] config(byte[] fromBackend) {
            byte[] c = fromBackend.clone();
            c[CONFIG_NUM_QUEUES] = (byte) numQueues;
            c[CONFIG_NUM_QUEUES + 1] = (byte) (numQueues >> 8);
            return c;
        }

        @Override
        public long offeredFeatures(long backend) {
            return (backend & PASSED_THROUGH)
                | (configWce ? backend & Virtio.bit(VirtioBlk.F_CONFIG_WCE) : 0)
                | (numQueues > 1 ? backend & Virtio.bit(VirtioBlk.F_MQ) : 0);
        }

        /** The status byte is the last writable byte of a virtio-blk request (5.2.6). */
        @Override
        public int fail(DescriptorChain c) throws VirtqueueException {
            long writable = c.writableBytes();
            if (writable < 1) {
                throw new VirtqueueException("vhost-user-blk: request " + c.head() + " has no status byte");
            }
            c.writeU8(writable - 1, VirtioBlk.S_IOERR);
            return 1;
        }
    }

    /**
     * vhost-user-fs (hw/virtio/vhost-user-fs.c, virtio 1.2, 5.11): a hiprio queue and
     * {@code requestQueues} request queues; the config space (tag, num_request_queues) is the
     * device's own; a failed request gets a FUSE reply with error -EIO.
     */
    record Fs(String tag, int requestQueues) implements VhostUserKind {
        /** virtio_fs_config.tag: 36 bytes, NUL-padded, not NUL-terminated when full. */
        public static final int TAG_BYTES = 36;
        private static final int EIO = 5;
        /** struct fuse_in_header: len u32, opcode u32, unique u64...; fuse_out_header: len u32, error i32, unique u64. */
        private static final int FUSE_OUT_HEADER = 16;

        public Fs {
            if (tag.isEmpty() || tag.getBytes(StandardCharsets.UTF_8).length > TAG_BYTES) {
                throw new IllegalArgumentException("tag '" + tag + "' must be 1-" + TAG_BYTES + " bytes");
            }
        }

        @Override
        public int deviceType() {
            return Virtio.ID_FS;
        }

        @Override
        public String model() {
            return "vhost-user-fs";
        }

        @Override
        public int queueCount() {
            return 1 + requestQueues;
        }

        @Override
        public int configSize() {
            return TAG_BYTES + 4;
        }

        @Override
        public boolean configFromBackend() {
            return false;
        }

        @Override
        public byte[] config(byte[] fromBackend) {
            ByteBuffer b = ByteBuffer.allocate(configSize()).order(ByteOrder.LITTLE_ENDIAN);
            b.put(tag.getBytes(StandardCharsets.UTF_8));
            b.putInt(TAG_BYTES, requestQueues);
            return b.array();
        }

        @Override
        public long offeredFeatures(long backend) {
            return backend & RING_FEATURES;
        }

        @Override
        public int fail(DescriptorChain c) throws VirtqueueException {
            if (c.readableBytes() < 16 || c.writableBytes() < FUSE_OUT_HEADER) {
                return 0;   // no room for a reply: the request is returned empty
            }
            long unique = c.readU64(8);
            byte[] out = ByteBuffer.allocate(FUSE_OUT_HEADER).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(FUSE_OUT_HEADER).putInt(-EIO).putLong(unique).array();
            c.write(0, out, 0, out.length);
            return FUSE_OUT_HEADER;
        }
    }
}
