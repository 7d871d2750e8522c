package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;

/**
 * A block of user code entered {@code burst} times within one window of 2^20 retired instructions
 * is translated before the threshold; entered as often but spread over more windows, or in the
 * kernel, it waits for the threshold. Kernel code entered {@code steady} times at a steady rate
 * (at most 32 entries per window on average) is translated before the threshold; entered as often
 * in a burst, it waits for the threshold. A long interpreted block counts its length too (one
 * entry more per JitOptions#LONG_BLOCK instructions) while the guest is busy.
 */
class JitBurstTest {
    /** A threshold no run here reaches: whatever is translated was made hot by a burst. */
    private static final JitOptions NO_THRESHOLD = JitOptions.OFF.withEnabled(true).withThreshold(1_000_000);

    /**
     * A loop of {@code times} iterations, each retiring about {@code nops} + 3 instructions, run
     * in ring 3 (entered with SYSRET, left with SYSCALL) or, with {@code user} false, in ring 0.
     */
    private static TestMachine loop(int times, int nops, JitOptions jit, boolean user) {
        return loop(times, nops, jit, user, 0);
    }

    /** As above, the vCPU last halted when {@code lastHalt} instructions had retired. */
    private static TestMachine loop(int times, int nops, JitOptions jit, boolean user, long lastHalt) {
        String body = """
            mov $TIMES, %ebx
            1: .rept NOPS
            nop
            .endr
            add $3, %eax
            dec %ebx
            jnz 1b
            """.replace("TIMES", Integer.toString(times)).replace("NOPS", Integer.toString(nops));
        if (!user) {
            TestMachine m = new TestMachine(body, jit);
            m.cpu.lastHalt = lastHalt;
            return m.run();
        }
        TestMachine m = new TestMachine(TestMachine.syscallSetup("done") + "xor %eax, %eax\n"
            + TestMachine.sysretTo("user", 0x202) + """
            user:
            """ + body + """
            mov %eax, %r15d
            syscall
            done:
            mov %r15d, %eax
            """, jit);
        m.syscallGdt(0x600);
        m.userAccessibleFirst2MiB();
        m.cpu.syncFromState();
        m.cpu.lastHalt = lastHalt;
        return m.run();
    }

    /**
     * Kernel code: a loop of {@code times} iterations, each an inner loop of {@code spins} short
     * iterations (~2 x spins instructions in short blocks, so no block counts its length).
     */
    private static TestMachine spinLoop(int times, int spins, JitOptions jit, long lastHalt) {
        TestMachine m = new TestMachine("""
            mov $TIMES, %ebx
            1: mov $SPINS, %ecx
            2: dec %ecx
            jnz 2b
            add $3, %eax
            dec %ebx
            jnz 1b
            """.replace("TIMES", Integer.toString(times)).replace("SPINS", Integer.toString(spins)), jit);
        m.cpu.lastHalt = lastHalt;
        return m.run();
    }

    @Test
    void aUserLoopEnteredBurstTimesInOneWindowIsTranslated() {
        try (TestMachine m = loop(3000, 0, NO_THRESHOLD.withBurst(1000), true)) {
            assertEquals(9000, m.reg(0));
            assertTrue(m.cpu.jitStats.burstHot >= 1, "the loop became hot by its burst");
            assertTrue(m.cpu.jitStats.unitRuns > 0, "and ran translated");
        }
    }

    @Test
    void kernelCodeDoesNotBurst() {
        try (TestMachine m = loop(3000, 0, NO_THRESHOLD.withBurst(1000).withSteady(0), false)) {
            assertEquals(9000, m.reg(0));
            assertEquals(0, m.cpu.jitStats.burstHot);
            assertEquals(0, m.cpu.jitStats.unitRuns);
        }
    }

    /** A guest that has not halted for a long time (its windows count towards a steady rate). */
    private static final long BUSY = -JitOptions.STEADY_BUSY;

    /** No threshold at all: the inner loops' millions of entries do not reach it. */
    private static final JitOptions NEVER = NO_THRESHOLD.withThreshold(Integer.MAX_VALUE);

    /**
     * 150 iterations of ~40000 instructions: ~26 entries per window. With a steady count of 100 the
     * loop's entries become hot after about 100 iterations (3-4 windows, at least 100/32 needed).
     * (The inner loop's head is entered thousands of times per window: never at a steady rate.)
     */
    @Test
    void kernelCodeEnteredAtASteadyRateIsTranslated() {
        try (TestMachine m = spinLoop(150, 20_000, NEVER.withSteady(100), BUSY)) {
            assertEquals(450, m.reg(0));
            assertTrue(m.cpu.jitStats.steadyHot >= 1, "the loop became hot by its steady rate");
            assertTrue(m.cpu.jitStats.unitRuns > 0, "and ran translated");
            assertEquals(0, m.cpu.jitStats.burstHot);
        }
        try (TestMachine m = spinLoop(150, 20_000, NEVER.withSteady(0), BUSY)) {
            assertEquals(450, m.reg(0));
            assertEquals(0, m.cpu.jitStats.steadyHot, "steady 0: the threshold alone");
            assertEquals(0, m.cpu.jitStats.unitRuns);
        }
    }

    /**
     * The same loop right after a HLT (an idle guest's work between two halts): its 6 million
     * instructions are fewer than STEADY_BUSY, so its windows do not count and it stays interpreted.
     */
    @Test
    void kernelCodeOfAGuestThatJustHaltedWaitsForTheThreshold() {
        try (TestMachine m = spinLoop(150, 20_000, NEVER.withSteady(100), 0)) {
            assertEquals(450, m.reg(0));
            assertTrue(m.cpu.retired < JitOptions.STEADY_BUSY, "the run is shorter than STEADY_BUSY: " + m.cpu.retired);
            assertEquals(0, m.cpu.jitStats.steadyHot);
            assertEquals(0, m.cpu.jitStats.unitRuns);
        }
    }

    /**
     * 1000 iterations of ~2100 instructions: ~500 entries per window, over the steady rate, so the
     * loop is not hot by it however many entries it counts (the boot's initcall loops are so).
     */
    @Test
    void kernelCodeEnteredInBurstsWaitsForTheThreshold() {
        try (TestMachine m = loop(1000, 2100, NO_THRESHOLD.withSteady(100), false, BUSY)) {
            assertEquals(3000, m.reg(0));
            assertTrue(m.cpu.retired > 2 * JitOptions.BURST_WINDOW, "the run spans windows: " + m.cpu.retired);
            assertEquals(0, m.cpu.jitStats.steadyHot);
            assertEquals(0, m.cpu.jitStats.unitRuns);
        }
    }

    /**
     * A user program that makes a system call every ~16000 instructions: ~65 kernel entries per
     * window, over the steady rate's cap. While user code runs most of the time, kernel code
     * entered in 128 busy windows is steady whatever its rate (md5sum's system-call path), so the
     * handler is translated after ~128 windows; with the same spin in the kernel (a boot's
     * kernel code, no user code between), it is not.
     */
    private static TestMachine syscallLoop(int calls, boolean spinInUser) {
        String spin = """
            mov $8000, %ebx
            3: dec %ebx
            jnz 3b
            """;
        TestMachine m = new TestMachine(TestMachine.syscallSetup("entry") + "xor %r14d, %r14d\n"
            + TestMachine.sysretTo("user", 0x202) + """
            entry:
            """ + (spinInUser ? "" : spin) + """
            inc %r14
            cmp $CALLS, %r14
            je done
            sysretq
            user:
            """.replace("CALLS", Integer.toString(calls)) + (spinInUser ? spin : "") + """
            syscall
            jmp user
            done:
            """, NEVER.withBurst(1000).withSteady(100));
        m.syscallGdt(0x600);
        m.userAccessibleFirst2MiB();
        m.cpu.syncFromState();
        m.cpu.lastHalt = BUSY;
        m.cpu.runUntilRip(m.end, 400_000_000L);
        return m;
    }

    @Test
    void kernelCodeServingAUserProgramIsSteadyOverTheRateCap() {
        try (TestMachine m = syscallLoop(10_000, true)) {
            assertEquals(10_000, m.reg(14));
            assertTrue(m.cpu.retired > 140 * JitOptions.BURST_WINDOW, "the run spans windows: " + m.cpu.retired);
            assertTrue(m.cpu.jitStats.steadyHot >= 1, "the system-call entry became hot by its steady rate");
        }
    }

    @Test
    void kernelCodeAtTheSameRateWithoutUserCodeIsNot() {
        try (TestMachine m = syscallLoop(10_000, false)) {
            assertEquals(10_000, m.reg(14));
            assertTrue(m.cpu.retired > 140 * JitOptions.BURST_WINDOW, "the run spans windows: " + m.cpu.retired);
            assertEquals(0, m.cpu.jitStats.steadyHot);
        }
    }

    /** The threshold alone, 20000 entries: no burst, no steady rate. */
    private static final JitOptions THRESHOLD_ONLY = NO_THRESHOLD.withThreshold(20_000).withBurst(0).withSteady(0);

    /**
     * 2000 iterations of a 303-instruction block: each entry counts 1 + 303 / 16 = 19, so the
     * entry reaches 20000 after ~1050 of them and the rest run translated. With a 3-instruction
     * block the same 2000 entries stay far below the threshold.
     */
    @Test
    void aLongKernelBlockIsHotByItsLength() {
        try (TestMachine m = loop(2000, 300, THRESHOLD_ONLY, false, BUSY)) {
            assertEquals(6000, m.reg(0));
            assertTrue(m.cpu.jitStats.unitRuns > 0 && m.cpu.jitStats.unitRuns < 1000,
                "translated after about half the iterations: " + m.cpu.jitStats.unitRuns + " unit runs");
        }
        try (TestMachine m = loop(2000, 0, THRESHOLD_ONLY, false, BUSY)) {
            assertEquals(6000, m.reg(0));
            assertEquals(0, m.cpu.jitStats.unitRuns, "a short block counts its entries only");
        }
    }

    @Test
    void aLongBlockInUserCodeIsHotByItsLengthToo() {
        try (TestMachine m = loop(2000, 300, THRESHOLD_ONLY, true, BUSY)) {
            assertEquals(6000, m.reg(0));
            assertTrue(m.cpu.jitStats.unitRuns > 0);
        }
    }

    /** Right after a HLT the length does not count (an idle guest's work between halts is short). */
    @Test
    void aLongBlockOfAGuestThatJustHaltedCountsItsEntriesOnly() {
        try (TestMachine m = loop(2000, 300, THRESHOLD_ONLY, false, 0)) {
            assertEquals(6000, m.reg(0));
            assertTrue(m.cpu.retired < JitOptions.STEADY_BUSY, "the run is shorter than STEADY_BUSY: " + m.cpu.retired);
            assertEquals(0, m.cpu.jitStats.unitRuns);
        }
    }

    @Test
    void withoutABurstOnlyTheThresholdTranslates() {
        try (TestMachine m = loop(3000, 0, NO_THRESHOLD.withBurst(0), true)) {
            assertEquals(9000, m.reg(0));
            assertEquals(0, m.cpu.jitStats.burstHot);
            assertEquals(0, m.cpu.jitStats.unitRuns, "3000 entries are below the threshold");
        }
    }

    @Test
    void fewerEntriesThanTheBurstTranslateNothing() {
        try (TestMachine m = loop(900, 0, NO_THRESHOLD.withBurst(1000), true)) {
            assertEquals(2700, m.reg(0));
            assertEquals(0, m.cpu.jitStats.unitRuns);
        }
    }

    /**
     * 1000 iterations of ~2100 instructions: ~500 entries per window of 2^20, 1000 in all. A burst
     * of 600 is never reached in one window (the count starts again in each), a burst of 400 is.
     */
    @Test
    void entriesSpreadOverWindowsDoNotAddUp() {
        try (TestMachine m = loop(1000, 2100, NO_THRESHOLD.withBurst(600), true)) {
            assertEquals(3000, m.reg(0));
            assertTrue(m.cpu.retired > 2 * JitOptions.BURST_WINDOW, "the run spans windows: " + m.cpu.retired);
            assertEquals(0, m.cpu.jitStats.burstHot);
            assertEquals(0, m.cpu.jitStats.unitRuns);
        }
        try (TestMachine m = loop(1000, 2100, NO_THRESHOLD.withBurst(400), true)) {
            assertEquals(3000, m.reg(0));
            assertTrue(m.cpu.jitStats.burstHot >= 1);
            assertTrue(m.cpu.jitStats.unitRuns > 0);
        }
    }
}
