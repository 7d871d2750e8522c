package org.jvisor.tcg;

import org.jvisor.cpu.X86State;

/**
 * The x87 control instructions (SDM vol. 1, chapter 8): FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW,
 * FNSTENV/FLDENV and FNSAVE/FRSTOR, enough for an OS to initialise, save and restore the FPU.
 * x87 arithmetic is not implemented: those opcodes raise #UD (logged with jvisor.tcg.logUnimp).
 */
final class X87Unit {
    private final TcgCpu cpu;
    private final X86State s;
    private final Mmu m;

    X87Unit(TcgCpu cpu) {
        this.cpu = cpu;
        this.s = cpu.s;
        this.m = cpu.mmu;
    }

    void exec(Insn in) {
        if ((s.cr0 & (X86State.CR0_EM | X86State.CR0_TS)) != 0) {
            throw CpuFault.of(CpuFault.NM);
        }
        int op = in.op;
        int k = in.reg & 7;
        if (in.mod == 3) {
            int modrm = 0xC0 | (k << 3) | (in.rm & 7);
            if (op == 0xDB && modrm == 0xE3) {
                init();
            } else if (op == 0xDB && modrm == 0xE2) {
                s.fsw &= ~0x80FF;
            } else if (op == 0xDF && modrm == 0xE0) {
                s.gpr[0] = (s.gpr[0] & ~0xFFFFL) | (s.fsw & 0xFFFF);
            } else if (op == 0xD9 && modrm == 0xD0) {
                return; // FNOP
            } else {
                throw cpu.unimplemented(in);
            }
            return;
        }
        long a = cpu.interp.ea(in);
        if (op == 0xD9 && k == 7) {
            m.write(a, 2, s.fcw);
        } else if (op == 0xD9 && k == 5) {
            s.fcw = (int) m.read(a, 2);
        } else if (op == 0xDD && k == 7) {
            m.write(a, 2, s.fsw);
        } else if (op == 0xD9 && k == 6) {
            storeEnv(a);
            s.fcw |= 0x3F;
        } else if (op == 0xD9 && k == 4) {
            loadEnv(a);
        } else if (op == 0xDD && k == 6) {
            storeEnv(a);
            for (int i = 0; i < 8; i++) {
                int phys = (top() + i) & 7;
                m.write64(a + 28 + 10L * i, s.fpMantissa[phys]);
                m.write(a + 36 + 10L * i, 2, s.fpExponent[phys]);
            }
            init();
        } else if (op == 0xDD && k == 4) {
            loadEnv(a);
            for (int i = 0; i < 8; i++) {
                int phys = (top() + i) & 7;
                s.fpMantissa[phys] = m.read64(a + 28 + 10L * i);
                s.fpExponent[phys] = (short) m.read(a + 36 + 10L * i, 2);
            }
        } else {
            throw cpu.unimplemented(in);
        }
    }

    private int top() {
        return (s.fsw >>> 11) & 7;
    }

    private void init() {
        s.fcw = 0x37F;
        s.fsw = 0;
        s.ftw = 0;
        s.fop = 0;
        s.fip = 0;
        s.fdp = 0;
    }

    /** The 28-byte protected-mode environment (SDM vol. 1, figure 8-9). */
    private void storeEnv(long a) {
        m.write(a, 4, s.fcw);
        m.write(a + 4, 4, s.fsw);
        m.write(a + 8, 4, fullTagWord());
        m.write(a + 12, 4, s.fip);
        m.write(a + 16, 4, (long) s.fop << 16);
        m.write(a + 20, 4, s.fdp);
        m.write(a + 24, 4, 0);
    }

    private void loadEnv(long a) {
        s.fcw = (int) m.read(a, 2);
        s.fsw = (int) m.read(a + 4, 2);
        int tw = (int) m.read(a + 8, 2);
        int abridged = 0;
        for (int i = 0; i < 8; i++) {
            if (((tw >>> (2 * i)) & 3) != 3) {
                abridged |= 1 << i;
            }
        }
        s.ftw = abridged;
        s.fip = m.read(a + 12, 4);
        s.fop = (int) (m.read(a + 16, 4) >>> 16) & 0x7FF;
        s.fdp = m.read(a + 20, 4);
    }

    /** Expands the abridged tag (valid bits) to 2-bit tags: valid registers are reported as "valid" (00). */
    private int fullTagWord() {
        int tw = 0;
        for (int i = 0; i < 8; i++) {
            if ((s.ftw & (1 << i)) == 0) {
                tw |= 3 << (2 * i);
            }
        }
        return tw;
    }
}
