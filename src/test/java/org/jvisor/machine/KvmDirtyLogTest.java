package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;
import org.jvisor.memory.DirtyLog;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;

/**
 * KVM's dirty-page log as the machine's {@link DirtyLog} shows it: dirtyram.elf writes every page
 * of 0x400000-0x600000 once per pass and then its pass number at 0x300000. Between two looks
 * taken with the vCPU paused, a guest that began and completed a pass wrote all of them (each must be
 * there: KVM re-protected every page at the look before), and a paused guest wrote none. What
 * devices write through the machine's DMA is in the log too (jvisor marks it, as on tcg).
 */
@GuestTest
class KvmDirtyLogTest {
    private static final long PASS = 0x300000;
    private static final long REGION = 0x400000, REGION_END = 0x600000;

    @BeforeEach
    void needKvm() {
        KvmAvailability.assumeKvm();
    }

    private static boolean dirty(long[] set, long gpa) {
        long p = gpa >>> 12;
        return (set[(int) (p >>> 6)] & (1L << p)) != 0;
    }

    private static List<Long> cleanPagesOfTheRegion(long[] set) {
        List<Long> clean = new ArrayList<>();
        for (long a = REGION; a < REGION_END; a += 4096) {
            if (!dirty(set, a)) {
                clean.add(a);
            }
        }
        return clean;
    }

    private static long count(long[] set) {
        long n = 0;
        for (long w : set) {
            n += Long.bitCount(w);
        }
        return n;
    }

    @Test
    void everyPageTheGuestWroteBetweenTwoLooksIsInTheLog() throws Exception {
        MachineConfig config = MachineConfig.builder().accel(MachineConfig.Accel.KVM).memory(64L << 20)
            .machineType(MachineConfig.MachineType.PC).kernel(JvisorProcess.guest("dirtyram.elf"))
            .serial(new MachineConfig.SerialConfig.None()).build();
        List<MachineEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (Machine m = Machine.create(config, System.err, events::add)) {
            assertTrue(m.logsDirtyPages(), "kvm logs dirty pages");
            m.resume();
            awaitPass(m, 1);
            m.pause();
            DirtyLog log = m.ram().dirtyLog();
            log.start();
            try {
                for (int round = 0; round < 20; round++) {
                    long pass = m.ram().readU64(PASS);
                    m.resume();
                    awaitPass(m, pass + 2);   // pass + 1 may have begun before the look; pass + 2 began after it
                    m.pause();
                    long[] written = log.fetchAndClear();
                    assertEquals(List.of(), cleanPagesOfTheRegion(written), "round " + round
                        + ": pages a full pass wrote that the log lacks");
                    assertTrue(dirty(written, PASS), "round " + round + ": the pass counter's page");
                    assertEquals(0, count(log.fetchAndClear()), "round " + round + ": a paused guest wrote nothing");
                }
                // devices' writes are jvisor's, not KVM's: a ring index, a copy, a disk read into a view
                org.jvisor.memory.IdentityDma dma = m.deviceDma();
                dma.writeU16(0x700000, (short) 1);
                dma.write(0x701000, new byte[4097], 0, 4097);
                dma.segment(0x704000, 8).fill((byte) 1);
                dma.written(0x704000, 8);
                long[] written = log.fetchAndClear();
                assertEquals(4, count(written), "the pages devices wrote, and nothing else");
                for (long a : new long[] {0x700000, 0x701000, 0x702000, 0x704000}) {
                    assertTrue(dirty(written, a), String.format("%#x", a));
                }
            } finally {
                log.stop();
            }
            // logging off: the guest runs on, and the log stays empty
            long pass = m.ram().readU64(PASS);
            m.resume();
            awaitPass(m, pass + 1);
            m.pause();
            assertEquals(0, count(log.fetchAndClear()), "nothing is logged once logging stopped");
        }
        assertEquals(List.of(), events, "the guest asked for nothing");
    }

    private static void awaitPass(Machine m, long pass) throws InterruptedException {
        long guard = System.nanoTime() + 60_000_000_000L;
        while (m.ram().readU64(PASS) < pass) {
            assertTrue(System.nanoTime() < guard, "hang guard: pass " + m.ram().readU64(PASS));
            Thread.sleep(0, 200_000);
        }
    }
}
