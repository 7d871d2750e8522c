package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class VhostUserKindTest {
    @Test
    void blkPassesQemusFeatureSetAndSetsNumQueues() {
        VhostUserKind.Blk blk = new VhostUserKind.Blk(2, false);
        long backend = -1L;
        long offered = blk.offeredFeatures(backend);
        assertEquals(0, offered & Virtio.bit(VirtioBlk.F_CONFIG_WCE), "config-wce=off");
        assertEquals(Virtio.bit(VirtioBlk.F_MQ), offered & Virtio.bit(VirtioBlk.F_MQ));
        assertEquals(0, offered & (1L << 30), "PROTOCOL_FEATURES is the frontend's, not the guest's");
        assertEquals(0, offered & (1L << 34), "no packed rings");
        byte[] cfg = blk.config(new byte[60]);
        assertEquals(2, ByteBuffer.wrap(cfg).order(ByteOrder.LITTLE_ENDIAN).getShort(34));
        assertEquals(0, new VhostUserKind.Blk(1, true).offeredFeatures(backend) & Virtio.bit(VirtioBlk.F_MQ), "MQ only for several queues");
    }

    @Test
    void fsConfigIsTheTagAndTheRequestQueueCount() {
        VhostUserKind.Fs fs = new VhostUserKind.Fs("share", 2);
        assertEquals(3, fs.queueCount(), "hiprio + 2 request queues");
        byte[] cfg = fs.config(new byte[0]);
        assertEquals(40, cfg.length);
        assertEquals("share", new String(cfg, 0, 5, StandardCharsets.UTF_8));
        assertEquals(0, cfg[5]);
        assertEquals(2, ByteBuffer.wrap(cfg).order(ByteOrder.LITTLE_ENDIAN).getInt(36));
        assertThrows(IllegalArgumentException.class, () -> new VhostUserKind.Fs("x".repeat(37), 1));
    }
}
