package org.jvisor.backend.block.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.block.RawFileBackend;

/**
 * A host power cut in the middle of guest I/O: writes, zero-writes and discards through
 * {@link Qcow2Backend} with flushes now and then, over a file whose unflushed writes are then
 * partly kept and partly dropped ({@link PowerCutFile}). {@code qemu-img check} must find no
 * corruption (leaks are allowed), and everything the guest wrote before its last completed
 * flush, and did not touch after it, must read back.
 */
class Qcow2PowerCutTest {
    static final int SIZE = 4 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        QemuImg.assumeInstalled();
    }

    @ParameterizedTest(name = "seed {0}, cluster_size={1}, compat={2}")
    @CsvSource({"1,65536,1.1", "2,4096,1.1", "3,512,1.1", "4,65536,0.10", "5,4096,0.10", "6,512,1.1", "7,65536,1.1",
        "8,4096,1.1", "9,2097152,1.1", "10,4096,1.1", "11,512,0.10", "12,65536,1.1", "13,512,1.1", "14,4096,1.1",
        "15,65536,0.10", "16,512,1.1", "17,4096,1.1", "18,512,0.10", "19,65536,1.1", "20,4096,1.1", "21,512,1.1",
        "22,4096,0.10", "23,512,1.1", "24,65536,1.1"})
    void aPowerCutLeavesAtWorstLeaks(long seed, int clusterSize, String compat) throws Exception {
        Path img = dir.resolve("p.qcow2");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-o", "compat=" + compat + ",cluster_size=" + clusterSize,
            img.toString(), String.valueOf(SIZE));
        Random r = new Random(seed);
        byte[] model = new byte[SIZE];
        byte[] durable = new byte[SIZE];
        BitSet touchedSinceFlush = new BitSet(SIZE / 512);
        int ops = 50 + r.nextInt(250);
        // the power fails during some flush of the host file: a guest flush is up to five of them
        int cutAt = 1 + r.nextInt(ops / 12 * 5 + 5);
        PowerCutFile file = new PowerCutFile(RawFileBackend.openContainer(img, false, CacheMode.WRITEBACK, m -> { }),
            cutAt, r);
        // odd seeds: caches of two tables, so dirty L2 tables and refcount blocks are evicted mid-run
        int tables = seed % 2 == 1 ? 2 : -1;
        Qcow2Backend q = Qcow2Backend.open(file, false, (n, f) -> fail("no backing"), m -> { }, tables, tables);
        boolean cut = false;
        for (int i = 0; i < ops && !cut; i++) {
          try {
            int sectors = 1 + (r.nextBoolean() ? r.nextInt(8) : r.nextInt(400));
            int off = 512 * r.nextInt(SIZE / 512 - sectors);
            int len = sectors * 512;
            int op = r.nextInt(12);
            if (op < 7) {
                byte[] w = new byte[len];
                r.nextBytes(w);
                q.write(off, ByteBuffer.wrap(w));
                System.arraycopy(w, 0, model, off, len);
            } else if (op < 9) {
                q.writeZeroes(off, len, r.nextBoolean());
                Arrays.fill(model, off, off + len, (byte) 0);
            } else if (op < 10) {
                q.discard(off, len);
                q.read(off, ByteBuffer.wrap(model, off, len));
            } else {
                q.flush();
                System.arraycopy(model, 0, durable, 0, SIZE);
                touchedSinceFlush.clear();
                continue;
            }
            touchedSinceFlush.set(off / 512, off / 512 + sectors);
          } catch (PowerCutFile.PowerCut e) {
            cut = true;
          }
        }
        if (!cut) {
            file.powerCut(r);
        }

        QemuImg.Result check = QemuImg.check(img);
        assertNotEquals(2, check.exit(), "corruption after a power cut:\n" + check.output());
        assertTrue(check.exit() == 0 || check.exit() == 3, "qemu-img check exited " + check.exit() + ":\n" + check.output());
        assertTrue(!check.output().contains("ERROR"), check.output());
        try (BlockBackend b = Qcow2Backend.open(RawFileBackend.openContainer(img, true, CacheMode.WRITEBACK, m -> { }),
                true, (n, f) -> fail("no backing"), m -> { })) {
            byte[] now = new byte[SIZE];
            b.read(0, ByteBuffer.wrap(now));
            for (int s = 0; s < SIZE / 512; s++) {
                if (!touchedSinceFlush.get(s)) {
                    assertEquals(ByteBuffer.wrap(durable, s * 512, 512), ByteBuffer.wrap(now, s * 512, 512),
                        "sector " + s + " was flushed and not written since, but changed");
                }
            }
        }
        Files.deleteIfExists(img);
    }
}
