package org.jvisor.tcg.diff;

import static org.jvisor.tcg.diff.Asm.NO_PREFIX;
import static org.jvisor.tcg.diff.Asm.op;

import org.junit.jupiter.api.Test;

/** MOV (all forms), MOVZX MOVSX MOVSXD, CBW/CWDE/CDQE, CWD/CDQ/CQO, XCHG, LAHF/SAHF. */
class DiffTestMove {

    static void mov(Gen g) {
        int size = g.size();
        int w = size == 8 ? 0 : 1;
        switch (g.r.nextInt(4)) {
            case 0 -> { // 88/89 r/m, reg ; 8A/8B reg, r/m
                Gen.Ops o = g.ops(size, 1, true, 16);
                g.setReg(o.reg(0), size, g.interesting(size));
                g.a.modrm(size, NO_PREFIX, op(0x88 + w + (g.r.nextBoolean() ? 2 : 0)), o.reg(0), false, o.rm(), true, 0,
                    0);
            }
            case 1 -> { // C6/C7 r/m, imm
                Gen.Ops o = g.ops(size, 0, true, 16);
                g.a.modrm(size, NO_PREFIX, op(0xC6 + w), 0, true, o.rm(), true, g.interesting(Math.min(size, 32)),
                    DiffTestAlu.immBytes(size));
            }
            case 2 -> { // B0+r / B8+r, including the 64-bit immediate
                int reg = size == 8 ? g.regs8(1, false)[0] : g.gpr();
                int enc = Asm.isHigh8(reg) ? reg - Asm.AH + 4 : reg;
                if (size == 8 && !Asm.isHigh8(reg) && reg >= 4 && reg <= 7) {
                    g.a.b(0x40); // SPL..DIL need a REX prefix
                }
                g.a.plain(size, NO_PREFIX, enc >> 3, op((size == 8 ? 0xB0 : 0xB8) + (enc & 7)),
                    g.interesting(size), size / 8);
            }
            default -> { // moffs: A0-A3 with a 64-bit absolute address
                Asm.Mem m = g.mem(size / 8, 16);
                g.pointerRegs = 0;
                long addr = g.lastTarget;
                g.setReg(0, size, g.interesting(size));
                g.a.plain(size, NO_PREFIX, 0, op(0xA0 + w + (g.r.nextBoolean() ? 2 : 0)), addr, 8);
                if (m == null) {
                    throw new AssertionError();
                }
            }
        }
    }

    static void movx(Gen g) {
        boolean signed = g.r.nextBoolean();
        boolean word = g.r.nextBoolean();
        int dsize = word ? (g.r.nextBoolean() ? 32 : 64) : g.sizeNo8();
        int ssize = word ? 16 : 8;
        Asm.Rm rm;
        if (g.r.nextBoolean()) {
            rm = g.mem(ssize / 8, 16);
            g.poke(g.lastTarget, g.interesting(ssize), ssize / 8);
        } else {
            int r = ssize == 8 ? g.regs8(1, false)[0] : g.gpr();
            g.setReg(r, ssize, g.interesting(ssize));
            rm = new Asm.Reg(r);
        }
        int dst = g.gpr();
        g.a.modrm(dsize, NO_PREFIX, op(0x0F, (signed ? 0xBE : 0xB6) + (word ? 1 : 0)), dst, false, rm, false,
            ssize == 8, 0, 0);
    }

    static void movsxd(Gen g) {
        Gen.Ops o = g.ops(32, 1, true, 16);
        g.setOperand(o.rm(), 32, g.interesting(32));
        g.a.modrm(64, NO_PREFIX, op(0x63), o.reg(0), false, o.rm(), false, 0, 0);
    }

    static void convert(Gen g) {
        int size = g.sizeNo8();
        g.setReg(0, size, g.interesting(size));
        g.a.plain(size, NO_PREFIX, 0, op(g.r.nextBoolean() ? 0x98 : 0x99), 0, 0);
    }

    static void xchg(Gen g) {
        int size = g.size();
        if (size != 8 && g.r.nextBoolean()) { // 90+r with eAX
            int reg = g.gpr();
            if (reg == 0 && size != 16) {
                reg = 8; // 90 alone is NOP, 41 90 is xchg eax/rax, r8
            }
            g.a.plain(size, NO_PREFIX, reg >> 3, op(0x90 + (reg & 7)), 0, 0);
            return;
        }
        Gen.Ops o = g.ops(size, 1, true, 16); // XCHG with memory is locked
        g.setOperand(o.rm(), size, g.interesting(size));
        g.a.modrm(size, o.rm() instanceof Asm.Mem && g.chance(4) ? op(0xF0) : NO_PREFIX, op(size == 8 ? 0x86 : 0x87),
            o.reg(0), false, o.rm(), true, 0, 0);
    }

    static void lahfSahf(Gen g) {
        g.a.b(g.r.nextBoolean() ? 0x9F : 0x9E);
        if (g.chance(3)) {
            g.a.b(g.r.nextBoolean() ? 0x9F : 0x9E);
        }
    }

    @Test
    void mov() {
        Diff.fuzz("mov", DiffTestMove::mov);
    }

    @Test
    void movzxMovsx() {
        Diff.fuzz("movzx/movsx", DiffTestMove::movx);
    }

    @Test
    void movsxd() {
        Diff.fuzz("movsxd", DiffTestMove::movsxd);
    }

    @Test
    void cbwCwdFamily() {
        Diff.fuzz("cbw/cwd/cdqe/cqo", DiffTestMove::convert);
    }

    @Test
    void xchg() {
        Diff.fuzz("xchg", DiffTestMove::xchg);
    }

    @Test
    void lahfSahf() {
        Diff.fuzz("lahf/sahf", DiffTestMove::lahfSahf);
    }
}
