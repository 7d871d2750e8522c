package org.jvisor.devices.virtio;

import org.jvisor.config.MacAddress;
import org.jvisor.backend.net.NetBackend;
import org.jvisor.backend.net.Offloads;

/**
 * The device model's own cost per virtio-net frame: 1514-byte frames transmitted, and received
 * into mergeable buffers, through the virtio-mmio notify path, inline, with a backend that only
 * copies. Run (junit-jupiter-api, opentest4j, junit-platform-commons and apiguardian jars on the
 * class path: the test driver asserts): {@code java -cp target/classes:target/test-classes:JARS
 * --enable-native-access=ALL-UNNAMED org.jvisor.devices.virtio.VirtioNetBench [frames]}.
 */
public final class VirtioNetBench {
    static final int SIZE = 256;
    static final int FRAME = VirtioNet.HDR_SIZE + 1514;
    static final long BUFS = 0x40000;

    /** Hands out one prepared frame per {@link #inject}, discards what is sent. */
    static final class CopyBackend implements NetBackend {
        final byte[] frame = new byte[FRAME];
        long sentBytes;
        int waiting;
        boolean armed;
        Runnable listener;

        void inject() {
            waiting++;
            if (armed) {
                armed = false;
                listener.run();
            }
        }

        @Override
        public String describe() {
            return "bench";
        }

        @Override
        public boolean carriesOffloads() {
            return true;
        }

        @Override
        public int vnetHeaderSize() {
            return VirtioNet.HDR_SIZE;
        }

        @Override
        public void setOffloads(Offloads offloads) {
        }

        @Override
        public void send(byte[] buf, int length) {
            sentBytes += length;
        }

        @Override
        public int receive(byte[] buf) {
            if (waiting == 0) {
                return 0;
            }
            waiting--;
            System.arraycopy(frame, 0, buf, 0, FRAME);
            return FRAME;
        }

        @Override
        public void setReceiveListener(Runnable l) {
            listener = l;
        }

        @Override
        public void armReceive() {
            armed = true;
        }

        @Override
        public void disarmReceive() {
            armed = false;
        }

        @Override
        public void close() {
        }
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 300_000;
        CopyBackend backend = new CopyBackend();
        try (Driver d = new Driver(new VirtioNet(backend, MacAddress.QEMU_DEFAULT, SIZE, m -> { }), SIZE)) {
            d.negotiate(-1L);
            long[] desc = new long[2];
            for (int q = 0; q < 2; q++) {
                desc[q] = 0x10000 + 0x4000L * q;
                d.w(VirtioMmioTransport.QUEUE_SEL, q);
                d.w(VirtioMmioTransport.QUEUE_NUM, SIZE);
                d.w(VirtioMmioTransport.QUEUE_DESC_LOW, (int) desc[q]);
                d.w(VirtioMmioTransport.QUEUE_DRIVER_LOW, (int) (desc[q] + 0x1000));
                d.w(VirtioMmioTransport.QUEUE_DEVICE_LOW, (int) (desc[q] + 0x2000));
                d.w(VirtioMmioTransport.QUEUE_READY, 1);
            }
            d.addStatus(Virtio.STATUS_DRIVER_OK);
            int[] avail = new int[2];
            var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            for (int round = 0; round < 2; round++) {
                long a0 = threads.getCurrentThreadAllocatedBytes();
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    int slot = i % SIZE;
                    d.desc(desc[1], slot, BUFS + 0x1000L * slot, FRAME, 0, 0);
                    offer(d, desc[1] + 0x1000, avail, 1, slot);
                    d.kick(1);
                    if (d.irq.level) {
                        d.ackInterrupt();
                    }
                }
                long t1 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    int slot = i % SIZE;
                    d.desc(desc[0], slot, 0x140000L + 0x800L * slot, 2048, SplitVirtqueue.DESC_F_WRITE, 0);
                    offer(d, desc[0] + 0x1000, avail, 0, slot);
                    if (i == 0 && round == 0) {
                        d.kick(0);      // the first buffers: the device looks at the backend and arms it
                    }
                    backend.inject();
                    if (d.irq.level) {
                        d.ackInterrupt();
                    }
                }
                long t2 = System.nanoTime();
                long a1 = threads.getCurrentThreadAllocatedBytes();
                System.out.printf("%s: %d x 1514-byte frames: tx %.2f us/frame, rx %.2f us/frame (ring + device + copy),"
                        + " %.3f bytes allocated per frame%n",
                    round == 0 ? "warm-up" : "measured", n, (t1 - t0) / 1e3 / n, (t2 - t1) / 1e3 / n, (a1 - a0) / (2.0 * n));
            }
            VirtioNet net = (VirtioNet) d.mmio.core().device();
            if (net.rxFrames() != 2L * n || backend.sentBytes != 2L * n * FRAME) {
                throw new AssertionError("frames lost: rx " + net.rxFrames() + ", tx bytes " + backend.sentBytes + " " + d.log);
            }
        }
    }

    private static void offer(Driver d, long availRing, int[] avail, int q, int head) {
        d.ram.writeU16(availRing + 4 + 2L * (avail[q] % SIZE), (short) head);
        avail[q]++;
        d.ram.writeU16(availRing + 2, (short) avail[q]);
    }
}
