package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;
import org.jvisor.cpu.X86State;

/**
 * Units that run their successors themselves ({@link Unit.Link}), as the vCPU loop runs them
 * (no stop RIP, no verifier, both of which turn chaining off): the end state and the retired
 * count equal an interpreted run's, a store that rewrites a chained unit's code breaks the chain,
 * and an interrupt reaches a loop that only ever runs chained units.
 */
class UnitChainTest {
    private static final JitOptions ALWAYS = new JitOptions(true, 0, JitOptions.DEFAULT_MAX_INSNS);
    private static final long DATA = TestMachine.DATA;

    /** Runs slices until the guest halts (the programs end with HLT). */
    private static void runToHlt(TestMachine m) {
        for (int slices = 0; !m.cpu.halted; slices++) {
            assertTrue(slices < 200_000, "the program did not halt");
            m.cpu.runSlice(4096);
        }
        m.cpu.syncToState();
    }

    /** Runs {@code asm} translated and interpreted; registers, flags, data and retired counts must agree. */
    private static TestMachine.Result both(String asm, java.util.function.Consumer<TestMachine> setup) {
        long chained;
        X86State translated = new X86State();
        long translatedRetired;
        byte[] translatedData = new byte[0x1000];
        try (TestMachine m = new TestMachine(asm, ALWAYS)) {
            setup.accept(m);
            runToHlt(m);
            translated.copyFrom(m.st);
            translatedRetired = m.cpu.instructionsRetired();
            m.ram.read(DATA, translatedData, 0, translatedData.length);
            chained = m.cpu.jitStats.chainedRuns;
        }
        try (TestMachine m = new TestMachine(asm, JitOptions.OFF)) {
            setup.accept(m);
            runToHlt(m);
            for (int r = 0; r < 16; r++) {
                assertEquals(m.st.gpr[r], translated.gpr[r], "register " + r);
            }
            assertEquals(m.st.rip, translated.rip, "RIP");
            assertEquals(m.st.rflags & 0xED5, translated.rflags & 0xED5, "flags");
            assertEquals(m.cpu.instructionsRetired(), translatedRetired, "retired instructions");
            byte[] data = new byte[translatedData.length];
            m.ram.read(DATA, data, 0, data.length);
            assertArrayEquals(data, translatedData, "data area");
        }
        return new TestMachine.Result(translated, chained);
    }

    /** A loop that calls into one page, jumps to a third and returns: every exit a chain. */
    @Test
    void chainedUnitsRetireWhatTheInterpreterRetires() {
        String asm = """
            mov $3000, %r15
            xor %ebx, %ebx
            loop:
            call f1
            add %rax, %rbx
            rep movsb
            dec %r15
            jnz loop
            hlt
            .balign 4096
            f1:
            lea 1(%rbx,%rbx,2), %rax
            mov $0x200000, %rsi
            mov $0x200800, %rdi
            mov $64, %ecx
            jmp f2
            .balign 4096
            f2:
            xor $0x55, %rax
            add %r15, (%rsi)
            ret
            """;
        TestMachine.Result r = both(asm, m -> { });
        assertTrue(r.chained() > 3000, "units ran chained: " + r.chained());
    }

    /**
     * A chained callee rewrites an immediate in its caller's page: the caller's unit goes
     * invalid while it is on the JVM stack, and the code after the return runs the new bytes.
     */
    @Test
    void aStoreIntoAChainedUnitsCodeBreaksTheChain() {
        String asm = """
            mov $500, %r15
            xor %ebx, %ebx
            loop:
            call patcher
            patch:
            mov $0, %ecx
            add %rcx, %rbx
            dec %r15
            jnz loop
            hlt
            .balign 4096
            patcher:
            lea patch+1(%rip), %rax
            mov %r15d, (%rax)
            ret
            """;
        X86State end = both(asm, m -> { }).state();
        assertEquals(500L * 501 / 2, end.gpr[3], "each pass runs the immediate its callee just wrote");
    }

    /** A loop over two pages that only ever chains still takes its interrupt (the slice budget ends the chain). */
    @Test
    void aChainedLoopTakesItsInterrupt() {
        String asm = """
            mov $0x200000, %rdi
            movq $0, (%rdi)
            sti
            spin:
            inc %rbx
            jmp check
            .balign 4096
            check:
            cmpq $0, (%rdi)
            je spin
            cli
            hlt
            """;
        try (TestMachine m = new TestMachine(asm, ALWAYS)) {
            m.interruptOnceAfter(200_000);
            runToHlt(m);
            assertEquals(1, m.ram.readU64(DATA), "the handler ran");
            assertTrue(m.cpu.jitStats.chainedRuns > 10_000, "the loop ran chained: " + m.cpu.jitStats.chainedRuns);
            assertTrue(m.cpu.instructionsRetired() < 200_000 + 4096 + 100, "taken within one slice of pending");
        }
    }
}
