package org.jvisor.tcg.diff;

import static org.jvisor.tcg.diff.Asm.NO_PREFIX;
import static org.jvisor.tcg.diff.Asm.op;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** ADD OR ADC SBB AND SUB XOR CMP TEST INC DEC NEG NOT, all sizes and forms, byte high registers. */
class DiffTestAlu {
    static final String[] NAMES = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
    static final int LOCK = 0xF0;

    /** Whether to add a LOCK prefix to a memory-destination instruction (about a third of them). */
    static boolean lock(Gen g, Asm.Rm rm, int size) {
        return rm instanceof Asm.Mem && g.chance(3);
    }

    static int immBytes(int size) {
        return size == 8 ? 1 : size == 16 ? 2 : 4;
    }

    /** One ALU instruction of group 1 (op = ModRM /digit: 0 add .. 7 cmp) in a random form. */
    static void alu(Gen g, int op, boolean lockable) {
        int size = g.size();
        int w = size == 8 ? 0 : 1;
        boolean logic = op == 1 || op == 4 || op == 6;
        if (logic) {
            g.flagMask &= ~Gen.AF;
        }
        int form = g.r.nextInt(size == 8 ? 4 : 5);
        switch (form) {
            case 0, 1 -> { // r/m, reg  |  reg, r/m
                Gen.Ops o = g.ops(size, 1, true, 16);
                g.setOperand(o.rm(), size, g.interesting(size));
                g.setReg(o.reg(0), size, g.interesting(size));
                if (g.chance(8)) { // same value in both: zero results, equal compares
                    g.setReg(o.reg(0), size, g.getOperand(o.rm(), size));
                }
                int[] pre = form == 0 && lockable && op != 7 && lock(g, o.rm(), size) ? op(LOCK) : NO_PREFIX;
                g.a.modrm(size, pre, op((op << 3) + w + (form == 1 ? 2 : 0)), o.reg(0), false, o.rm(), true, 0, 0);
            }
            case 2 -> { // accumulator, imm (short form)
                g.setReg(0, size, g.interesting(size));
                long imm = g.interesting(Math.min(size, 32));
                g.a.plain(size, NO_PREFIX, 0, op((op << 3) + 4 + w), imm, immBytes(size));
            }
            case 3 -> { // r/m, imm (80/81)
                Gen.Ops o = g.ops(size, 0, true, 16);
                g.setOperand(o.rm(), size, g.interesting(size));
                long imm = g.interesting(Math.min(size, 32));
                int[] pre = lockable && op != 7 && lock(g, o.rm(), size) ? op(LOCK) : NO_PREFIX;
                g.a.modrm(size, pre, op(0x80 + w), op, true, o.rm(), true, imm, immBytes(size));
            }
            default -> { // r/m, imm8 sign-extended (83)
                Gen.Ops o = g.ops(size, 0, true, 16);
                g.setOperand(o.rm(), size, g.interesting(size));
                long imm = g.interesting(8);
                int[] pre = lockable && op != 7 && lock(g, o.rm(), size) ? op(LOCK) : NO_PREFIX;
                g.a.modrm(size, pre, op(0x83), op, true, o.rm(), true, imm, 1);
            }
        }
    }

    static void test(Gen g) {
        int size = g.size();
        int w = size == 8 ? 0 : 1;
        g.flagMask &= ~Gen.AF;
        switch (g.r.nextInt(3)) {
            case 0 -> {
                Gen.Ops o = g.ops(size, 1, true, 16);
                g.setOperand(o.rm(), size, g.interesting(size));
                g.setReg(o.reg(0), size, g.interesting(size));
                g.a.modrm(size, NO_PREFIX, op(0x84 + w), o.reg(0), false, o.rm(), true, 0, 0);
            }
            case 1 -> {
                g.setReg(0, size, g.interesting(size));
                g.a.plain(size, NO_PREFIX, 0, op(0xA8 + w), g.interesting(Math.min(size, 32)), immBytes(size));
            }
            default -> {
                Gen.Ops o = g.ops(size, 0, true, 16);
                g.setOperand(o.rm(), size, g.interesting(size));
                g.a.modrm(size, NO_PREFIX, op(0xF6 + w), 0, true, o.rm(), true,
                    g.interesting(Math.min(size, 32)), immBytes(size));
            }
        }
    }

    /** Group 3/4/5 unary: ext 2 not, 3 neg (F6/F7); inc/dec are FE/FF /0 /1 (ext 10, 11 here). */
    static void unary(Gen g, int which) {
        int size = g.size();
        int w = size == 8 ? 0 : 1;
        Gen.Ops o = g.ops(size, 0, true, 16);
        g.setOperand(o.rm(), size, g.interesting(size));
        int[] pre = lock(g, o.rm(), size) ? op(LOCK) : NO_PREFIX;
        switch (which) {
            case 0, 1 -> g.a.modrm(size, pre, op(0xFE + w), which, true, o.rm(), true, 0, 0); // inc, dec
            case 2, 3 -> g.a.modrm(size, pre, op(0xF6 + w), which, true, o.rm(), true, 0, 0); // not, neg
            default -> throw new IllegalArgumentException();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"})
    void group1(String name) {
        int op = java.util.Arrays.asList(NAMES).indexOf(name);
        Diff.fuzz(name, g -> alu(g, op, true));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"inc", "dec", "not", "neg"})
    void unary(String name) {
        int which = java.util.List.of("inc", "dec", "not", "neg").indexOf(name);
        Diff.fuzz(name, g -> unary(g, which));
    }

    @org.junit.jupiter.api.Test
    void testInsn() {
        Diff.fuzz("test", DiffTestAlu::test);
    }
}
