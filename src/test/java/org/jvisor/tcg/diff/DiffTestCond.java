package org.jvisor.tcg.diff;

import static org.jvisor.tcg.diff.Asm.NO_PREFIX;
import static org.jvisor.tcg.diff.Asm.op;

import org.junit.jupiter.api.Test;

/**
 * CMOVcc, SETcc and Jcc over all sixteen conditions with random flags (also flags produced by a
 * preceding CMP/SUB/ADD/TEST, so lazily computed flags get evaluated), LOOP/LOOPcc/JRCXZ.
 */
class DiffTestCond {

    /** Optionally precedes the consumer with a flag-setting instruction (fully defined flags). */
    static void producer(Gen g) {
        if (g.r.nextBoolean()) {
            return;
        }
        int size = g.size();
        int[] r = g.regs(size, 2, false);
        g.setReg(r[0], size, g.interesting(size));
        g.setReg(r[1], size, g.chance(4) ? g.getReg(r[0], size) : g.interesting(size));
        g.avoidRegs |= 1 << Gen.full(r[0]); // written: must not become an address register later
        int opc = switch (g.r.nextInt(5)) {
            case 0 -> 0x38; // cmp
            case 1 -> 0x28; // sub
            case 2 -> 0x00; // add
            case 3 -> 0x18; // sbb
            default -> 0x10; // adc
        };
        if (g.chance(5)) { // inc/dec: CF kept from the random input flags
            g.a.modrm(size, NO_PREFIX, op(size == 8 ? 0xFE : 0xFF), g.r.nextInt(2), true, new Asm.Reg(r[0]), true, 0,
                0);
            return;
        }
        g.a.modrm(size, NO_PREFIX, op(opc + (size == 8 ? 0 : 1)), r[1], false, new Asm.Reg(r[0]), true, 0, 0);
    }

    static void cmov(Gen g) {
        producer(g);
        int size = g.sizeNo8();
        Gen.Ops o = g.ops(size, 1, true, 16);
        g.setOperand(o.rm(), size, g.interesting(size));
        int cc = g.r.nextInt(16);
        g.a.modrm(size, NO_PREFIX, op(0x0F, 0x40 + cc), o.reg(0), false, o.rm(), false, 0, 0);
    }

    static void setcc(Gen g) {
        producer(g);
        Gen.Ops o = g.ops(8, 0, true, 16);
        int cc = g.r.nextInt(16);
        g.a.modrm(8, NO_PREFIX, op(0x0F, 0x90 + cc), 0, true, o.rm(), true, 0, 0);
    }

    /** jcc over a MOV (short or near form), then a marker write that runs either way. */
    static void jcc(Gen g) {
        producer(g);
        int cc = g.r.nextInt(16);
        int dst = g.gpr();
        boolean near = g.r.nextBoolean();
        int movLen = 2 + 1 + 4; // REX.W C7 /0 imm32 (7 bytes)
        if (near) {
            g.a.raw(0x0F, 0x80 + cc);
            g.a.imm(movLen, 4);
        } else {
            g.a.raw(0x70 + cc, movLen);
        }
        g.a.modrm(64, NO_PREFIX, op(0xC7), 0, true, new Asm.Reg(dst), false, g.r.nextInt(), 4);
    }

    /** LOOP/LOOPE/LOOPNE/JRCXZ (optionally with 0x67: ECX) jumping forward over a MOV. */
    static void loop(Gen g) {
        producer(g);
        int kind = g.r.nextInt(4); // E0 loopne, E1 loope, E2 loop, E3 jrcxz
        g.regs[1] = switch (g.r.nextInt(4)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> 1L << 32; // ECX == 0 but RCX != 0
            default -> g.reg(64);
        };
        int dst = g.gpr();
        if (g.chance(3)) {
            g.a.b(0x67);
        }
        g.a.raw(0xE0 + kind, 7);
        g.a.modrm(64, NO_PREFIX, op(0xC7), 0, true, new Asm.Reg(dst == 1 ? 0 : dst), false, g.r.nextInt(), 4);
    }

    @Test
    void cmovcc() {
        Diff.fuzz("cmovcc", DiffTestCond::cmov);
    }

    @Test
    void setcc() {
        Diff.fuzz("setcc", DiffTestCond::setcc);
    }

    @Test
    void jcc() {
        Diff.fuzz("jcc", DiffTestCond::jcc);
    }

    @Test
    void loopJrcxz() {
        Diff.fuzz("loop/jrcxz", DiffTestCond::loop);
    }
}
