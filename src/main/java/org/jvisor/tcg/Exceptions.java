package org.jvisor.tcg;

import org.jvisor.cpu.SegmentRegister;
import org.jvisor.cpu.X86State;

/**
 * Delivers exceptions and interrupts (SDM vol. 3, chapter 6): 16-byte IDT gates in IA-32e mode
 * with IST and TSS stack switching on a privilege change (6.14), the real-mode IVT, and the
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
            throw new IllegalStateException("tcg: protected-mode (non-IA-32e) interrupt delivery is not implemented");
        }
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
