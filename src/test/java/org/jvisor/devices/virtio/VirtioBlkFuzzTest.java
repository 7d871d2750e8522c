package org.jvisor.devices.virtio;


import java.nio.ByteBuffer;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;


/**
 * Fuzzes virtio-blk's request parsing (virtio 1.2, 5.2.6): header type and sector, data
 * directions and lengths, discard and write-zeroes segments, on a disk of a few sectors held in
 * memory, writable or read-only. The disk checks that the device never asks for bytes beyond it
 * (a request past the end must get VIRTIO_BLK_S_IOERR, not reach the backend).
 */
class VirtioBlkFuzzTest {

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
        org.jvisor.testing.BoundedDisk disk = new org.jvisor.testing.BoundedDisk(data.consumeInt(0, 64) * VirtioBlk.SECTOR, data.consumeBoolean());
        try (RingFuzzer f = new RingFuzzer(new VirtioBlk(disk, "fuzz", 64, msg -> { })).withHeader(VirtioBlkFuzzTest::header)
                 .withLayouts(new int[] {16, 512, -1}, new int[] {16, -512, -1}, new int[] {16, -1},
                     new int[] {16, -20, -1}, new int[] {32, -1}, new int[] {48, -1}, new int[] {16, 512, 512, -1})) {
            f.session(data, d -> { });
        }
    }
}
