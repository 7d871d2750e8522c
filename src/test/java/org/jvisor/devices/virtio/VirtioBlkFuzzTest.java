package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.backend.block.BlockBackend;

/**
 * Fuzzes virtio-blk's request parsing (virtio 1.2, 5.2.6): header type and sector, data
 * directions and lengths, discard and write-zeroes segments, on a disk of a few sectors held in
 * memory, writable or read-only. The disk checks that the device never asks for bytes beyond it
 * (a request past the end must get VIRTIO_BLK_S_IOERR, not reach the backend).
 */
class VirtioBlkFuzzTest {
    /** A disk image in a byte array that fails the fuzz run on any access beyond its end. */
    static final class BoundedDisk implements BlockBackend {
        private final byte[] image;
        private final boolean readOnly;

        BoundedDisk(int sectors, boolean readOnly) {
            this.image = new byte[sectors * VirtioBlk.SECTOR];
            this.readOnly = readOnly;
        }

        private void check(long offset, long length, boolean write) {
            assertTrue(offset >= 0 && length >= 0 && offset + length <= image.length,
                String.format("backend asked for [%d, +%d) of a %d-byte disk", offset, length, image.length));
            assertTrue(!write || !readOnly, "write to a read-only disk");
        }

        @Override
        public long size() {
            return image.length;
        }

        @Override
        public boolean readOnly() {
            return readOnly;
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            check(offset, dst.remaining(), false);
            dst.put(image, (int) offset, dst.remaining());
        }

        @Override
        public void write(long offset, ByteBuffer src) {
            check(offset, src.remaining(), true);
            src.get(image, (int) offset, src.remaining());
        }

        @Override
        public void flush() {
        }

        @Override
        public void discard(long offset, long length) {
            check(offset, length, true);
            Arrays.fill(image, (int) offset, (int) (offset + length), (byte) 0);
        }

        @Override
        public void writeZeroes(long offset, long length, boolean mayUnmap) {
            discard(offset, length);
        }

        @Override
        public String describe() {
            return "fuzz disk";
        }

        @Override
        public void close() {
        }
    }

    /** struct virtio_blk_req's header: type, reserved, sector (near the disk's end, or anything); discard segments after it. */
    static byte[] header(FuzzedDataProvider data) {
        int[] types = {VirtioBlk.T_IN, VirtioBlk.T_OUT, VirtioBlk.T_FLUSH, VirtioBlk.T_GET_ID, VirtioBlk.T_DISCARD,
            VirtioBlk.T_WRITE_ZEROES};
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(16 + 16 * data.consumeInt(0, 2)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(data.consumeInt(0, 7) == 0 ? data.consumeInt() : types[data.consumeInt(0, types.length - 1)]);
        b.putInt(0);
        b.putLong(data.consumeBoolean() ? data.consumeLong(0, 70) : data.consumeLong());
        while (b.hasRemaining()) {
            // discard / write-zeroes segment: sector, num_sectors, flags
            b.putLong(data.consumeLong(0, 70)).putInt(data.consumeInt(0, 70)).putInt(data.consumeInt(0, 1));
        }
        return b.array();
    }

    @FuzzTest(maxDuration = "60s")
    void requests(FuzzedDataProvider data) {
        BoundedDisk disk = new BoundedDisk(data.consumeInt(0, 64), data.consumeBoolean());
        try (RingFuzzer f = new RingFuzzer(new VirtioBlk(disk, "fuzz", 64, msg -> { })).withHeader(VirtioBlkFuzzTest::header)
                 .withLayouts(new int[] {16, 512, -1}, new int[] {16, -512, -1}, new int[] {16, -1},
                     new int[] {16, -20, -1}, new int[] {32, -1}, new int[] {48, -1}, new int[] {16, 512, 512, -1})) {
            f.session(data, d -> { });
        }
    }
}
