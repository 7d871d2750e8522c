package org.jvisor.tcg;

import org.jvisor.cpu.X86State;

/**
 * MOVS, STOS, LODS, CMPS, SCAS, INS and OUTS with REP/REPE/REPNE (SDM vol. 1, 7.3.9; vol. 2,
 * REP prefix). Registers are updated after every element, so a fault leaves an exactly
 * restartable state; long repeats yield every {@link #CHUNK} elements by re-executing the same
 * instruction, so kicks and interrupts are seen.
 */
final class StringOps {
    private static final int CHUNK = 16384;

    private final TcgCpu cpu;
    private final X86State s;
    private final long[] g;
    private final Mmu m;
    private final LazyFlags f;

    StringOps(TcgCpu cpu) {
        this.cpu = cpu;
        this.s = cpu.s;
        this.g = cpu.s.gpr;
        this.m = cpu.mmu;
        this.f = cpu.flags;
    }

    private Interpreter ip() {
        return cpu.interp;
    }

    private long idx(Insn in, int r) {
        return in.asz == 8 ? g[r] : in.asz == 4 ? g[r] & 0xFFFF_FFFFL : g[r] & 0xFFFF;
    }

    private void setIdx(Insn in, int r, long v) {
        switch (in.asz) {
            case 8 -> g[r] = v;
            case 4 -> g[r] = v & 0xFFFF_FFFFL;
            default -> g[r] = (g[r] & ~0xFFFFL) | (v & 0xFFFF);
        }
    }

    /** Source: seg:rSI (DS default, overridable). */
    private long src(Insn in) {
        return ip().seg(in, idx(in, 6));
    }

    /** Destination: ES:rDI (no override). */
    private long dst(Insn in) {
        long a = idx(in, 7);
        if (cpu.mode != 64) {
            a = (a + s.es.base) & 0xFFFF_FFFFL;
        }
        return a;
    }

    private int step(int size) {
        return (s.rflags & X86State.DF) != 0 ? -size : size;
    }

    /** For REP forms: false when the count is already zero (the instruction does nothing). */
    private boolean start(Insn in) {
        return in.rep == 0 || ip().countReg(in) != 0;
    }

    /**
     * After one element of a REP form: decrements the count and says whether to go on. When the
     * chunk is used up, the instruction is left pending (RIP unchanged) to be resumed.
     */
    private boolean more(Insn in, int done) {
        long c = ip().countReg(in) - 1;
        ip().setCount(in, c);
        if ((c & Interpreter.mask(in.asz)) == 0) {
            return false;
        }
        if (done >= CHUNK) {
            ip().next = s.rip;
            return false;
        }
        return true;
    }

    /** As {@link #more}, also ending REPE/REPNE on the ZF condition. */
    private boolean moreWhile(Insn in, int done) {
        long c = ip().countReg(in) - 1;
        ip().setCount(in, c);
        if ((c & Interpreter.mask(in.asz)) == 0 || f.zf() != (in.rep == 0xF3)) {
            return false;
        }
        if (done >= CHUNK) {
            ip().next = s.rip;
            return false;
        }
        return true;
    }

    void movs(Insn in, int size) {
        if (!start(in)) {
            return;
        }
        int d = step(size);
        for (int n = 1; ; n++) {
            long v = m.read(src(in), size);
            m.write(dst(in), size, v);
            setIdx(in, 6, idx(in, 6) + d);
            setIdx(in, 7, idx(in, 7) + d);
            if (in.rep == 0 || !more(in, n)) {
                return;
            }
        }
    }

    void stos(Insn in, int size) {
        if (!start(in)) {
            return;
        }
        int d = step(size);
        long v = g[0];
        for (int n = 1; ; n++) {
            m.write(dst(in), size, v);
            setIdx(in, 7, idx(in, 7) + d);
            if (in.rep == 0 || !more(in, n)) {
                return;
            }
        }
    }

    void lods(Insn in, int size) {
        if (!start(in)) {
            return;
        }
        int d = step(size);
        for (int n = 1; ; n++) {
            ip().setReg(in, 0, size, m.read(src(in), size));
            setIdx(in, 6, idx(in, 6) + d);
            if (in.rep == 0 || !more(in, n)) {
                return;
            }
        }
    }

    void cmps(Insn in, int size) {
        if (!start(in)) {
            return;
        }
        int d = step(size);
        for (int n = 1; ; n++) {
            long a = m.read(src(in), size);
            long b = m.read(dst(in), size);
            ip().compute(Interpreter.CMP, a, b, size, 0);
            setIdx(in, 6, idx(in, 6) + d);
            setIdx(in, 7, idx(in, 7) + d);
            if (in.rep == 0 || !moreWhile(in, n)) {
                return;
            }
        }
    }

    void scas(Insn in, int size) {
        if (!start(in)) {
            return;
        }
        int d = step(size);
        long a = ip().reg(in, 0, size);
        for (int n = 1; ; n++) {
            long b = m.read(dst(in), size);
            ip().compute(Interpreter.CMP, a, b, size, 0);
            setIdx(in, 7, idx(in, 7) + d);
            if (in.rep == 0 || !moreWhile(in, n)) {
                return;
            }
        }
    }

    void ins(Insn in, int size) {
        int port = (int) g[2] & 0xFFFF;
        cpu.sys.checkIo(port, size);
        if (!start(in)) {
            return;
        }
        int d = step(size);
        for (int n = 1; ; n++) {
            long addr = dst(in);
            m.read(addr, size); // probe the destination before consuming device data
            m.write(addr, size, cpu.ioIn(port, size));
            setIdx(in, 7, idx(in, 7) + d);
            if (in.rep == 0 || !more(in, n)) {
                return;
            }
        }
    }

    void outs(Insn in, int size) {
        int port = (int) g[2] & 0xFFFF;
        cpu.sys.checkIo(port, size);
        if (!start(in)) {
            return;
        }
        int d = step(size);
        for (int n = 1; ; n++) {
            cpu.ioOut(port, size, m.read(src(in), size));
            setIdx(in, 6, idx(in, 6) + d);
            if (in.rep == 0 || !more(in, n)) {
                return;
            }
        }
    }
}
