package org.jvisor.tcg;

import java.lang.invoke.VarHandle;
import org.jvisor.cpu.CpuidEntry;
import org.jvisor.cpu.SegmentRegister;
import org.jvisor.cpu.X86State;

/**
 * System instructions (SDM vol. 2 and vol. 3): control and debug registers, MSRs, descriptor
 * tables, segment loads with their checks, far transfers, IRET, SYSCALL/SYSRET, SYSENTER/SYSEXIT,
 * SWAPGS, CPUID, RDTSC(P), I/O permission checks and the 0F AE group.
 */
final class SystemOps {
    private final TcgCpu cpu;
    private final X86State s;
    private final long[] g;
    private final Mmu m;

    SystemOps(TcgCpu cpu) {
        this.cpu = cpu;
        this.s = cpu.s;
        this.g = cpu.s.gpr;
        this.m = cpu.mmu;
    }

    private Interpreter ip() {
        return cpu.interp;
    }

    SegmentRegister segment(int idx) {
        return switch (idx) {
            case Insn.ES -> s.es;
            case Insn.CS -> s.cs;
            case Insn.SS -> s.ss;
            case Insn.DS -> s.ds;
            case Insn.FS -> s.fs;
            case Insn.GS -> s.gs;
            default -> throw CpuFault.ud();
        };
    }

    void requireCpl0() {
        if (s.cpl() != 0) {
            throw CpuFault.gp0();
        }
    }

    private int iopl() {
        return (int) ((s.rflags & X86State.IOPL) >>> 12);
    }

    void checkIopl() {
        if ((s.cr0 & X86State.CR0_PE) != 0 && s.cpl() > iopl()) {
            throw CpuFault.gp0();
        }
    }

    /** I/O permission: CPL <= IOPL, or the TSS I/O bitmap allows every byte (SDM vol. 1, 19.5). */
    void checkIo(int port, int size) {
        if ((s.cr0 & X86State.CR0_PE) == 0 || s.cpl() <= iopl()) {
            return;
        }
        long limit = s.tr.limit & 0xFFFF_FFFFL;
        if (limit < 0x67) {
            throw CpuFault.gp0();
        }
        long mapBase = m.readSys(s.tr.base + 0x66, 2);
        long byteOff = mapBase + (port >>> 3);
        if (byteOff + 1 > limit) {
            throw CpuFault.gp0();
        }
        long bits = m.readSys(s.tr.base + byteOff, 2);
        long want = ((1L << size) - 1) << (port & 7);
        if ((bits & want) != 0) {
            throw CpuFault.gp0();
        }
    }

    // ---- descriptors and segment loads (SDM vol. 3, 3.4 and 5.5-5.8) ----

    long readDescriptor(int sel, int ext) {
        boolean ldt = (sel & 4) != 0;
        long base = ldt ? s.ldtr.base : s.gdtr.base;
        long limit = ldt ? s.ldtr.limit & 0xFFFF_FFFFL : s.gdtr.limit & 0xFFFFL;
        if ((ldt && s.ldtr.unusable) || (sel | 7) > limit) {
            throw CpuFault.withCode(CpuFault.GP, (sel & 0xFFFC) | ext);
        }
        return m.readSys(base + (sel & ~7), 8);
    }

    private void setAccessed(int sel, long desc) {
        if ((desc & (1L << 40)) == 0) {
            long base = (sel & 4) != 0 ? s.ldtr.base : s.gdtr.base;
            m.writeSys(base + (sel & ~7) + 5, 1, (desc >>> 40) | 1);
        }
    }

    /** MOV/POP to DS, ES, FS, GS or SS. */
    void loadDataSegment(int idx, int sel) {
        sel &= 0xFFFF;
        SegmentRegister sr = segment(idx);
        if ((s.cr0 & X86State.CR0_PE) == 0) { // real mode: base = selector * 16 (SDM vol. 3, 20.1.1)
            sr.selector = sel;
            sr.base = (long) sel << 4;
            return;
        }
        int cpl = s.cpl();
        if ((sel & 0xFFFC) == 0) {
            if (idx == Insn.SS && (cpu.mode != 64 || cpl == 3 || (sel & 3) != cpl)) {
                throw CpuFault.gp0();
            }
            if (idx == Insn.SS) {
                Exceptions.loadNullSs(sr, cpl);
                return;
            }
            sr.selector = sel;
            sr.base = 0;
            sr.limit = 0;
            sr.type = 0;
            sr.s = false;
            sr.present = false;
            sr.unusable = true;
            return;
        }
        long d = readDescriptor(sel, 0);
        int type = (int) (d >>> 40) & 0xF;
        boolean sBit = ((d >>> 44) & 1) != 0;
        int dpl = (int) (d >>> 45) & 3;
        int rpl = sel & 3;
        boolean present = ((d >>> 47) & 1) != 0;
        boolean code = (type & 8) != 0;
        if (idx == Insn.SS) {
            if (rpl != cpl || !sBit || code || (type & 2) == 0 || dpl != cpl) {
                throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
            }
            if (!present) {
                throw CpuFault.withCode(CpuFault.SS, sel & 0xFFFC);
            }
        } else {
            if (!sBit || (code && (type & 2) == 0)) {
                throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
            }
            boolean conforming = code && (type & 4) != 0;
            if (!conforming && (rpl > dpl || cpl > dpl)) {
                throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
            }
            if (!present) {
                throw CpuFault.withCode(CpuFault.NP, sel & 0xFFFC);
            }
        }
        setAccessed(sel, d);
        sr.loadDescriptor(sel, d | (1L << 40));
    }

    /** Checks a code-segment descriptor for a direct far JMP/CALL (SDM vol. 3, 5.8.1). */
    private long codeDescriptor(int sel) {
        if ((sel & 0xFFFC) == 0) {
            throw CpuFault.gp0();
        }
        long d = readDescriptor(sel, 0);
        int type = (int) (d >>> 40) & 0xF;
        boolean sBit = ((d >>> 44) & 1) != 0;
        int dpl = (int) (d >>> 45) & 3;
        int cpl = s.cpl();
        if (!sBit || (type & 8) == 0) {
            throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC); // call gates and TSS are not supported
        }
        boolean conforming = (type & 4) != 0;
        if (conforming ? dpl > cpl : (dpl != cpl || (sel & 3) > cpl)) {
            throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
        }
        if (((d >>> 47) & 1) == 0) {
            throw CpuFault.withCode(CpuFault.NP, sel & 0xFFFC);
        }
        return d;
    }

    private void loadCs(int sel, long d) {
        setAccessed(sel, d);
        s.cs.loadDescriptor(sel, d | (1L << 40));
        cpu.updateMode();
        cpu.endChunk = true;
    }

    private long targetIp(long off) {
        return cpu.mode == 64 ? off : cpu.mode == 32 ? off & 0xFFFF_FFFFL : off & 0xFFFF;
    }

    /** Real-mode far transfer: CS is just selector and base. */
    private boolean realModeCs(int sel, long off) {
        if ((s.cr0 & X86State.CR0_PE) != 0) {
            return false;
        }
        s.cs.selector = sel & 0xFFFF;
        s.cs.base = (long) (sel & 0xFFFF) << 4;
        cpu.updateMode();
        cpu.endChunk = true;
        ip().next = off & 0xFFFF_FFFFL;
        return true;
    }

    void farJump(Insn in, int sel, long off) {
        if (realModeCs(sel, off)) {
            return;
        }
        long d = codeDescriptor(sel);
        loadCs((sel & 0xFFFC) | s.cpl(), d);
        ip().next = targetIp(off);
    }

    void farCall(Insn in, int sel, long off) {
        int osz = in.osz;
        if ((s.cr0 & X86State.CR0_PE) == 0) {
            long sp0 = g[4];
            ip().push(s.cs.selector, osz);
            try {
                ip().push(ip().next, osz);
            } catch (CpuFault e) {
                g[4] = sp0;
                throw e;
            }
            realModeCs(sel, off);
            return;
        }
        long d = codeDescriptor(sel);
        long sp = g[4];
        Interpreter ip = ip();
        ip.push(s.cs.selector, osz);
        try {
            ip.push(ip.next, osz);
        } catch (CpuFault e) {
            g[4] = sp;
            throw e;
        }
        loadCs((sel & 0xFFFC) | s.cpl(), d);
        ip.next = targetIp(off);
    }

    /** RETF (SDM vol. 2, RET, far return). */
    void farReturn(Insn in, int popBytes) {
        Interpreter ip = ip();
        int osz = in.osz;
        long sp = g[4];
        long off = m.read(ip.stackLin(sp), osz);
        int sel = (int) m.read(ip.stackLin(sp + osz), osz) & 0xFFFF;
        if ((s.cr0 & X86State.CR0_PE) == 0) {
            ip.setSp(sp + 2L * osz + popBytes);
            realModeCs(sel, off);
            return;
        }
        int cpl = s.cpl();
        int rpl = sel & 3;
        if (rpl < cpl || (sel & 0xFFFC) == 0) {
            throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
        }
        long d = readDescriptor(sel, 0);
        checkReturnCode(sel, d);
        sp += 2L * osz + popBytes;
        if (rpl > cpl) {
            long nsp = m.read(ip.stackLin(sp), osz);
            int ss = (int) m.read(ip.stackLin(sp + osz), osz) & 0xFFFF;
            loadCs(sel, d);
            loadSsForReturn(ss, rpl);
            g[4] = nsp + popBytes;
            nullifyDataSegments(rpl);
        } else {
            loadCs(sel, d);
            ip.setSp(sp);
        }
        ip.next = targetIp(off);
    }

    private void checkReturnCode(int sel, long d) {
        int type = (int) (d >>> 40) & 0xF;
        int dpl = (int) (d >>> 45) & 3;
        boolean sBit = ((d >>> 44) & 1) != 0;
        int rpl = sel & 3;
        if (!sBit || (type & 8) == 0) {
            throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
        }
        boolean conforming = (type & 4) != 0;
        if (conforming ? dpl > rpl : dpl != rpl) {
            throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
        }
        if (((d >>> 47) & 1) == 0) {
            throw CpuFault.withCode(CpuFault.NP, sel & 0xFFFC);
        }
    }

    private void loadSsForReturn(int ss, int newCpl) {
        if ((ss & 0xFFFC) == 0) {
            if (!s.cs.l || newCpl == 3 || !s.longMode()) {
                throw CpuFault.gp0();
            }
            Exceptions.loadNullSs(s.ss, newCpl);
            s.ss.selector = ss;
            return;
        }
        long d = readDescriptor(ss, 0);
        int type = (int) (d >>> 40) & 0xF;
        int dpl = (int) (d >>> 45) & 3;
        boolean sBit = ((d >>> 44) & 1) != 0;
        if ((ss & 3) != newCpl || !sBit || (type & 8) != 0 || (type & 2) == 0 || dpl != newCpl) {
            throw CpuFault.withCode(CpuFault.GP, ss & 0xFFFC);
        }
        if (((d >>> 47) & 1) == 0) {
            throw CpuFault.withCode(CpuFault.SS, ss & 0xFFFC);
        }
        setAccessed(ss, d);
        s.ss.loadDescriptor(ss, d | (1L << 40));
    }

    /** After a return to an outer level, data segments the new CPL may not use become null. */
    private void nullifyDataSegments(int newCpl) {
        for (SegmentRegister sr : new SegmentRegister[] {s.es, s.ds, s.fs, s.gs}) {
            boolean conformingCode = (sr.type & 8) != 0 && (sr.type & 4) != 0;
            if (!sr.unusable && sr.s && !conformingCode && sr.dpl < newCpl) {
                sr.selector = 0;
                sr.unusable = true;
                sr.present = false;
                if (sr != s.fs && sr != s.gs) {
                    sr.base = 0;
                }
            }
        }
    }

    /** IRET/IRETD/IRETQ in IA-32e, protected and real mode (SDM vol. 2, IRET). */
    void iret(Insn in) {
        cpu.nmiBlocked = false;
        Interpreter ip = ip();
        int osz = in.osz;
        long fl = cpu.flags.materialize();
        if ((s.cr0 & X86State.CR0_PE) == 0) {
            long sp = g[4];
            long nip = m.read(ip.stackLin(sp), osz);
            int sel = (int) m.read(ip.stackLin(sp + osz), osz) & 0xFFFF;
            long nfl = m.read(ip.stackLin(sp + 2L * osz), osz);
            ip.setSp(sp + 3L * osz);
            s.cs.selector = sel;
            s.cs.base = (long) sel << 4;
            long keep = osz == 2 ? ~0xFFFFL : X86State.VM | X86State.VIF | X86State.VIP;
            s.rflags = (fl & keep) | (nfl & ~keep & 0x3F7FD7L) | X86State.FIXED1;
            ip.next = nip;
            cpu.updateMode();
            cpu.endChunk = true;
            return;
        }
        if ((fl & X86State.NT) != 0) {
            if (!s.longMode()) {
                throw cpu.unimplemented(in); // a task return (hardware task switching is not implemented)
            }
            throw CpuFault.gp0(); // task return is not available in IA-32e mode
        }
        long sp = g[4];
        long nip = m.read(ip.stackLin(sp), osz);
        int sel = (int) m.read(ip.stackLin(sp + osz), osz) & 0xFFFF;
        long nfl = m.read(ip.stackLin(sp + 2L * osz), osz);
        int cpl = s.cpl();
        if (!s.longMode() && cpl == 0 && osz == 4 && (nfl & X86State.VM) != 0) {
            throw cpu.unimplemented(in); // a return to virtual-8086 mode
        }
        int rpl = sel & 3;
        if ((sel & 0xFFFC) == 0 || rpl < cpl) {
            throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
        }
        long d = readDescriptor(sel, 0);
        checkReturnCode(sel, d);
        boolean popStack = cpu.mode == 64 || rpl > cpl;
        long nsp = 0;
        int nss = 0;
        if (popStack) {
            nsp = m.read(ip.stackLin(sp + 3L * osz), osz);
            nss = (int) m.read(ip.stackLin(sp + 4L * osz), osz) & 0xFFFF;
        }
        // new flags (with the old CPL's privileges)
        long changeable = X86State.CF | X86State.PF | X86State.AF | X86State.ZF | X86State.SF | X86State.TF
            | X86State.DF | X86State.OF | X86State.NT | X86State.RF | X86State.AC | X86State.ID;
        if (cpl == 0) {
            changeable |= X86State.IOPL | X86State.IF | X86State.VIF | X86State.VIP;
        } else if (cpl <= iopl()) {
            changeable |= X86State.IF;
        }
        if (osz == 2) {
            changeable &= 0xFFFF;
        }
        long newFlags = (fl & ~changeable) | (nfl & changeable) | X86State.FIXED1;
        boolean target64 = ((d >>> 53) & 1) != 0;
        SegmentRegister savedCs = new SegmentRegister();
        savedCs.copyFrom(s.cs);
        loadCs(sel, d);
        if (popStack) {
            try {
                loadSsForReturn(nss, rpl);
            } catch (CpuFault e) {
                s.cs.copyFrom(savedCs);
                cpu.updateMode();
                throw e;
            }
            g[4] = target64 ? nsp : nsp & 0xFFFF_FFFFL;
        } else {
            ip.setSp(sp + 3L * osz);
        }
        if (rpl > cpl) {
            nullifyDataSegments(rpl);
        }
        s.rflags = newFlags;
        ip.next = target64 ? nip : nip & 0xFFFF_FFFFL;
    }

    // ---- fast system calls (SDM vol. 2, SYSCALL/SYSRET, SYSENTER/SYSEXIT) ----

    private static void flatCode(SegmentRegister sr, int sel, int dpl, boolean l) {
        sr.set(sel, 0, 0xFFFF_FFFF, 0xB, true, dpl, true, l, !l, true);
    }

    private static void flatData(SegmentRegister sr, int sel, int dpl) {
        sr.set(sel, 0, 0xFFFF_FFFF, 3, true, dpl, true, false, true, true);
    }

    private void syscall(Insn in) {
        if ((s.efer & X86State.EFER_SCE) == 0 || !s.longMode()) {
            throw CpuFault.ud();
        }
        long fl = cpu.flags.materialize();
        Interpreter ip = ip();
        g[1] = ip.next;
        g[11] = fl & ~X86State.RF;
        long target = cpu.mode == 64 ? s.lstar : s.cstar;
        int sel = (int) (s.star >>> 32) & 0xFFFC;
        flatCode(s.cs, sel, 0, true);
        flatData(s.ss, sel + 8, 0);
        s.rflags = (fl & ~s.sfmask & ~X86State.RF) | X86State.FIXED1;
        ip.next = target;
        cpu.updateMode();
        cpu.endChunk = true;
    }

    private void sysret(Insn in) {
        if ((s.efer & X86State.EFER_SCE) == 0 || !s.longMode() || cpu.mode != 64) {
            throw CpuFault.ud();
        }
        requireCpl0();
        int base = (int) (s.star >>> 48) & 0xFFFF;
        Interpreter ip = ip();
        if (in.osz == 8) {
            if ((g[1] << 16) >> 16 != g[1]) {
                throw CpuFault.gp0();
            }
            flatCode(s.cs, ((base + 16) & 0xFFFC) | 3, 3, true);
            ip.next = g[1];
        } else {
            flatCode(s.cs, (base & 0xFFFC) | 3, 3, false);
            ip.next = g[1] & 0xFFFF_FFFFL;
        }
        flatData(s.ss, ((base + 8) & 0xFFFC) | 3, 3);
        cpu.flags.clear();
        s.rflags = (g[11] & 0x3C_7FD7L) | X86State.FIXED1;
        cpu.updateMode();
        cpu.endChunk = true;
    }

    private void sysenter() {
        if ((s.cr0 & X86State.CR0_PE) == 0 || (s.sysenterCs & 0xFFFC) == 0) {
            throw CpuFault.gp0();
        }
        long fl = cpu.flags.materialize();
        int sel = (int) s.sysenterCs & 0xFFFC;
        boolean lm = s.longMode();
        flatCode(s.cs, sel, 0, lm);
        flatData(s.ss, sel + 8, 0);
        s.rflags = fl & ~(X86State.VM | X86State.IF | X86State.RF);
        g[4] = lm ? s.sysenterEsp : s.sysenterEsp & 0xFFFF_FFFFL;
        ip().next = lm ? s.sysenterEip : s.sysenterEip & 0xFFFF_FFFFL;
        cpu.updateMode();
        cpu.endChunk = true;
    }

    private void sysexit(Insn in) {
        if ((s.cr0 & X86State.CR0_PE) == 0 || (s.sysenterCs & 0xFFFC) == 0) {
            throw CpuFault.gp0();
        }
        requireCpl0();
        int base = (int) s.sysenterCs & 0xFFFC;
        if (in.osz == 8) {
            flatCode(s.cs, (base + 32) | 3, 3, true);
            flatData(s.ss, (base + 40) | 3, 3);
            g[4] = g[1];
            ip().next = g[2];
        } else {
            flatCode(s.cs, (base + 16) | 3, 3, false);
            flatData(s.ss, (base + 24) | 3, 3);
            g[4] = g[1] & 0xFFFF_FFFFL;
            ip().next = g[2] & 0xFFFF_FFFFL;
        }
        cpu.updateMode();
        cpu.endChunk = true;
    }

    // ---- the 0F map's system part ----

    void exec0F(Insn in, int op) {
        switch (op) {
            case 0x00 -> group6(in);
            case 0x02, 0x03 -> larLsl(in, op == 0x03);
            case 0x01 -> group7(in);
            case 0x05 -> syscall(in);
            case 0x06 -> {
                requireCpl0();
                s.cr0 &= ~X86State.CR0_TS;
            }
            case 0x07 -> sysret(in);
            case 0x08, 0x09 -> { // INVD, WBINVD: no caches to write back; serializing
                requireCpl0();
                cpu.serialize();
            }
            case 0x20 -> {
                requireCpl0();
                long v = readCr(in.reg);
                ip().setReg(in, in.rm, cpu.mode == 64 ? 8 : 4, v);
            }
            case 0x22 -> {
                requireCpl0();
                writeCr(in.reg, ip().reg(in, in.rm, cpu.mode == 64 ? 8 : 4));
            }
            case 0x21 -> {
                requireCpl0();
                ip().setReg(in, in.rm, cpu.mode == 64 ? 8 : 4, s.dr[drIndex(in.reg)]);
            }
            case 0x23 -> {
                requireCpl0();
                int i = drIndex(in.reg);
                long v = ip().reg(in, in.rm, cpu.mode == 64 ? 8 : 4);
                if ((i == 6 || i == 7) && (v >>> 32) != 0) {
                    throw CpuFault.gp0();
                }
                s.dr[i] = v;
                cpu.serialize();
            }
            case 0x30 -> {
                requireCpl0();
                cpu.msrs.write((int) g[1], (g[2] << 32) | (g[0] & 0xFFFF_FFFFL));
                cpu.endChunk = true;
            }
            case 0x31 -> {
                if ((s.cr4 & X86State.CR4_TSD) != 0 && s.cpl() != 0) {
                    throw CpuFault.gp0();
                }
                long t = cpu.msrs.tsc();
                g[0] = t & 0xFFFF_FFFFL;
                g[2] = t >>> 32;
            }
            case 0x32 -> {
                requireCpl0();
                long v = cpu.msrs.read((int) g[1]);
                g[0] = v & 0xFFFF_FFFFL;
                g[2] = v >>> 32;
            }
            case 0x33 -> throw CpuFault.gp0(); // RDPMC: no counters
            case 0x34 -> sysenter();
            case 0x35 -> sysexit(in);
            case 0xA0, 0xA8 -> ip().push(op == 0xA0 ? s.fs.selector : s.gs.selector, in.osz);
            case 0xA1, 0xA9 -> {
                Interpreter ip = ip();
                int sel = (int) m.read(ip.stackLin(g[4]), in.osz) & 0xFFFF;
                loadDataSegment(op == 0xA1 ? Insn.FS : Insn.GS, sel);
                ip.setSp(g[4] + in.osz);
            }
            case 0xA2 -> cpuid();
            case 0xAE -> group15(in);
            default -> throw cpu.unimplemented(in);
        }
    }

    private int drIndex(int reg) {
        if (reg > 7) {
            throw CpuFault.ud();
        }
        if (reg == 4 || reg == 5) {
            if ((s.cr4 & X86State.CR4_DE) != 0) {
                throw CpuFault.ud();
            }
            return reg + 2;
        }
        return reg;
    }

    private void cpuid() {
        cpu.serialize();
        CpuidEntry e = cpu.cpuid.lookup((int) g[0], (int) g[1]);
        int ebx = e.ebx();
        int ecx = e.ecx();
        if (e.function() == 1) {
            ebx = (ebx & 0x00FF_FFFF) | (cpu.apicId << 24); // initial APIC id of this vCPU
        }
        g[0] = e.eax() & 0xFFFF_FFFFL;
        g[3] = ebx & 0xFFFF_FFFFL;
        g[1] = ecx & 0xFFFF_FFFFL;
        g[2] = e.edx() & 0xFFFF_FFFFL;
    }

    long readCr(int cr) {
        return switch (cr) {
            case 0 -> s.cr0;
            case 2 -> s.cr2;
            case 3 -> s.cr3;
            case 4 -> s.cr4;
            case 8 -> cpu.irq.localApic() != null ? cpu.irq.localApic().cr8() : s.cr8;
            default -> throw CpuFault.ud();
        };
    }

    static final long CR4_SUPPORTED = X86State.CR4_DE | X86State.CR4_PSE | X86State.CR4_PAE | X86State.CR4_MCE
        | X86State.CR4_PGE | X86State.CR4_PCE | X86State.CR4_OSFXSR | X86State.CR4_OSXMMEXCPT | X86State.CR4_TSD
        | X86State.CR4_FSGSBASE;

    /** MOV to CR0/2/3/4/8 with the checks of SDM vol. 3, 2.5 and the TLB effects of 4.10.4. */
    void writeCr(int cr, long v) {
        switch (cr) {
            case 0 -> {
                if (cpu.mode != 64) {
                    v &= 0xFFFF_FFFFL;
                }
                if ((v >>> 32) != 0
                    || ((v & X86State.CR0_PG) != 0 && (v & X86State.CR0_PE) == 0)
                    || ((v & X86State.CR0_NW) != 0 && (v & X86State.CR0_CD) == 0)) {
                    throw CpuFault.gp0();
                }
                long old = s.cr0;
                boolean pgOn = (v & X86State.CR0_PG) != 0 && (old & X86State.CR0_PG) == 0;
                boolean pgOff = (v & X86State.CR0_PG) == 0 && (old & X86State.CR0_PG) != 0;
                if (pgOn && (s.efer & X86State.EFER_LME) != 0) {
                    if ((s.cr4 & X86State.CR4_PAE) == 0) {
                        throw CpuFault.gp0();
                    }
                    s.efer |= X86State.EFER_LMA;
                }
                if (pgOff && s.longMode()) {
                    if (cpu.mode == 64) {
                        throw CpuFault.gp0();
                    }
                    s.efer &= ~X86State.EFER_LMA;
                }
                s.cr0 = v | X86State.CR0_ET;
                if (((old ^ s.cr0) & (X86State.CR0_PG | X86State.CR0_WP | X86State.CR0_PE)) != 0) {
                    m.flushAll();
                }
                cpu.updateMode();
                cpu.endChunk = true;
            }
            case 2 -> {
                s.cr2 = v;
                cpu.serialize();
            }
            case 3 -> {
                if (s.longMode() && (v >>> Mmu.PHYS_BITS) != 0) {
                    throw CpuFault.gp0();
                }
                s.cr3 = s.longMode() ? v : v & 0xFFFF_FFFFL;
                m.flushNonGlobal();
                cpu.endChunk = true;
            }
            case 4 -> {
                if ((v & ~CR4_SUPPORTED) != 0 || (s.longMode() && (v & X86State.CR4_PAE) == 0)) {
                    throw CpuFault.gp0();
                }
                long old = s.cr4;
                s.cr4 = v;
                if (((old ^ v) & (X86State.CR4_PGE | X86State.CR4_PAE | X86State.CR4_PSE)) != 0) {
                    m.flushAll();
                }
                cpu.endChunk = true;
            }
            case 8 -> {
                if ((v & ~0xFL) != 0) {
                    throw CpuFault.gp0();
                }
                s.cr8 = v;
                if (cpu.irq.localApic() != null) {
                    cpu.irq.localApic().setCr8(v);
                }
                cpu.endChunk = true;
            }
            default -> throw CpuFault.ud();
        }
    }

    // ---- 0F 00 and 0F 01 ----

    private void group6(Insn in) {
        Interpreter ip = ip();
        int k = in.reg & 7;
        if ((s.cr0 & X86State.CR0_PE) == 0) {
            throw CpuFault.ud();
        }
        switch (k) {
            case 0, 1 -> {
                int sel = k == 0 ? s.ldtr.selector : s.tr.selector;
                if (in.mod == 3) {
                    ip.setReg(in, in.rm, in.osz, sel);
                } else {
                    m.write(ip.ea(in), 2, sel);
                }
            }
            case 2 -> {
                requireCpl0();
                lldt((int) ip.readE(in, 2));
                cpu.serialize();
            }
            case 3 -> {
                requireCpl0();
                ltr((int) ip.readE(in, 2));
                cpu.serialize();
            }
            case 4, 5 -> verify((int) ip.readE(in, 2), k == 5);
            default -> throw cpu.unimplemented(in);
        }
    }

    /** LAR / LSL (SDM vol. 2): access rights or scaled limit of a visible descriptor; ZF says whether it was. */
    private void larLsl(Insn in, boolean lsl) {
        if ((s.cr0 & X86State.CR0_PE) == 0) {
            throw CpuFault.ud();
        }
        Interpreter ip = ip();
        int sel = (int) ip.readE(in, 2) & 0xFFFF;
        boolean ok = false;
        long value = 0;
        if ((sel & 0xFFFC) != 0) {
            try {
                long d = readDescriptor(sel, 0);
                int type = (int) (d >>> 40) & 0xF;
                boolean sBit = ((d >>> 44) & 1) != 0;
                int dpl = (int) (d >>> 45) & 3;
                boolean conforming = sBit && (type & 0xC) == 0xC;
                boolean typeOk = sBit || (lsl ? type == 2 || type == 9 || type == 0xB
                    : type == 2 || type == 9 || type == 0xB || type == 0xC);
                boolean visible = conforming || (dpl >= s.cpl() && dpl >= (sel & 3));
                if (typeOk && visible) {
                    ok = true;
                    if (lsl) {
                        long lim = (d & 0xFFFF) | ((d >>> 32) & 0xF0000);
                        value = ((d >>> 55) & 1) != 0 ? (lim << 12) | 0xFFF : lim;
                    } else {
                        value = (d >>> 32) & 0x00F0_FF00L;
                    }
                }
            } catch (CpuFault e) {
                ok = false;
            }
        }
        if (ok) {
            ip.setReg(in, in.reg, in.osz == 2 ? 2 : 4, value);
        }
        long fl = cpu.flags.materialize();
        s.rflags = ok ? fl | X86State.ZF : fl & ~X86State.ZF;
    }

    private long systemDescriptorBase(int sel, long lo) {
        long base = ((lo >>> 16) & 0xFF_FFFFL) | (((lo >>> 56) & 0xFF) << 24);
        if (s.longMode()) {
            long hi = m.readSys(s.gdtr.base + (sel & ~7) + 8, 8);
            base |= (hi & 0xFFFF_FFFFL) << 32;
        }
        return base;
    }

    private void lldt(int sel) {
        if ((sel & 0xFFFC) == 0) {
            s.ldtr.selector = sel;
            s.ldtr.unusable = true;
            s.ldtr.present = false;
            return;
        }
        if ((sel & 4) != 0) {
            throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
        }
        long d = readDescriptor(sel, 0);
        if (((d >>> 44) & 1) != 0 || ((d >>> 40) & 0xF) != 2) {
            throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
        }
        if (((d >>> 47) & 1) == 0) {
            throw CpuFault.withCode(CpuFault.NP, sel & 0xFFFC);
        }
        long base = systemDescriptorBase(sel, d);
        s.ldtr.loadDescriptor(sel, d);
        s.ldtr.base = base;
    }

    private void ltr(int sel) {
        if ((sel & 0xFFFC) == 0 || (sel & 4) != 0) {
            throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
        }
        long d = readDescriptor(sel, 0);
        int type = (int) (d >>> 40) & 0xF;
        boolean ok = ((d >>> 44) & 1) == 0 && (s.longMode() ? type == 9 : type == 9 || type == 1);
        if (!ok) {
            throw CpuFault.withCode(CpuFault.GP, sel & 0xFFFC);
        }
        if (((d >>> 47) & 1) == 0) {
            throw CpuFault.withCode(CpuFault.NP, sel & 0xFFFC);
        }
        long base = systemDescriptorBase(sel, d);
        m.writeSys(s.gdtr.base + (sel & ~7) + 5, 1, ((d >>> 40) & 0xFF) | 2); // busy
        s.tr.loadDescriptor(sel, d | (2L << 40));
        s.tr.base = base;
    }

    private void verify(int sel, boolean write) {
        boolean ok = false;
        try {
            if ((sel & 0xFFFC) != 0) {
                long d = readDescriptor(sel, 0);
                int type = (int) (d >>> 40) & 0xF;
                int dpl = (int) (d >>> 45) & 3;
                boolean sBit = ((d >>> 44) & 1) != 0;
                boolean code = (type & 8) != 0;
                boolean conforming = code && (type & 4) != 0;
                boolean priv = conforming || (dpl >= s.cpl() && dpl >= (sel & 3));
                ok = sBit && priv && (write ? !code && (type & 2) != 0 : !code || (type & 2) != 0);
            }
        } catch (CpuFault e) {
            ok = false;
        }
        long fl = cpu.flags.materialize();
        s.rflags = ok ? fl | X86State.ZF : fl & ~X86State.ZF;
    }

    private void group7(Insn in) {
        Interpreter ip = ip();
        int k = in.reg & 7;
        if (in.mod == 3) {
            int sub = in.rm & 7;
            switch (k) {
                case 4 -> ip.setReg(in, in.rm, in.osz, s.cr0 & mask(in.osz));
                case 6 -> {
                    requireCpl0();
                    lmsw(ip.reg(in, in.rm, 2));
                }
                case 7 -> {
                    if (sub == 0) {
                        if (cpu.mode != 64) {
                            throw CpuFault.ud();
                        }
                        requireCpl0();
                        long t = s.gs.base;
                        s.gs.base = s.kernelGsBase;
                        s.kernelGsBase = t;
                    } else if (sub == 1) {
                        if ((s.cr4 & X86State.CR4_TSD) != 0 && s.cpl() != 0) {
                            throw CpuFault.gp0();
                        }
                        long t = cpu.msrs.tsc();
                        g[0] = t & 0xFFFF_FFFFL;
                        g[2] = t >>> 32;
                        g[1] = s.tscAux & 0xFFFF_FFFFL;
                    } else {
                        throw cpu.unimplemented(in);
                    }
                }
                default -> throw cpu.unimplemented(in); // MONITOR/MWAIT, XGETBV, VMX, CLAC/STAC: not advertised
            }
            return;
        }
        long a = ip.ea(in);
        int baseSize = cpu.mode == 64 ? 8 : 4;
        switch (k) {
            case 0, 1 -> {
                var t = k == 0 ? s.gdtr : s.idtr;
                m.write(a, 2, t.limit);
                m.write(ip.seg(in, ip.offset(in) + 2), baseSize, t.base);
            }
            case 2, 3 -> {
                requireCpl0();
                int limit = (int) m.read(a, 2);
                long base = m.read(ip.seg(in, ip.offset(in) + 2), baseSize);
                if (cpu.mode != 64 && in.osz == 2) {
                    base &= 0xFF_FFFF;
                }
                if (cpu.mode == 64 && (base << 16) >> 16 != base) {
                    throw CpuFault.gp0();
                }
                var t = k == 2 ? s.gdtr : s.idtr;
                t.base = base;
                t.limit = limit;
                cpu.serialize();
            }
            case 4 -> m.write(a, 2, s.cr0);
            case 6 -> {
                requireCpl0();
                lmsw(m.read(a, 2));
            }
            case 7 -> {
                requireCpl0();
                m.flushPage(a);
                cpu.endChunk = true;
            }
            default -> throw cpu.unimplemented(in);
        }
    }

    private static long mask(int size) {
        return Interpreter.mask(size);
    }

    private void lmsw(long v) {
        long bits = X86State.CR0_PE | X86State.CR0_MP | X86State.CR0_EM | X86State.CR0_TS;
        long nv = (s.cr0 & ~(bits & ~X86State.CR0_PE)) | (v & bits);
        writeCr(0, nv);
    }

    // ---- 0F AE ----

    private void group15(Insn in) {
        Interpreter ip = ip();
        int k = in.reg & 7;
        if (in.mod == 3) {
            if (in.rep == 0xF3 && k <= 3) {
                if (cpu.mode != 64 || (s.cr4 & X86State.CR4_FSGSBASE) == 0) {
                    throw CpuFault.ud();
                }
                int size = in.osz == 8 ? 8 : 4;
                switch (k) {
                    case 0 -> ip.setReg(in, in.rm, size, s.fs.base);
                    case 1 -> ip.setReg(in, in.rm, size, s.gs.base);
                    case 2 -> s.fs.base = canonical(ip.reg(in, in.rm, size));
                    default -> s.gs.base = canonical(ip.reg(in, in.rm, size));
                }
                return;
            }
            switch (k) {
                case 5 -> VarHandle.acquireFence();
                case 6 -> VarHandle.fullFence();
                case 7 -> VarHandle.releaseFence();
                default -> throw cpu.unimplemented(in);
            }
            return;
        }
        switch (k) {
            case 0 -> cpu.sse.fxsave(ip.ea(in), in.osz == 8);
            case 1 -> cpu.sse.fxrstor(ip.ea(in), in.osz == 8);
            case 2 -> cpu.sse.ldmxcsr(ip.ea(in));
            case 3 -> cpu.sse.stmxcsr(ip.ea(in));
            case 7 -> m.read(ip.ea(in), 1); // CLFLUSH: no caches, but the address must be valid
            default -> throw cpu.unimplemented(in); // XSAVE family: not advertised
        }
    }

    private static long canonical(long v) {
        if ((v << 16) >> 16 != v) {
            throw CpuFault.gp0();
        }
        return v;
    }
}
