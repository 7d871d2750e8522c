import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.BlockImages;
import org.jvisor.backend.block.CacheMode;

/**
 * 4 KiB I/O through jvisor's block layer, no guest: one request at a time (queue depth 1, as
 * {@code qemu-img bench -d 1}), sequential or random (seeded) over the first MIB MiB of the image,
 * then a flush. Prints "MODE MB/s IOPS".
 * Usage (bench/qcow2-io.sh runs it): java -cp target/classes bench/Qcow2Io.java IMG FORMAT MODE MIB CACHE
 *   FORMAT raw|qcow2, MODE seqread|seqwrite|randread|randwrite, CACHE none|writeback
 */
public class Qcow2Io {
    public static void main(String[] args) throws Exception {
        Path img = Path.of(args[0]);
        String format = args[1];
        String mode = args[2];
        long bytes = Long.parseLong(args[3]) << 20;
        CacheMode cache = CacheMode.parse(args[4]);
        int bs = 4096;
        long blocks = bytes / bs;
        ByteBuffer buf = ByteBuffer.allocateDirect(2 * bs).alignedSlice(bs).limit(bs).slice();
        for (int i = 0; i < bs; i++) {
            buf.put(i, (byte) (i * 31 + 7));
        }
        boolean write = mode.endsWith("write");
        try (BlockBackend b = BlockImages.open(img, format, !write, cache, false, System.err::println)) {
            Random r = new Random(42);
            long t0 = System.nanoTime();
            for (long i = 0; i < blocks; i++) {
                long block = mode.startsWith("rand") ? (r.nextLong() & Long.MAX_VALUE) % blocks : i;
                buf.clear();
                if (write) {
                    b.write(block * bs, buf);
                } else {
                    b.read(block * bs, buf);
                }
            }
            b.flush();
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("%-10s %8.1f MB/s %9.0f IOPS%n", mode, bytes / 1e6 / s, blocks / s);
        }
    }
}
