package org.jvisor.tcg;

import org.jvisor.cpu.SegmentRegister;
import org.jvisor.cpu.X86State;

/**
 * Delivers exceptions and interrupts (SDM vol. 3, chapter 6): 16-byte IDT gates in IA-32e mode
 * with IST and TSS stack switching on a privilege change (6.14), 8-byte 16- and 32-bit interrupt
 * and trap gates in protected mode with the TSS stack switch (6.12; task gates and virtual-8086
 * mode are not implemented and raise #GP), the real-mode IVT, and the
 * contributory/benign rules that turn nested faults into #DF and then a triple fault (6.15, table
 * 6-5).
 */
final class Exceptions {
    /** Event kinds: a fault or trap raised by the CPU, an external interrupt, INT n/INT3/INTO, INT1. */
    static final int HARDWARE = 0, EXTERNAL = 1, SOFTWARE = 2, PRIVILEGED_SOFT = 3;

    private final TcgCpu cpu;
    private final X86State s;
    private final Mmu m;
    private final int[] chain = new int[12];
    private int chainLen;

    Exceptions(TcgCpu cpu) {
        this.cpu = cpu;
        this.s = cpu.s;
        this.m = cpu.mmu;
    }

    private static boolean contributory(int v) {
        return v == CpuFault.DE || (v >= CpuFault.TS && v <= CpuFault.GP);
    }

    /** Delivers a fault raised by an instruction at s.rip, escalating nested faults. */
    void deliverFault(CpuFault f) {
        chainLen = 0;
        CpuFault cur = f;
        while (true) {
            if (chainLen < chain.length) {
                chain[chainLen] = cur.vector();
            }
            chainLen++;
            if (cur.vector() == CpuFault.PF) {
                s.cr2 = cur.address();
            }
            try {
                deliverEvent(cur.vector(), cur.errorCode(), cur.hasErrorCode(), HARDWARE, s.rip);
                return;
            } catch (CpuFault second) {
                int v1 = cur.vector();
                int v2 = second.vector();
                if (v1 == CpuFault.DF || chainLen >= chain.length) {
                    if (chainLen < chain.length) {
                        chain[chainLen] = v2;
                    }
                    chainLen++;
                    throw new TripleFaultException(describe());
                }
                if ((contributory(v1) && contributory(v2)) || (v1 == CpuFault.PF && (v2 == CpuFault.PF || contributory(v2)))) {
                    cur = CpuFault.withCode(CpuFault.DF, 0);
                } else {
                    cur = second;
                }
            }
        }
    }

    private String describe() {
        StringBuilder b = new StringBuilder("triple fault: ");
        for (int i = 0; i < Math.min(chainLen, chain.length); i++) {
            if (i > 0) {
                b.append(" -> ");
            }
            b.append('#').append(chain[i]);
        }
        b.append(String.format(" at RIP=%#x CS=%#x CR2=%#x", s.rip, s.cs.selector, s.cr2));
        return b.toString();
    }

    /** Delivers an interrupt or exception whose return address is {@code returnRip}. */
    void deliverEvent(int vector, int errorCode, boolean hasError, int kind, long returnRip) {
        if (s.longMode()) {
            deliverLong(vector, errorCode, hasError, kind, returnRip);
        } else if ((s.cr0 & X86State.CR0_PE) == 0) {
            deliverReal(vector, returnRip);
        } else {
            deliverProtected(vector, errorCode, hasError, kind, returnRip);
        }
    }

    /**
     * Protected mode (SDM vol. 3, 6.12.1): an 8-byte interrupt or trap gate (16- or 32-bit) to a
     * code segment; a non-conforming segment of a more privileged level switches to the stack the
     * TSS holds for it (SS:ESP of the old stack pushed first), then EFLAGS, CS, EIP and the error
     * code are pushed in the gate's size.
     */
    private void deliverProtected(int vector, int errorCode, boolean hasError, int kind, long returnRip) {
        int ext = kind == HARDWARE || kind == EXTERNAL ? 1 : 0;
        int idtErr = (vector << 3) | 2 | ext;
        if ((long) vector * 8 + 7 > (s.idtr.limit & 0xFFFFL)) {
            throw CpuFault.withCode(CpuFault.GP, idtErr);
        }
        long gate = m.readSys(s.idtr.base + vector * 8L, 8);
        int type = (int) (gate >>> 40) & 0x1F; // with the S bit, which must be clear
        boolean gate32 = type == 0xE || type == 0xF;
        if (!gate32 && type != 0x6 && type != 0x7) { // a task gate (5) or no gate
            throw CpuFault.withCode(CpuFault.GP, idtErr);
        }
        int cpl = s.cpl();
        if (kind == SOFTWARE && ((gate >>> 45) & 3) < cpl) {
            throw CpuFault.withCode(CpuFault.GP, idtErr);
        }
        if (((gate >>> 47) & 1) == 0) {
            throw CpuFault.withCode(CpuFault.NP, idtErr);
        }
        if ((s.rflags & X86State.VM) != 0) {
            throw CpuFault.withCode(CpuFault.GP, ext); // virtual-8086 mode is not implemented
        }
        int sel = (int) (gate >>> 16) & 0xFFFF;
        long target = (gate & 0xFFFF) | (gate32 ? (gate >>> 32) & 0xFFFF_0000L : 0);
        if ((sel & 0xFFFC) == 0) {
            throw CpuFault.withCode(CpuFault.GP, ext);
        }
        long desc = cpu.sys.readDescriptor(sel, ext);
        int dtype = (int) (desc >>> 40) & 0xF;
        int ddpl = (int) (desc >>> 45) & 3;
        boolean code = ((desc >>> 44) & 1) != 0 && (dtype & 8) != 0;
        if (!code || ddpl > cpl) {
            throw CpuFault.withCode(CpuFault.GP, (sel & 0xFFFC) | ext);
        }
        if (((desc >>> 47) & 1) == 0) {
            throw CpuFault.withCode(CpuFault.NP, (sel & 0xFFFC) | ext);
        }
        int newCpl = (dtype & 4) != 0 ? cpl : ddpl;
        boolean outer = newCpl < cpl;
        long fl = cpu.flags.materialize();
        long[] frame = this.frame;
        int n = 0;
        // the new stack: the TSS's for the new level, or the current one
        long ssDesc = 0;
        int newSs = s.ss.selector;
        long sp = s.gpr[4];
        long ssBase = s.ss.base;
        boolean ss32 = s.ss.db;
        if (outer) {
            boolean tss32 = (s.tr.type & 8) != 0;
            long at = s.tr.base + (tss32 ? 4 + newCpl * 8L : 2 + newCpl * 4L);
            sp = m.readSys(at, tss32 ? 4 : 2);
            newSs = (int) m.readSys(at + (tss32 ? 4 : 2), 2);
            ssDesc = stackSegment(newSs, newCpl, ext);
            ssBase = ((ssDesc >>> 16) & 0xFF_FFFFL) | ((ssDesc >>> 32) & 0xFF00_0000L);
            ss32 = ((ssDesc >>> 54) & 1) != 0;
            frame[n++] = s.ss.selector;
            frame[n++] = s.gpr[4];
        }
        frame[n++] = fl;
        frame[n++] = s.cs.selector;
        frame[n++] = returnRip;
        if (hasError) {
            frame[n++] = errorCode & 0xFFFF_FFFFL;
        }
        int size = gate32 ? 4 : 2;
        long spMask = ss32 ? 0xFFFF_FFFFL : 0xFFFF;
        long esp = sp;
        for (int i = 0; i < n; i++) {
            esp -= size;
            long lin = (ssBase + (esp & spMask)) & 0xFFFF_FFFFL;
            if (newCpl == 3) {
                m.write(lin, size, frame[i]);
            } else {
                m.writeSys(lin, size, frame[i]);
            }
        }
        // commit
        s.cs.loadDescriptor((sel & 0xFFFC) | newCpl, desc);
        if (outer) {
            s.ss.loadDescriptor((newSs & 0xFFFC) | newCpl, ssDesc | (1L << 40));
        }
        long keep = ss32 || outer ? 0 : s.gpr[4] & 0xFFFF_0000L; // a 16-bit stack changes SP only
        s.gpr[4] = keep | (esp & spMask);
        s.rip = target;
        long clear = X86State.TF | X86State.NT | X86State.RF | X86State.VM;
        if ((type & 1) == 0) { // interrupt gate
            clear |= X86State.IF;
        }
        s.rflags = fl & ~clear;
        cpu.updateMode();
        cpu.endChunk = true;
    }

    /** The stack segment named by the TSS for a privilege change, with its checks (#TS, #SS). */
    private long stackSegment(int sel, int newCpl, int ext) {
        if ((sel & 0xFFFC) == 0) {
            throw CpuFault.withCode(CpuFault.TS, ext);
        }
        long d;
        try {
            d = cpu.sys.readDescriptor(sel, ext);
        } catch (CpuFault f) {
            throw CpuFault.withCode(CpuFault.TS, (sel & 0xFFFC) | ext);
        }
        int type = (int) (d >>> 40) & 0xF;
        boolean writableData = ((d >>> 44) & 1) != 0 && (type & 8) == 0 && (type & 2) != 0;
        if ((sel & 3) != newCpl || ((d >>> 45) & 3) != newCpl || !writableData) {
            throw CpuFault.withCode(CpuFault.TS, (sel & 0xFFFC) | ext);
        }
        if (((d >>> 47) & 1) == 0) {
            throw CpuFault.withCode(CpuFault.SS, (sel & 0xFFFC) | ext);
        }
        return d;
    }

    private void deliverLong(int vector, int errorCode, boolean hasError, int kind, long returnRip) {
        int ext = kind == HARDWARE || kind == EXTERNAL ? 1 : 0;
        int idtErr = (vector << 3) | 2 | ext;
        if ((long) vector * 16 + 15 > (s.idtr.limit & 0xFFFFL)) {
            throw CpuFault.withCode(CpuFault.GP, idtErr);
        }
        long gateAddr = s.idtr.base + vector * 16L;
        long lo = m.readSys(gateAddr, 8);
        long hi = m.readSys(gateAddr + 8, 8);
        int type = (int) (lo >>> 40) & 0xF;
        if (type != 0xE && type != 0xF) {
            throw CpuFault.withCode(CpuFault.GP, idtErr);
        }
        int cpl = s.cpl();
        int gateDpl = (int) (lo >>> 45) & 3;
        if (kind == SOFTWARE && gateDpl < cpl) {
            throw CpuFault.withCode(CpuFault.GP, idtErr);
        }
        if (((lo >>> 47) & 1) == 0) {
            throw CpuFault.withCode(CpuFault.NP, idtErr);
        }
        int sel = (int) (lo >>> 16) & 0xFFFF;
        long target = (lo & 0xFFFF) | ((lo >>> 32) & 0xFFFF_0000L) | (hi << 32);
        int ist = (int) (lo >>> 32) & 7;
        if ((sel & 0xFFFC) == 0) {
            throw CpuFault.withCode(CpuFault.GP, ext);
        }
        long desc = cpu.sys.readDescriptor(sel, ext);
        int dtype = (int) (desc >>> 40) & 0xF;
        int ddpl = (int) (desc >>> 45) & 3;
        boolean code = ((desc >>> 44) & 1) != 0 && (dtype & 8) != 0;
        boolean l = ((desc >>> 53) & 1) != 0;
        boolean d = ((desc >>> 54) & 1) != 0;
        if (!code || !l || d || ddpl > cpl) {
            throw CpuFault.withCode(CpuFault.GP, (sel & 0xFFFC) | ext);
        }
        if (((desc >>> 47) & 1) == 0) {
            throw CpuFault.withCode(CpuFault.NP, (sel & 0xFFFC) | ext);
        }
        boolean conforming = (dtype & 4) != 0;
        int newCpl = conforming ? cpl : ddpl;
        long rsp = s.gpr[4];
        boolean outer = newCpl < cpl;
        if (ist != 0) {
            rsp = m.readSys(s.tr.base + 0x24 + (ist - 1) * 8L, 8);
        } else if (outer) {
            rsp = m.readSys(s.tr.base + 4 + newCpl * 8L, 8);
        }
        if (cpu.mode != 64 && !outer && ist == 0) {
            rsp &= 0xFFFF_FFFFL;
        }
        rsp &= ~0xFL;
        long fl = cpu.flags.materialize();
        long[] frame = this.frame;
        int n = 0;
        frame[n++] = s.ss.selector;
        frame[n++] = s.gpr[4];
        frame[n++] = fl;
        frame[n++] = s.cs.selector;
        frame[n++] = returnRip;
        if (hasError) {
            frame[n++] = errorCode & 0xFFFF_FFFFL;
        }
        long sp = rsp;
        for (int i = 0; i < n; i++) {
            sp -= 8;
            if (newCpl == 3) {
                m.write(sp, 8, frame[i]);
            } else {
                m.writeSys(sp, 8, frame[i]);
            }
        }
        // commit
        s.cs.loadDescriptor((sel & 0xFFFC) | newCpl, desc);
        if (outer) {
            loadNullSs(s.ss, newCpl);
        }
        s.gpr[4] = sp;
        s.rip = target;
        long clear = X86State.TF | X86State.NT | X86State.RF | X86State.VM;
        if (type == 0xE) {
            clear |= X86State.IF;
        }
        s.rflags = fl & ~clear;
        cpu.updateMode();
        cpu.endChunk = true;
    }

    private final long[] frame = new long[6];

    /** SS after a privilege change in IA-32e mode: a null selector whose RPL is the new CPL. */
    static void loadNullSs(SegmentRegister ss, int cpl) {
        ss.set(cpl, 0, 0, 0, false, cpl, false, false, false, false);
    }

    /** Real mode: the IVT at IDTR.base, FLAGS/CS/IP pushed (SDM vol. 3, 20.1.4). */
    private void deliverReal(int vector, long returnRip) {
        if (vector * 4L + 3 > (s.idtr.limit & 0xFFFFL)) {
            throw CpuFault.gp0();
        }
        long ent = m.readSys(s.idtr.base + vector * 4L, 4);
        long fl = cpu.flags.materialize();
        long sp = s.gpr[4] & 0xFFFF;
        long ssb = s.ss.base;
        sp = (sp - 2) & 0xFFFF;
        m.writeSys(ssb + sp, 2, fl);
        sp = (sp - 2) & 0xFFFF;
        m.writeSys(ssb + sp, 2, s.cs.selector);
        sp = (sp - 2) & 0xFFFF;
        m.writeSys(ssb + sp, 2, returnRip);
        s.gpr[4] = (s.gpr[4] & ~0xFFFFL) | sp;
        int sel = (int) (ent >>> 16) & 0xFFFF;
        s.cs.selector = sel;
        s.cs.base = (long) sel << 4;
        s.rip = ent & 0xFFFF;
        s.rflags = fl & ~(X86State.IF | X86State.TF | X86State.AC | X86State.RF);
        cpu.updateMode();
        cpu.endChunk = true;
    }
}
