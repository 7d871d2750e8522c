package org.jvisor.tcg;

import org.jvisor.config.JitOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.X86State;
import org.jvisor.testing.TranslatedToo;

/**
 * Cross-modifying code on three vCPUs (SDM vol. 3, 8.1.3): one swaps a 4-byte aligned instruction
 * of a function between two encodings with XCHG while two others keep calling it. Every call must
 * run the old or the new instruction, never a mix of their bytes; and once the writer is done, a
 * caller that executes a serializing instruction (CPUID) must run the final one.
 */
@TranslatedToo
class CrossModifyingCodeTest {
    private static final long FUNC = 0x120000, INSN = FUNC + 4, FLAG = 0x128000;
    private static final long WRITER = 0x110000, CALLER = 0x130000;
    /** add $0x11, %rax and sub $0x22, %rax (48 83 C0 11, 48 83 E8 22), as little-endian dwords. */
    private static final int ADD = 0x11C0_8348, SUB = 0x22E8_8348;
    /** Returns RDI + 0x11 (or, swapped, RDI - 0x22); the instruction at INSN is 4-byte aligned. */
    private static final String FUNCTION = """
        mov %rdi, %rax
        nop
        add $0x11, %rax
        ret
        """;

    /**
     * The writer swaps the instruction 500 times per round while both callers check every call,
     * then leaves the round's final encoding and raises the round number; each caller executes
     * CPUID and then every one of its next 200 calls must run the final encoding.
     */
    @ParameterizedTest(name = "jit {0}")
    @ValueSource(strings = {"off", "always"})
    void callersRunTheOldOrTheNewInstructionAndTheFinalOneAfterCpuid(String jit) throws Exception {
        assertCallers(run(jit(jit), 20, 500, true, 200, 200), "calls after CPUID that ran an old encoding");
    }

    /**
     * Without a serializing instruction a vCPU may run the old code for a while, but not for ever:
     * the writer swaps once per round; each caller then calls the function 6000 times (a dozen
     * slices) and the last 1000 calls must all run the new encoding.
     */
    @ParameterizedTest(name = "jit {0}")
    @ValueSource(strings = {"off", "always"})
    void aVcpuNeverRunsTheOldCodeIndefinitely(String jit) throws Exception {
        assertCallers(run(jit(jit), 20, 1, false, 6000, 1000), "calls long after the store that ran the old encoding");
    }

    /** Both callers (vCPUs 1 and 2) counted no call that ran neither encoding (R8) nor a stale one (R9). */
    private static void assertCallers(List<X86State> end, String stale) {
        for (int i = 1; i < 3; i++) {
            assertEquals(0, end.get(i).gpr[8], "vCPU " + i + ": calls that ran neither encoding");
            assertEquals(0, end.get(i).gpr[9], "vCPU " + i + ": " + stale);
        }
    }

    /**
     * One writer and two callers for {@code rounds} rounds. In round r the writer makes {@code swaps}
     * exchanges ending on the round's encoding (SUB in odd rounds, ADD in even ones), stores r at
     * FLAG and waits until both callers have stored r in their slots (FLAG + 8, FLAG + 16). A caller
     * calls the function until it sees r at FLAG (R8 counts calls that returned neither value), then
     * (with {@code cpuid}) executes CPUID, makes {@code after} more calls and counts in R9 those of
     * the last {@code checked} that did not run the round's encoding.
     */
    private static JitOptions jit(String mode) {
        return mode.equals("off") ? JitOptions.OFF : JitOptions.OFF.withEnabled(true).withThreshold(0);
    }

    private static List<X86State> run(JitOptions jit, int rounds, int swaps, boolean cpuid, int after, int checked)
            throws Exception {
        try (TestMachine m = new TestMachine("nop\n")) {
            m.ram.write(FUNC, Asm.assemble(FUNCTION));
            // the first of the round's exchanges, so that the last leaves SUB in odd rounds, ADD in even ones
            int oddFirst = swaps % 2 == 1 ? SUB : ADD, oddSecond = oddFirst == SUB ? ADD : SUB;
            byte[] writer = Asm.assembleAt("""
                mov $1, %%r12d
                1: mov $%1$d, %%ecx
                mov $%2$d, %%edx
                mov $%3$d, %%ebx
                test $1, %%r12d
                jnz 2f
                xchg %%edx, %%ebx
                2: mov %%edx, %%eax
                xchg %%eax, 0x%4$x
                xchg %%edx, %%ebx
                dec %%ecx
                jnz 2b
                mov %%r12d, 0x%5$x
                3: cmp %%r12d, 0x%6$x
                jne 3b
                cmp %%r12d, 0x%7$x
                jne 3b
                inc %%r12d
                cmp $%8$d, %%r12d
                jbe 1b
                """.formatted(swaps, oddFirst, oddSecond, INSN, FLAG, FLAG + 8, FLAG + 16, rounds), WRITER);
            m.ram.write(WRITER, writer);
            byte[] caller = Asm.assembleAt("""
                xor %%r8d, %%r8d
                xor %%r9d, %%r9d
                mov $1, %%r13d
                1: mov $0x1000, %%edi
                call 0x%1$x
                cmp $0x1011, %%rax
                je 2f
                cmp $0xfde, %%rax
                je 2f
                inc %%r8
                2: cmp %%r13d, 0x%2$x
                jne 1b
                %3$s
                mov $0x1011, %%r14d
                mov $0xfde, %%eax
                test $1, %%r13d
                cmovnz %%eax, %%r14d
                mov $%4$d, %%r12d
                3: mov $0x1000, %%edi
                call 0x%1$x
                cmp $%5$d, %%r12d
                ja 4f
                cmp %%r14, %%rax
                je 4f
                inc %%r9
                4: dec %%r12d
                jnz 3b
                mov %%r13d, (%%r10)
                inc %%r13d
                cmp $%6$d, %%r13d
                jbe 1b
                """.formatted(FUNC, FLAG, cpuid ? "cpuid" : "", after, checked, rounds), CALLER);
            m.ram.write(CALLER, caller);
            return runThreeVcpus(m, jit, new long[] {WRITER, CALLER, CALLER},
                new long[] {WRITER + writer.length, CALLER + caller.length, CALLER + caller.length});
        }
    }

    /**
     * Runs three vCPUs of one VM (translator set by {@code jit}) on three threads, each from the
     * state of {@code m} with its own RIP, stack and R10 (FLAG + 8 * index), until each reaches its
     * stop address; returns their final states.
     */
    private static List<X86State> runThreeVcpus(TestMachine m, JitOptions jit, long[] entry, long[] stop)
            throws InterruptedException {
        TcgAccelerator accel = new TcgAccelerator(new MachineBus(m.ram, m.io, m.mmio), jit);
        List<TcgVcpu> vcpus = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int i = 0; i < entry.length; i++) {
            TcgVcpu v = (TcgVcpu) accel.createVcpu(i, new ExitStats(false));
            X86State st = new X86State();
            st.copyFrom(m.st);
            st.rip = entry[i];
            st.gpr[4] = 0x1F0000 - 0x10000L * i; // a stack each
            st.gpr[10] = FLAG + 8L * i;
            v.loadState(st);
            long until = stop[i];
            vcpus.add(v);
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    v.cpu().runUntilRip(until, Long.MAX_VALUE);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        List<X86State> end = new ArrayList<>();
        for (TcgVcpu v : vcpus) {
            X86State st = new X86State();
            v.saveState(st);
            end.add(st);
            v.close();
        }
        if (failure.get() != null) {
            throw new AssertionError("a vCPU failed", failure.get());
        }
        return end;
    }
}
