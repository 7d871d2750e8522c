package org.jvisor.tcg.diff;

import static org.jvisor.tcg.diff.Asm.NO_PREFIX;
import static org.jvisor.tcg.diff.Asm.op;

import org.junit.jupiter.api.Test;

/**
 * Random sequences of 2..8 flag producers and consumers (ALU ops, INC/DEC that keep CF, shifts and
 * rotates by one, BT, STC/CLC/CMC, SAHF/LAHF, ADC/SBB, SETcc, CMOVcc, Jcc): aimed at lazy flag
 * evaluation, where a producer's flags are consumed after later instructions wrote only some of
 * them. The generator tracks which flags are undefined at each point, never consumes those, and
 * compares every flag that is defined at the end.
 */
class DiffTestSequence {
    static final long O = Gen.OF, C = Gen.CF, Z = Gen.ZF, S = Gen.SF, P = Gen.PF, A = Gen.AF;
    static final long ALL = Gen.ARITH;

    static long condFlags(int cc) {
        return switch (cc >> 1) {
            case 0 -> O;
            case 1 -> C;
            case 2 -> Z;
            case 3 -> C | Z;
            case 4 -> S;
            case 5 -> P;
            case 6 -> S | O;
            default -> Z | S | O;
        };
    }

    static void sequence(Gen g) {
        Asm.Mem[] mems = new Asm.Mem[g.r.nextInt(3)];
        long[] memAddr = new long[mems.length];
        for (int i = 0; i < mems.length; i++) {
            mems[i] = g.mem(8, 16);
            memAddr[i] = g.lastTarget;
        }
        long undef = 0;
        int n = 2 + g.r.nextInt(7);
        for (int k = 0; k < n; k++) {
            int size = g.size();
            int w = size == 8 ? 0 : 1;
            Asm.Rm rm;
            int[] rr;
            if (mems.length > 0 && g.chance(3)) {
                rm = mems[g.r.nextInt(mems.length)];
                rr = g.regs(size, 1, ((Asm.Mem) rm).needsRex());
            } else {
                int[] all = g.regs(size, 2, false);
                rm = new Asm.Reg(all[0]);
                rr = new int[] {all[1]};
            }
            int kind = g.r.nextInt(16);
            long reads, writes, undefines = 0;
            switch (kind) {
                case 0, 1, 2 -> { // group 1 ALU reg form
                    int alu = g.r.nextInt(8);
                    reads = alu == 2 || alu == 3 ? C : 0;
                    if ((reads & undef) != 0) {
                        alu = 0;
                        reads = 0;
                    }
                    writes = ALL;
                    if (alu == 1 || alu == 4 || alu == 6) {
                        undefines = A;
                    }
                    g.a.modrm(size, NO_PREFIX, op((alu << 3) + w + (g.r.nextBoolean() ? 2 : 0)), rr[0], false, rm,
                        true, 0, 0);
                }
                case 3 -> { // group 1 with imm8
                    int alu = g.r.nextInt(8);
                    reads = alu == 2 || alu == 3 ? C : 0;
                    if ((reads & undef) != 0) {
                        alu = 7;
                        reads = 0;
                    }
                    writes = ALL;
                    if (alu == 1 || alu == 4 || alu == 6) {
                        undefines = A;
                    }
                    g.a.modrm(size, NO_PREFIX, op(size == 8 ? 0x80 : 0x83), alu, true, rm, true, g.interesting(8), 1);
                }
                case 4 -> { // inc/dec: CF untouched
                    reads = 0;
                    writes = ALL & ~C;
                    g.a.modrm(size, NO_PREFIX, op(0xFE + w), g.r.nextInt(2), true, rm, true, 0, 0);
                }
                case 5 -> { // neg / not
                    boolean neg = g.r.nextBoolean();
                    reads = 0;
                    writes = neg ? ALL : 0;
                    g.a.modrm(size, NO_PREFIX, op(0xF6 + w), neg ? 3 : 2, true, rm, true, 0, 0);
                }
                case 6 -> { // shift/rotate by 1
                    int ext = g.r.nextInt(8);
                    if (ext == 6) {
                        ext = 4;
                    }
                    reads = ext == 2 || ext == 3 ? C : 0;
                    if ((reads & undef) != 0) {
                        ext = 0;
                        reads = 0;
                    }
                    if (ext < 4) {
                        writes = C | O;
                    } else {
                        writes = ALL;
                        undefines = A;
                    }
                    g.a.modrm(size, NO_PREFIX, op(0xD0 + w), ext, true, rm, true, 0, 0);
                }
                case 7 -> { // stc clc cmc
                    int which = g.r.nextInt(3);
                    reads = which == 2 ? C : 0;
                    if ((reads & undef) != 0) {
                        which = 0;
                        reads = 0;
                    }
                    writes = C;
                    g.a.b(which == 0 ? 0xF9 : which == 1 ? 0xF8 : 0xF5);
                }
                case 8 -> { // sahf / lahf (AH clobber is fine: AH is not an address register)
                    if ((g.pointerRegs & 1) != 0) {
                        reads = 0;
                        writes = C;
                        g.a.b(0xF9);
                    } else if (g.r.nextBoolean() && ((S | Z | A | P | C) & undef) == 0) {
                        reads = S | Z | A | P | C;
                        writes = 0;
                        g.a.b(0x9F);
                    } else {
                        reads = 0;
                        writes = S | Z | A | P | C;
                        g.a.b(0x9E);
                    }
                }
                case 9 -> { // bt reg, imm8
                    int bsize = g.sizeNo8();
                    int[] b = g.regs(bsize, 1, false);
                    reads = 0;
                    writes = C;
                    undefines = O | S | A | P;
                    g.a.modrm(bsize, NO_PREFIX, op(0x0F, 0xBA), 4, true, new Asm.Reg(b[0]), false, g.r.nextInt(64), 1);
                }
                case 10, 11 -> { // setcc / cmovcc / jcc on a defined condition
                    int cc = g.r.nextInt(16);
                    if ((condFlags(cc) & undef) != 0) {
                        reads = 0;
                        writes = 0;
                        g.a.b(0x90);
                        break;
                    }
                    reads = condFlags(cc);
                    writes = 0;
                    switch (g.r.nextInt(3)) {
                        case 0 -> g.a.modrm(8, NO_PREFIX, op(0x0F, 0x90 + cc), 0, true, rm, true, 0, 0);
                        case 1 -> {
                            int csize = g.sizeNo8();
                            int[] c2 = g.regs(csize, 1, false);
                            Asm.Rm src = rm instanceof Asm.Mem ? rm : new Asm.Reg(g.regs(csize, 1, false)[0]);
                            g.a.modrm(csize, NO_PREFIX, op(0x0F, 0x40 + cc), c2[0], false, src, false, 0, 0);
                        }
                        default -> {
                            int dst = g.gpr();
                            g.a.raw(0x70 + cc, 7);
                            g.a.modrm(64, NO_PREFIX, op(0xC7), 0, true, new Asm.Reg(dst), false, g.r.nextInt(), 4);
                        }
                    }
                }
                case 12 -> { // imul reg, r/m: CF OF only
                    int isize = g.sizeNo8();
                    int[] d = g.regs(isize, 1, false);
                    Asm.Rm src = rm instanceof Asm.Mem ? rm : new Asm.Reg(g.regs(isize, 1, false)[0]);
                    reads = 0;
                    writes = C | O;
                    undefines = S | Z | A | P;
                    g.a.modrm(isize, NO_PREFIX, op(0x0F, 0xAF), d[0], false, src, false, 0, 0);
                }
                case 13 -> { // test
                    reads = 0;
                    writes = ALL;
                    undefines = A;
                    g.a.modrm(size, NO_PREFIX, op(0x84 + w), rr[0], false, rm, true, 0, 0);
                }
                case 14 -> { // mov (no flags) / lea
                    reads = 0;
                    writes = 0;
                    if (rm instanceof Asm.Reg && g.r.nextBoolean()) {
                        int lsize = g.sizeNo8();
                        int d = g.gpr();
                        int base = g.gpr();
                        g.a.modrm(lsize, NO_PREFIX, op(0x8D), d, false, new Asm.Mem(base, Asm.NONE, 1,
                            g.r.nextInt(256) - 128, 1, false), false, 0, 0);
                    } else {
                        g.a.modrm(size, NO_PREFIX, op(0x88 + w + (g.r.nextBoolean() ? 2 : 0)), rr[0], false, rm, true,
                            0, 0);
                    }
                }
                default -> { // adc/sbb with a register, when CF is defined
                    if ((undef & C) != 0) {
                        reads = 0;
                        writes = C;
                        g.a.b(0xF8);
                        break;
                    }
                    reads = C;
                    writes = ALL;
                    g.a.modrm(size, NO_PREFIX, op((g.r.nextBoolean() ? 0x10 : 0x18) + w), rr[0], false, rm, true, 0,
                        0);
                }
            }
            if ((reads & undef) != 0) {
                throw new AssertionError("generator consumed an undefined flag");
            }
            undef = (undef & ~writes) | undefines;
        }
        g.flagMask &= ~undef;
    }

    @Test
    void flagSequences() {
        Diff.fuzz("sequence", DiffTestSequence::sequence);
    }
}
