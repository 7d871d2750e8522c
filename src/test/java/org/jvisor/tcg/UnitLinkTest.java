package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.X86State;
import org.jvisor.testing.TranslatedToo;

/**
 * Links between units ({@link Unit#next}): a unit's exit runs the unit the dispatcher found there
 * last time without a lookup, but never a unit that is no longer what a fetch at that RIP would
 * run: not after a write to its page, not after the linear page is mapped elsewhere, not for a
 * vCPU whose page tables map it elsewhere; and an interrupt waits no longer than a unit.
 */
@TranslatedToo
class UnitLinkTest {
    private static final JitOptions ALWAYS = new JitOptions(true, 0, JitOptions.DEFAULT_MAX_INSNS);
    /** A 2 MiB linear page the tests map to one of two physical pages, each with its own function. */
    private static final long FUNC = 0x800000;
    private static final long FUNC_A = 0x800000;
    private static final long FUNC_B = 0xA00000;
    /** The page directory entry for FUNC in the boot page tables (PD at 0x3000), and PS|RW|P. */
    private static final long PDE = 0x3000 + 8 * (FUNC >>> 21);
    private static final long LARGE = 0x83;

    /** Writes "return 1" at FUNC_A and "return 2" at FUNC_B (the second is mapped at FUNC by a remap). */
    private static void writeFunctions(TestMachine m) {
        m.ram.write(FUNC_A, Asm.assemble("mov $1, %eax\nret\n"));
        m.ram.write(FUNC_B, Asm.assemble("mov $2, %eax\nret\n"));
    }

    /** 3000 calls of FUNC, summed in R8: a loop of three linked units (call site, function, return site). */
    private static final String CALLS = """
        mov $3000, %ecx
        1: mov $0x800000, %rbx
        call *%rbx
        add %rax, %r8
        dec %ecx
        jnz 1b
        """;

    /**
     * At least {@code min} unit runs came through links; not checked while every unit run is
     * verified (-Djvisor.tcg.jitVerify, the translated test run), which replays each unit.
     */
    private static void assertLinked(TcgCpu cpu, long min) {
        if (cpu.verifiedUnitRuns()[0] == 0) {
            assertTrue(cpu.jitStats.linkedRuns > min, "linked runs: " + cpu.jitStats.linkedRuns);
        }
    }

    @Test
    void unitsRunThroughLinksWithTheResultsOfTheInterpreter() {
        try (TestMachine m = new TestMachine("xor %r8, %r8\n" + CALLS, ALWAYS)) {
            writeFunctions(m);
            m.run();
            assertEquals(3000, m.reg(8));
            assertLinked(m.cpu, 5000);
        }
    }

    /** The call site's link to the function's unit outlives a write to the function's page: it must not be followed. */
    @Test
    void aWriteToTheTargetsPageBreaksTheLink() {
        String asm = """
            xor %r8, %r8
            mov $3000, %ecx
            1: call f
            add %rax, %r8
            cmp $1500, %ecx
            jne 2f
            movl $2, f + 1(%rip)
            2: dec %ecx
            jnz 1b
            jmp 3f
            .org 0x1000
            f: mov $1, %eax
            ret
            3:
            """;
        try (TestMachine m = new TestMachine(asm, ALWAYS)) {
            m.run();
            assertEquals(1501 + 2 * 1499, m.reg(8), "the function's old translation ran after the write");
            assertLinked(m.cpu, 3000);
        }
    }

    /**
     * The guest maps FUNC to another physical page (page directory entry, INVLPG) and runs the same
     * call site again: its link still names the first function's unit, valid and at that RIP,
     * which only the fetch TLB shows is no longer what FUNC runs.
     */
    @Test
    void aRemapOfTheTargetsLinearPageBreaksTheLink() {
        String asm = """
            xor %%r8, %%r8
            xor %%r9, %%r9
            0:
            %s
            inc %%r9
            cmp $2, %%r9
            je 9f
            movq $%d, %d
            invlpg 0x800000
            jmp 0b
            9:
            """.formatted(CALLS, FUNC_B | LARGE, PDE);
        try (TestMachine m = new TestMachine(asm, ALWAYS)) {
            writeFunctions(m);
            m.run();
            assertEquals(3000 + 2 * 3000, m.reg(8), "the unit of the page mapped before ran after the remap");
            assertLinked(m.cpu, 10000);
        }
    }

    /**
     * Two vCPUs of one VM share the units of the call site, but their page tables map FUNC to
     * different pages: the link the first vCPU made must not be followed by the second.
     */
    @Test
    void vcpusWithOtherPageTablesDoNotFollowEachOthersLinks() {
        try (TestMachine m = new TestMachine("xor %r8, %r8\n" + CALLS, ALWAYS)) {
            writeFunctions(m);
            // a second set of page tables at 4 MiB: the boot ones with FUNC mapped to FUNC_B
            long pml4 = 0x400000;
            byte[] tables = new byte[3 * 0x1000];
            m.ram.read(0x1000, tables, 0, tables.length);
            m.ram.write(pml4, tables);
            m.ram.writeU64(pml4, (pml4 + 0x1000) | 3);
            m.ram.writeU64(pml4 + 0x1000, (pml4 + 0x2000) | 3);
            m.ram.writeU64(pml4 + 0x2000 + 8 * (FUNC >>> 21), FUNC_B | LARGE);
            TcgAccelerator accel = new TcgAccelerator(new MachineBus(m.ram, m.io, m.mmio), ALWAYS);
            TcgVcpu first = (TcgVcpu) accel.createVcpu(0, new ExitStats(false));
            TcgVcpu second = (TcgVcpu) accel.createVcpu(1, new ExitStats(false));
            try {
                first.loadState(m.st);
                first.cpu().runUntilRip(m.end, 10_000_000);
                X86State st = new X86State();
                st.copyFrom(m.st);
                st.cr3 = pml4;
                second.loadState(st);
                second.cpu().runUntilRip(m.end, 10_000_000);
                assertEquals(3000, first.cpu().s.gpr[8]);
                assertEquals(6000, second.cpu().s.gpr[8], "the second vCPU ran the function its page tables do not map");
                assertLinked(second.cpu(), 5000);
            } finally {
                first.close();
                second.close();
            }
        }
    }

    /**
     * A loop made only of linked units (no backward branch inside a unit, where the units poll the
     * request themselves; the indirect jump ends one): an interrupt that becomes pending inside it is taken at the next unit
     * boundary, not at the end of the slice.
     */
    @Test
    void anInterruptIsTakenAtTheNextUnitBoundaryOfALinkedLoop() {
        String asm = """
            sti
            xor %rcx, %rcx
            lea 1f(%rip), %rdx
            1: call f
            cmpq $0, 0x200000
            jne 2f
            jmp *%rdx
            2: hlt
            f: out %al, $0x80
            inc %rcx
            ret
            """;
        try (TestMachine m = new TestMachine(asm, ALWAYS)) {
            // raised once the loop runs linked (the first entries translate and link)
            m.interruptAtPort80Write(200, true);
            m.cpu.syncFromState();
            for (int slice = 0; slice < 100 && !m.cpu.halted; slice++) {
                m.cpu.runSlice(4096);
            }
            assertTrue(m.cpu.halted, "the loop ended: the interrupt was taken");
            long n = m.ram.readU64(TestMachine.DATA + 8);
            assertTrue(n >= 200 && n <= 201, "taken after " + n + " calls, raised at the 200th");
            assertLinked(m.cpu, 100);
        }
    }
}
