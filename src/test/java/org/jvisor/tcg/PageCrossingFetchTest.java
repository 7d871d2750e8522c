package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.config.JitOptions;

/**
 * An instruction that straddles two pages is decoded once and kept while neither part changes:
 * a store into its second page, by the guest or by DMA, must be seen at its next execution
 * (SDM vol. 3, 8.1.3: self-modifying code).
 */
class PageCrossingFetchTest {
    /**
     * The end of each program: f at CODE + 0xFFE, B8 44 33 | 22 11 (mov $0x11223344, %eax) across
     * the page at CODE + 0x1000, then the program's end.
     */
    private static final String F_ACROSS_PAGES = """
        jmp done
        .org 0xFFE
        f: mov $0x11223344, %eax
        ret
        done:
        """;

    private static final String PROGRAM = """
        mov $3, %ecx
        1: call f
        dec %ecx
        jnz 1b
        mov %eax, %r9d
        movb $0x55, 0x101000
        call f
        mov %eax, %r10d
        call f
        mov %eax, %r11d
        """ + F_ACROSS_PAGES;

    @ParameterizedTest(name = "jit {0}")
    @ValueSource(strings = {"off", "always"})
    void aStoreIntoTheSecondPageIsSeenAtTheNextExecution(String jit) {
        try (TestMachine m = new TestMachine(PROGRAM, jit(jit)).run()) {
            assertEquals(0x11223344L, m.reg(9));
            assertEquals(0x11225544L, m.reg(10), "after the guest's store into the second part");
            assertEquals(0x11225544L, m.reg(11));
        }
    }

    @ParameterizedTest(name = "jit {0}")
    @ValueSource(strings = {"off", "always"})
    void dmaIntoEitherPageIsSeenAtTheNextExecution(String jit) {
        String program = """
            call f
            mov %eax, %r9d
            hlt
            call f
            mov %eax, %r10d
            hlt
            call f
            mov %eax, %r11d
            """ + F_ACROSS_PAGES;
        try (TestMachine m = new TestMachine(program, jit(jit))) {
            // call f (5 bytes), mov %eax, %r9d (3): the HLTs are at CODE + 8 and CODE + 17
            long hlt1 = TestMachine.CODE + 8, hlt2 = TestMachine.CODE + 17;
            m.cpu.runUntilRip(hlt1, 1000);
            assertEquals(0x11223344L, m.reg(9));
            // a device writes the second part (the immediate's high bytes), then the first
            m.ram.write(TestMachine.CODE + 0x1001, new byte[] {0x66, 0x77});
            m.cpu.invalidateCode(TestMachine.CODE + 0x1001, 2);
            m.st.rip = hlt1 + 1;
            m.cpu.runUntilRip(hlt2, 1000);
            assertEquals(0x77663344L, m.reg(10), "after DMA into the second page");
            m.ram.write(TestMachine.CODE + 0xFFF, new byte[] {0x01});
            m.cpu.invalidateCode(TestMachine.CODE + 0xFFF, 1);
            m.st.rip = hlt2 + 1;
            m.run();
            assertEquals(0x77663301L, m.reg(11), "after DMA into the first page");
        }
    }

    /**
     * Decoded code stays decoded while nothing writes it: a loop that calls a function on its own
     * page, one 16 MiB away (the same slot of the old direct-mapped page cache) and the
     * page-straddling one, 1000 times, decodes each instruction once.
     */
    @Test
    void codeThatIsNotWrittenIsDecodedOnce() {
        String program = """
            mov $1000, %ecx
            mov $0x1100000, %rbx
            1: call near
            call *%rbx
            call f
            dec %ecx
            jnz 1b
            jmp done
            .org 0x800
            near: mov $1, %eax
            ret
            .org 0xFFE
            f: mov $0x11223344, %eax
            ret
            done:
            """;
        try (TestMachine m = new TestMachine(program, JitOptions.OFF)) {
            m.ram.write(0x1100000, new byte[] {(byte) 0xB8, 2, 0, 0, 0, (byte) 0xC3}); // mov $2, %eax; ret
            m.run();
            assertEquals(0x11223344L, m.reg(0));
            // 13 distinct instructions; the straddling one is decoded twice on its first run
            assertTrue(m.cpu.jitStats.decodes <= 16, "decodes: " + m.cpu.jitStats.decodes);
            assertEquals(1, m.cpu.jitStats.straddlingDecodes);
        }
    }

    /**
     * A loop whose body runs into an instruction that crosses the page end (md5sum's rounds
     * have one): the unit runs it through the interpreter's fetch and goes on to the next page's
     * unit, so the loop runs in units, and a store into the instruction's second part is seen at
     * its next execution there too.
     */
    private static final String LOOP_ACROSS_PAGES = """
        mov $3, %ecx
        xor %r9d, %r9d
        jmp 1f
        .org 0xFF0
        1: add %eax, %r9d
        .rept 11
        nop
        .endr
        mov $0x11223344, %eax
        movb $0x55, 0x101000
        dec %ecx
        jnz 1b
        add %eax, %r9d
        """;

    @ParameterizedTest(name = "jit {0}")
    @ValueSource(strings = {"off", "always"})
    void aUnitRunsTheCrossingInstructionItReachesAndSeesItsSecondPartChange(String jit) {
        try (TestMachine m = new TestMachine(LOOP_ACROSS_PAGES, jit(jit)).run()) {
            assertEquals(0x11225544L, m.reg(0), "the last execution saw the store into the second page");
            assertEquals(0x11223344L + 2 * 0x11225544L, m.reg(9));
        }
    }

    @Test
    void aLoopThroughACrossingInstructionStaysInUnits() {
        String program = """
            mov $10000, %ecx
            xor %r9d, %r9d
            jmp 1f
            .org 0xFF4
            1: add %eax, %r9d
            .rept 7
            nop
            .endr
            mov $0x11223344, %eax
            dec %ecx
            jnz 1b
            """;
        try (TestMachine m = new TestMachine(program, jit("always")).run()) {
            assertEquals(0x11223344L * 9999 & 0xFFFF_FFFFL, m.reg(9));
            JitStats st = m.cpu.jitStats;
            // 11 instructions per pass, 10000 passes: all of them in units but the first few
            assertTrue(st.unitInsns > 109_000, "instructions in units: " + st.unitInsns);
            assertEquals(10_000, st.helperRuns[0xB8], "the crossing MOV, run from its unit each pass");
        }
    }

    private static JitOptions jit(String mode) {
        return mode.equals("off") ? JitOptions.OFF : JitOptions.OFF.withEnabled(true).withThreshold(0);
    }
}
