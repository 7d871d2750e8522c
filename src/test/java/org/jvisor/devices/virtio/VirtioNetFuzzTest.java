package org.jvisor.devices.virtio;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.config.MacAddress;

/**
 * Fuzzes virtio-net (virtio 1.2, 5.1.6): transmit chains whose virtio_net_hdr (flags, GSO type,
 * header length, GSO size, csum_start/csum_offset) and frame come from the fuzzer, receive
 * buffers of any shape with and without VIRTIO_NET_F_MRG_RXBUF, and host frames of any length
 * arriving between the guest's moves.
 */
class VirtioNetFuzzTest {
    /**
     * struct virtio_net_hdr (5.1.6): flags (NEEDS_CSUM, DATA_VALID), gso_type (none, TCPv4, UDP,
     * TCPv6, ECN), hdr_len, gso_size, csum_start, csum_offset, num_buffers, then a frame.
     */
    static byte[] header(FuzzedDataProvider data) {
        int[] gso = {0, 1, 3, 4, 0x81};
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(VirtioNet.HDR_SIZE + data.consumeInt(0, 64))
            .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put((byte) data.consumeInt(0, 3));
        b.put((byte) (data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 255) : gso[data.consumeInt(0, gso.length - 1)]));
        b.putShort(data.consumeShort()).putShort(data.consumeShort()).putShort(data.consumeShort())
            .putShort(data.consumeShort()).putShort(data.consumeShort());
        b.put(data.consumeBytes(b.remaining()));
        return b.array();
    }

    @FuzzTest(maxDuration = "60s")
    void requests(FuzzedDataProvider data) {
        FakeNetBackend net = new FakeNetBackend();
        VirtioNet dev = new VirtioNet(net, MacAddress.parse("52:54:00:12:34:56"), 64, msg -> { });
        try (RingFuzzer f = new RingFuzzer(dev).withHeader(VirtioNetFuzzTest::header)
                 .withLayouts(new int[] {VirtioNet.HDR_SIZE + 60}, new int[] {VirtioNet.HDR_SIZE, 1514},
                     new int[] {-1526}, new int[] {-VirtioNet.HDR_SIZE, -1514}, new int[] {-4096})) {
            f.session(data, d -> {
                int len = d.consumeInt(0, 3) == 0 ? d.consumeInt(0, VirtioNet.MAX_FRAME) : d.consumeInt(0, 2048);
                byte[] frame = new byte[len];
                byte[] head = d.consumeBytes(Math.min(len, 64));
                System.arraycopy(head, 0, frame, 0, head.length);
                net.inject(frame);
            });
        }
    }
}
