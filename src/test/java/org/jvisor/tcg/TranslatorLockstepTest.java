package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.config.JitOptions;
import org.jvisor.cpu.X86State;

/**
 * The translator in lockstep with the interpreter. Every unit run is replayed by the interpreter
 * from the same state ({@link UnitVerifier}: registers, flags, RIP, retired count, exception, RAM
 * must agree), and the whole program's end state must equal a run with translation off. Programs:
 * random loops over the translated instruction forms (all sizes, memory operands, branches inside
 * the loop), a fault at each instruction position of a unit, a store into the running unit's own
 * code, and an interrupt that a translated spin loop must see.
 */
class TranslatorLockstepTest {
    private static final JitOptions ALWAYS = new JitOptions(true, 0, JitOptions.DEFAULT_MAX_INSNS);
    private static final long DATA = TestMachine.DATA;
    private static final String[] R64 = {"%rax", "%rbx", "%rcx", "%rdx", "%rsi", "%r8", "%r9", "%r10", "%r11", "%r12",
        "%r13", "%r14"};

    /** Runs {@code asm} translated (every unit checked) and interpreted; both end states must agree. */
    private static X86State lockstep(String asm, java.util.function.Consumer<TestMachine> setup) {
        X86State translated = new X86State();
        byte[] translatedData = new byte[0x1000];
        try (TestMachine m = new TestMachine(asm, ALWAYS)) {
            setup.accept(m);
            m.cpu.verifyUnits();
            m.run();
            m.cpu.syncToState();
            translated.copyFrom(m.st);
            m.ram.read(DATA, translatedData, 0, translatedData.length);
            long[] v = m.cpu.verifiedUnitRuns();
            assertTrue(v[0] > 0, "no unit run was checked");
        }
        try (TestMachine m = new TestMachine(asm, JitOptions.OFF)) {
            setup.accept(m);
            m.run();
            m.cpu.syncToState();
            for (int r = 0; r < 16; r++) {
                assertEquals(m.st.gpr[r], translated.gpr[r], "register " + r);
            }
            assertEquals(m.st.rflags & 0xED5, translated.rflags & 0xED5, "flags");
            byte[] data = new byte[translatedData.length];
            m.ram.read(DATA, data, 0, data.length);
            assertArrayEquals(data, translatedData, "data area");
        }
        return translated;
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
    void randomLoopsAgreeWithTheInterpreter(int seed) {
        Random r = new Random(seed);
        StringBuilder a = new StringBuilder("mov $" + DATA + ", %rdi\nmov $37, %r15\n");
        for (String reg : R64) {
            a.append("mov $").append(r.nextLong()).append(", ").append(reg).append('\n');
        }
        a.append("loop:\n");
        int labels = 0;
        for (int i = 0; i < 40; i++) {
            if (r.nextInt(8) == 0) {
                String cc = CC[r.nextInt(CC.length)];
                a.append("j").append(cc).append(" skip").append(labels).append('\n');
                for (int k = 0; k < 1 + r.nextInt(3); k++) {
                    a.append(randomInsn(r)).append('\n');
                }
                a.append("skip").append(labels++).append(":\n");
            }
            a.append(randomInsn(r)).append('\n');
        }
        a.append("dec %r15\njnz loop\n");
        lockstep(a.toString(), m -> {
            for (int i = 0; i < 0x200; i += 8) {
                m.ram.writeU64(DATA + i, 0x0123456789ABCDEFL * (i + 1));
            }
        });
    }

    private static final String[] CC = {"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge",
        "le", "g"};

    /** One instruction of the forms the translator compiles (and some it hands to the interpreter). */
    private static String randomInsn(Random r) {
        String q = R64[r.nextInt(R64.length)], q2 = R64[r.nextInt(R64.length)];
        String mem = (r.nextInt(30) * 8 + r.nextInt(4)) + "(%rdi)";
        int size = new int[] {1, 2, 4, 8}[r.nextInt(4)];
        String sfx = switch (size) {
            case 1 -> "b";
            case 2 -> "w";
            case 4 -> "l";
            default -> "q";
        };
        // high-byte registers only where no operand needs a REX prefix
        boolean high = size == 1 && List.of(R64).indexOf(q) < 4 && List.of(R64).indexOf(q2) < 4;
        String d = reg(q, size, high && r.nextBoolean()), s = reg(q2, size, high && r.nextBoolean());
        int wide = Math.max(size, 2);
        String wsfx = wide == 2 ? "w" : wide == 4 ? "l" : "q";
        int big = size >= 4 ? size : 8;
        String bsfx = big == 4 ? "l" : "q";
        String alu = new String[] {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"}[r.nextInt(8)];
        int imm = r.nextInt(3) == 0 ? r.nextInt() : r.nextInt(256) - 128;
        if (size == 1) {
            imm = (byte) imm;
        } else if (size == 2) {
            imm = (short) imm;
        }
        return switch (r.nextInt(26)) {
            case 0 -> alu + sfx + " " + s + ", " + d;
            case 1 -> alu + sfx + " $" + imm + ", " + d;
            case 2 -> alu + sfx + " " + mem + ", " + d;
            case 3 -> alu + sfx + " " + s + ", " + mem;
            case 4 -> alu + sfx + " $" + imm + ", " + mem;
            case 5 -> "test" + sfx + " " + s + ", " + d;
            case 6 -> new String[] {"inc", "dec", "neg", "not"}[r.nextInt(4)] + sfx + " " + (r.nextBoolean() ? d : mem);
            case 7 -> new String[] {"shl", "shr", "sar", "rol", "ror"}[r.nextInt(5)] + sfx + " $" + r.nextInt(70) + ", "
                + (r.nextBoolean() ? d : mem);
            case 8 -> new String[] {"shl", "shr", "sar", "rol", "ror"}[r.nextInt(5)] + sfx + " %cl, " + d;
            case 9 -> size >= 4 ? "imul" + sfx + " " + s + ", " + d : "imulq $" + imm + ", " + q2 + ", " + q;
            case 10 -> size >= 4 ? (r.nextBoolean() ? "mul" : "imul") + sfx + " " + s : "cqto";
            case 11 -> "mov" + sfx + " " + s + ", " + (r.nextBoolean() ? d : mem);
            case 12 -> "mov" + sfx + " " + mem + ", " + d;
            case 13 -> "movzbl " + mem + ", " + reg(q, 4, false);
            case 14 -> "movswq " + reg(q2, 2, false) + ", " + q;
            case 15 -> "movslq " + mem + ", " + q;
            case 16 -> "lea " + (r.nextInt(64) - 32) + "(" + q2 + "," + q + "," + (1 << r.nextInt(4)) + "), "
                + reg(q, 4 + 4 * r.nextInt(2), false);
            case 17 -> "cmov" + CC[r.nextInt(CC.length)] + wsfx + " " + (r.nextBoolean() ? reg(q2, wide, false) : mem)
                + ", " + reg(q, wide, false);
            case 18 -> "set" + CC[r.nextInt(CC.length)] + " " + (r.nextBoolean() ? reg(q, 1, high) : mem);
            case 19 -> new String[] {"bt", "bts", "btr", "btc"}[r.nextInt(4)] + bsfx + " " + reg(q2, big, false) + ", "
                + reg(q, big, false);
            case 20 -> "bswap " + reg(q, big, false);
            case 21 -> "xchg " + s + ", " + d;
            case 22 -> "push " + q + "\npop " + q2;
            case 23 -> new String[] {"cbw", "cwde", "cdqe", "cwd", "cdq", "cqto", "clc", "stc", "cmc"}[r.nextInt(9)];
            case 24 -> "bsf " + q2 + ", " + q; // interpreted in units
            default -> "sahf";
        };
    }

    /** The {@code size}-byte name of a register; {@code high}: AH..DH for a byte of RAX..RDX. */
    private static String reg(String r64, int size, boolean high) {
        int i = List.of(R64).indexOf(r64);
        if (size == 8) {
            return r64;
        }
        if (i < 5) {
            String[][] names = {{"%al", "%ax", "%eax"}, {"%bl", "%bx", "%ebx"}, {"%cl", "%cx", "%ecx"},
                {"%dl", "%dx", "%edx"}, {"%sil", "%si", "%esi"}};
            if (size == 1 && i < 4 && high) {
                return new String[] {"%ah", "%bh", "%ch", "%dh"}[i];
            }
            return names[i][size == 1 ? 0 : size == 2 ? 1 : 2];
        }
        return r64 + (size == 1 ? "b" : size == 2 ? "w" : "d");
    }

    /**
     * A unit whose K-th memory access (for every K) raises #GP (a non-canonical address): the
     * handler counts it and skips the instruction, so each fault position is delivered with the
     * state before that instruction, and the run goes on to the same end as interpreted. Between
     * the flags producer and the load sits {@code between}: a SUB, or a rotate whose CF and OF
     * are pending when the load faults (the ADC after it reads CF from the delivered RFLAGS).
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sub $3, %r12", "rol $5, %r11", "ror $3, %r12", "rorl $31, %r11d"})
    void aFaultAtEachPositionLeavesTheStateBeforeTheInstruction(String between) {
        int n = 12;
        for (int k = 0; k < n; k++) {
            StringBuilder a = new StringBuilder("mov $" + DATA + ", %rdi\nmov $0x8000000000000000, %rbx\n"
                + "mov $5, %r12\nmov $7, %r11\n");
            for (int i = 0; i < n; i++) {
                a.append("add %r12, %r11\n").append(between).append('\n');
                // 4 bytes each (the handler skips 4): a load through RDI, or through the bad RBX
                a.append(i == k ? "mov 0x10(%rbx), %r8\n" : "mov 0x10(%rdi), %r8\n");
                a.append("adc %r8, %r9\n");
            }
            X86State end = lockstep(a.toString(), m -> m.installIdt(4));
            assertEquals(13, end.gpr[15], "the #GP vector");
            assertEquals(1, end.gpr[13], "one fault");
        }
    }

    /** A store into the unit's own code page patches an instruction it runs next. */
    @Test
    void aStoreIntoTheRunningUnitsCodeTakesEffect() {
        String asm = """
            mov $3, %r15
            xor %ebx, %ebx
            loop:
            lea patch+1(%rip), %rax
            mov %r15d, (%rax)
            patch:
            mov $0, %ecx
            add %ecx, %ebx
            dec %r15
            jnz loop
            """;
        X86State end = lockstep(asm, m -> { });
        assertEquals(3 + 2 + 1, end.gpr[3], "each pass runs the immediate it just wrote");
    }

    /** A translated loop that waits for an interrupt handler's store sees the interrupt. */
    @Test
    void aSpinningUnitTakesItsInterrupt() {
        String asm = """
            mov $0x200000, %rdi
            movq $0, (%rdi)
            sti
            1: cmpq $0, (%rdi)
            je 1b
            cli
            """;
        try (TestMachine m = new TestMachine(asm, ALWAYS)) {
            m.interruptOnceAfter(200_000);
            m.cpu.runUntilRip(m.end, 50_000_000);
            assertTrue(m.cpu.jitStats.unitInsns > 100_000, "the loop ran translated");
            assertEquals(1, m.ram.readU64(DATA));
        }
    }
}
