package org.jvisor.devices.virtio;

import java.nio.file.Files;
import java.nio.file.Path;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.block.RawFileBackend;

/**
 * The device model's own cost per virtio-blk request: 4 KiB reads (page cache hot) through the
 * virtio-mmio notify path, inline. Run (junit-jupiter-api and opentest4j jars on the class path, the
 * test driver asserts): {@code java -cp target/classes:target/test-classes:JUNIT_JARS
 * --enable-native-access=ALL-UNNAMED org.jvisor.devices.virtio.VirtioBlkBench [requests]}.
 */
public final class VirtioBlkBench {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        Path img = Files.createTempFile("jvisor-bench", ".img");
        try {
            Files.write(img, new byte[64 << 20]);
            try (RawFileBackend b = RawFileBackend.open(img, false, CacheMode.WRITEBACK, m -> { });
                 Driver d = new Driver(new VirtioBlk(b, "bench", 256, m -> { }), 256)) {
                d.start();
                long hdr = Driver.DATA;
                long status = Driver.DATA + 0x100;
                long buf = Driver.DATA + 0x1000;
                for (int round = 0; round < 2; round++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < n; i++) {
                        d.ram.writeU32(hdr, VirtioBlk.T_IN);
                        d.ram.writeU64(hdr + 8, (i * 8L) % ((64 << 20) / 512 - 8));
                        d.desc(0, hdr, 16, SplitVirtqueue.DESC_F_NEXT, 1);
                        d.desc(1, buf, 4096, SplitVirtqueue.DESC_F_NEXT | SplitVirtqueue.DESC_F_WRITE, 2);
                        d.desc(2, status, 1, SplitVirtqueue.DESC_F_WRITE, 0);
                        d.offer(0);
                        d.kick(0);
                        if (d.irq.level) {
                            d.ackInterrupt();
                        }
                    }
                    long t1 = System.nanoTime();
                    System.out.printf("%s: %d x 4 KiB reads, %.2f us/request (ring + device + pread)%n",
                        round == 0 ? "warm-up" : "measured", n, (t1 - t0) / 1e3 / n);
                }
            }
        } finally {
            Files.deleteIfExists(img);
        }
    }
}
