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
        if (in.rep != 0 && bulk(in) && movsRuns(in, size)) {
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
        if (in.rep != 0 && bulk(in) && stosRuns(in, size)) {
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

    // ---- REP MOVS/STOS in page-sized runs ----
    // Linux copies and clears memory with REP MOVS/STOS (copy_user, memcpy, clear_page): each run
    // of elements that stays inside one source and one destination page of RAM is copied or filled
    // at once. Registers advance run by run, so a fault at a page leaves the state an element-wise
    // copy would have had there; anything else (MMIO, a page-crossing element, overlap that an
    // element-wise copy would replicate) takes the element loop.

    /** Runs apply: forward (DF clear), 64-bit mode, 64-bit addresses (no segment limits or wrap). */
    private boolean bulk(Insn in) {
        return (s.rflags & X86State.DF) == 0 && cpu.mode == 64 && in.asz == 8;
    }

    /** Elements of {@code size} from {@code lin} before the end of its page. */
    private static long toPageEnd(long lin, int size) {
        return (0x1000 - (lin & 0xFFF)) / size;
    }

    /**
     * REP MOVS by runs: true when the instruction is done (or yields), false when the element loop
     * must go on from where the runs stopped.
     */
    private boolean movsRuns(Insn in, int size) {
        long done = 0;
        while (true) {
            long count = g[1];
            long src = src(in);
            long dst = dst(in);
            long n = Math.min(Math.min(count, CHUNK - done), Math.min(toPageEnd(src, size), toPageEnd(dst, size)));
            if (n <= 0) {
                return false;
            }
            int len = (int) (n * size);
            long from = m.hostOffsetForRead(src, len);
            if (from < 0) {
                return false;
            }
            long to = m.hostOffsetForWrite(dst, len);
            if (to < 0 || (to > from && to < from + len)) {
                return false;
            }
            java.lang.foreign.MemorySegment.copy(m.memory(), from, m.memory(), to, len);
            m.wroteHost(to, len);
            g[6] += len;
            g[7] += len;
            g[1] = count - n;
            done += n;
            if (g[1] == 0) {
                return true;
            }
            if (done >= CHUNK) {
                ip().next = s.rip; // resumed by re-executing the instruction, as the element loop does
                return true;
            }
        }
    }

    /** REP STOS by runs, as {@link #movsRuns}. */
    private boolean stosRuns(Insn in, int size) {
        long done = 0;
        long v = g[0] & Interpreter.mask(size);
        while (true) {
            long count = g[1];
            long dst = dst(in);
            long n = Math.min(Math.min(count, CHUNK - done), toPageEnd(dst, size));
            if (n <= 0) {
                return false;
            }
            int len = (int) (n * size);
            long to = m.hostOffsetForWrite(dst, len);
            if (to < 0) {
                return false;
            }
            java.lang.foreign.MemorySegment run = m.memory().asSlice(to, len);
            if (size == 1 || v == 0 || v == Interpreter.mask(size)) {
                run.fill((byte) v);
            } else {
                for (long i = 0; i < len; i += size) {
                    m.putHost(to + i, size, v);
                }
            }
            m.wroteHost(to, len);
            g[7] += len;
            g[1] = count - n;
            done += n;
            if (g[1] == 0) {
                return true;
            }
            if (done >= CHUNK) {
                ip().next = s.rip;
                return true;
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
