package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.devices.state.DeviceState;
import org.jvisor.memory.SegmentDma;

/**
 * Fuzzes split virtqueue descriptor chains ({@link SplitVirtqueue#pop}): loops, heads and next
 * indexes beyond the table, buffers at the end of RAM or beyond it, 4 GiB lengths, indirect
 * tables of bad sizes and inside indirect tables, a lying available index. The device behind the
 * queue accepts any chain and fills its writable bytes, so every chain the queue hands out is
 * used: each must lie wholly in RAM and be no longer than the table it came from; anything else
 * must be refused with NEEDS_RESET ({@link RingFuzzer} checks the rest).
 */
class VirtqueueFuzzTest {
    /** Takes any chain; checks its shape and writes a pattern into every writable byte. */
    static final class AnyChainDevice implements VirtioDevice {
        private final byte[] pattern = new byte[4096];
        private SplitVirtqueue queue;
        private long features;

        @Override
        public int deviceType() {
            return Virtio.ID_RNG;
        }

        @Override
        public String name() {
            return "any-chain";
        }

        @Override
        public long deviceFeatures() {
            return Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_RING_INDIRECT_DESC)
                | Virtio.bit(Virtio.F_RING_EVENT_IDX);
        }

        @Override
        public int queueCount() {
            return 1;
        }

        @Override
        public int queueMaxSize(int queue) {
            return 256;
        }

        @Override
        public int configSize() {
            return 0;
        }

        @Override
        public long readConfig(int offset, int size) {
            return 0;
        }

        @Override
        public void writeConfig(int offset, int size, long value) {
        }

        @Override
        public void activate(SplitVirtqueue[] queues, long negotiated, VirtioInterrupt interrupt) {
            queue = queues[0];
            features = negotiated;
        }

        @Override
        public void processQueue(int index) throws VirtqueueException {
            SplitVirtqueue q = queue;
            if (q != null) {
                q.drain(this::serve);
            }
        }

        private int serve(DescriptorChain c) {
            int limit = Virtio.has(features, Virtio.F_RING_INDIRECT_DESC)
                ? Math.max(queue.size(), SplitVirtqueue.MAX_INDIRECT) : queue.size();
            assertTrue(c.readableCount() + c.writableCount() <= limit,
                "chain of " + (c.readableCount() + c.writableCount()) + " descriptors from a table of at most " + limit);
            SegmentDma dma = (SegmentDma) c.dma();
            for (int i = 0; i < c.readableCount(); i++) {
                long len = c.readableLength(i) & 0xFFFF_FFFFL;
                assertTrue(len == 0 || dma.valid(c.readableAddress(i), len), "readable buffer outside RAM");
            }
            long written = 0;
            for (int i = 0; i < c.writableCount(); i++) {
                long len = c.writableLength(i) & 0xFFFF_FFFFL;
                assertTrue(len == 0 || dma.valid(c.writableAddress(i), len), "writable buffer outside RAM");
            }
            // fill the first 64 KiB of writable space (enough to cross descriptors), as a device would
            long want = Math.min(c.writableBytes(), 64 * 1024);
            while (written < want) {
                int n = c.write(written, pattern, 0, (int) Math.min(pattern.length, want - written));
                assertTrue(n > 0);
                written += n;
            }
            byte[] b = new byte[16];
            c.read(0, b, 0, (int) Math.min(16, c.readableBytes()));
            return (int) written;
        }

        @Override
        public void reset() {
            queue = null;
        }

        @Override
        public DeviceState saveState() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void restoreState(DeviceState state) {
            throw new UnsupportedOperationException();
        }
    }

    @FuzzTest(maxDuration = "60s")
    void descriptorChains(FuzzedDataProvider data) {
        try (RingFuzzer f = new RingFuzzer(new AnyChainDevice()).withLayouts(new int[] {16, 512, -1},
                 new int[] {-4096, -4096, -4096}, new int[] {1, 1, 1, 1, 1, 1, 1, 1})) {
            f.session(data, d -> { });
        }
    }
}
