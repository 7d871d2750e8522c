package org.jvisor.tcg;

import org.jvisor.cpu.X86State;

/**
 * MMX, SSE and SSE2 (SDM vol. 1, chapters 9-11; vol. 2 for each instruction; SSE3 and SSSE3 are
 * {@link Sse3Unit}'s) plus FXSAVE/FXRSTOR
 * and LDMXCSR/STMXCSR. Registers live in {@link X86State#xmm} (two longs per XMM register) and,
 * for MMX, in the x87 mantissas. Floating point follows MXCSR (rounding control, DAZ, FTZ, exception
 * flags and masks, #XM) through {@link SimdFloat}.
 */
final class SseUnit {
    private final TcgCpu cpu;
    private final X86State s;
    private final long[] x;
    private final Mmu m;
    // operand scratch: destination and source, 2 longs each
    private final long[] d = new long[2];
    private final long[] t = new long[2];
    private final long[] packOut = new long[2];
    final SimdFloat fp = new SimdFloat();
    private final Sse3Unit sse3;

    SseUnit(TcgCpu cpu) {
        this.cpu = cpu;
        this.s = cpu.s;
        this.x = cpu.s.xmm;
        this.m = cpu.mmu;
        this.sse3 = new Sse3Unit(this, cpu);
    }

    private Interpreter ip() {
        return cpu.interp;
    }

    /** #UD/#NM checks for SSE (SDM vol. 3, 13.2 and table 2-?). */
    void checkSse() {
        if ((s.cr0 & X86State.CR0_EM) != 0 || (s.cr4 & X86State.CR4_OSFXSR) == 0) {
            throw CpuFault.ud();
        }
        if ((s.cr0 & X86State.CR0_TS) != 0) {
            throw CpuFault.of(CpuFault.NM);
        }
    }

    /** #UD/#NM checks for MMX, then a pending unmasked x87 exception is #MF (SDM vol. 1, 9.5.1). */
    void checkMmx() {
        if ((s.cr0 & X86State.CR0_EM) != 0) {
            throw CpuFault.ud();
        }
        if ((s.cr0 & X86State.CR0_TS) != 0) {
            throw CpuFault.of(CpuFault.NM);
        }
        cpu.x87.checkPending();
    }

    // ---- operand access ----

    void loadXmm(int r, long[] into) {
        into[0] = x[2 * r];
        into[1] = x[2 * r + 1];
    }

    void storeXmm(int r, long[] from) {
        x[2 * r] = from[0];
        x[2 * r + 1] = from[1];
    }

    /** The r/m operand as 128 bits (memory: 16 bytes, checked for alignment when asked). */
    void src128(Insn in, long[] into, boolean aligned) {
        if (in.mod == 3) {
            loadXmm(in.rm, into);
            return;
        }
        long a = ip().ea(in);
        if (aligned && (a & 15) != 0) {
            throw CpuFault.gp0();
        }
        into[0] = m.read64(a);
        into[1] = m.read64(a + 8);
    }

    private void store128(Insn in, long[] v, boolean aligned) {
        if (in.mod == 3) {
            storeXmm(in.rm, v);
            return;
        }
        long a = ip().ea(in);
        if (aligned && (a & 15) != 0) {
            throw CpuFault.gp0();
        }
        long lo = v[0], hi = v[1];
        m.read64(a + 8); // fault on the second half before writing the first
        m.write64(a, lo);
        m.write64(a + 8, hi);
    }

    long src64(Insn in, boolean mmx) {
        if (in.mod == 3) {
            return mmx ? mm(in.rm & 7) : x[2 * in.rm];
        }
        return m.read64(ip().ea(in));
    }

    private long src32(Insn in) {
        if (in.mod == 3) {
            return x[2 * in.rm] & 0xFFFF_FFFFL;
        }
        return m.read(ip().ea(in), 4);
    }

    long mm(int i) {
        return s.fpMantissa[i];
    }

    void setMm(int i, long v) {
        s.fpMantissa[i] = v;
        s.fpExponent[i] = (short) 0xFFFF;
        s.ftw = 0xFF;
        s.fsw &= ~(7 << 11); // TOP = 0
    }

    /** SSSE3 opcodes of the 0F 38 and 0F 3A maps ({@code op} with its Insn.MAP_* bits); false if not one of ours. */
    boolean execMap3(Insn in, int op) {
        return sse3.execMap3(in, op);
    }

    /** Executes an SSE/MMX opcode of the 0F map; false if it is not one of ours. */
    boolean exec(Insn in, int op) {
        if ((in.rep != 0 && (op == 0x12 || op == 0x16)) || op == 0x7C || op == 0x7D || op == 0xD0 || op == 0xF0) {
            return sse3.exec0F(in, op);
        }
        boolean p66 = in.opsizePrefix && in.rep == 0;
        int rep = in.rep;
        boolean mmx = !in.opsizePrefix && rep == 0;
        switch (op) {
            case 0x10, 0x11 -> movups(in, op == 0x11, rep, p66);
            case 0x12, 0x13, 0x16, 0x17 -> movLowHigh(in, op);
            case 0x14, 0x15 -> unpckFloat(in, op == 0x15, p66);
            case 0x28, 0x29 -> {
                checkSse();
                if (op == 0x28) {
                    src128(in, t, true);
                    storeXmm(in.reg, t);
                } else {
                    loadXmm(in.reg, t);
                    store128(in, t, true);
                }
            }
            case 0x2A -> cvtToFloat(in, rep, p66);
            case 0x2B, 0xE7 -> {
                if (in.mod == 3 || rep != 0) {
                    throw CpuFault.ud();
                }
                if (op == 0xE7 && mmx) { // MOVNTQ m64, mm
                    checkMmx();
                    m.write64(ip().ea(in), mm(in.reg & 7));
                    break;
                }
                checkSse();
                loadXmm(in.reg, t);
                store128(in, t, true);
            }
            case 0x2C, 0x2D -> cvtToInt(in, rep, p66, op == 0x2C);
            case 0x2E, 0x2F -> comis(in, p66, op == 0x2F);
            case 0x50 -> {
                checkSse();
                long lo = x[2 * in.rm], hi = x[2 * in.rm + 1];
                long r = p66 ? ((lo >>> 63) | ((hi >>> 63) << 1))
                    : ((lo >>> 31) & 1) | ((lo >>> 62) & 2) | (((hi >>> 31) & 1) << 2) | (((hi >>> 63) & 1) << 3);
                ip().setReg(in, in.reg, 4, r);
            }
            case 0x51, 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F -> floatArith(in, op, rep, p66);
            case 0x54, 0x55, 0x56, 0x57 -> {
                checkSse();
                loadXmm(in.reg, d);
                src128(in, t, true);
                for (int i = 0; i < 2; i++) {
                    d[i] = switch (op) {
                        case 0x54 -> d[i] & t[i];
                        case 0x55 -> ~d[i] & t[i];
                        case 0x56 -> d[i] | t[i];
                        default -> d[i] ^ t[i];
                    };
                }
                storeXmm(in.reg, d);
            }
            case 0x5A -> cvtFloatWidth(in, rep, p66);
            case 0x5B -> cvtDq(in, rep, p66);
            case 0x6E -> {
                long v = in.mod == 3 ? ip().reg(in, in.rm, in.osz == 8 ? 8 : 4) : m.read(ip().ea(in), in.osz == 8 ? 8 : 4);
                if (mmx) {
                    checkMmx();
                    setMm(in.reg & 7, v);
                } else {
                    checkSse();
                    x[2 * in.reg] = v;
                    x[2 * in.reg + 1] = 0;
                }
            }
            case 0x7E -> {
                if (rep == 0xF3) { // movq xmm, xmm/m64
                    checkSse();
                    long v = src64(in, false);
                    x[2 * in.reg] = v;
                    x[2 * in.reg + 1] = 0;
                    break;
                }
                long v;
                if (mmx) {
                    checkMmx();
                    v = mm(in.reg & 7);
                } else {
                    checkSse();
                    v = x[2 * in.reg];
                }
                int size = in.osz == 8 ? 8 : 4;
                if (in.mod == 3) {
                    ip().setReg(in, in.rm, size, v);
                } else {
                    m.write(ip().ea(in), size, v);
                }
            }
            case 0x6F, 0x7F -> {
                if (mmx) {
                    checkMmx();
                    if (op == 0x6F) {
                        setMm(in.reg & 7, src64(in, true));
                    } else if (in.mod == 3) {
                        setMm(in.rm & 7, mm(in.reg & 7));
                    } else {
                        m.write64(ip().ea(in), mm(in.reg & 7));
                    }
                    break;
                }
                if (rep == 0xF2) {
                    return false;
                }
                checkSse();
                boolean aligned = rep != 0xF3;
                if (op == 0x6F) {
                    src128(in, t, aligned);
                    storeXmm(in.reg, t);
                } else {
                    loadXmm(in.reg, t);
                    store128(in, t, aligned);
                }
            }
            case 0x70 -> shuffle(in, rep, mmx);
            case 0x71, 0x72, 0x73 -> shiftImm(in, op, mmx);
            case 0x77 -> { // EMMS: every x87 register empty again (SDM vol. 2, EMMS)
                checkMmx();
                s.ftw = 0;
            }
            case 0xC2 -> cmpFloat(in, rep, p66);
            case 0xC3 -> {
                if (in.mod == 3) {
                    throw CpuFault.ud();
                }
                int size = in.osz == 8 ? 8 : 4;
                m.write(ip().ea(in), size, ip().reg(in, in.reg, size));
            }
            case 0xC4 -> { // PINSRW
                long v = in.mod == 3 ? ip().reg(in, in.rm, 4) : m.read(ip().ea(in), 2);
                v &= 0xFFFF;
                if (mmx) {
                    checkMmx();
                    int sh = (int) (in.imm & 3) * 16;
                    setMm(in.reg & 7, (mm(in.reg & 7) & ~(0xFFFFL << sh)) | (v << sh));
                } else {
                    checkSse();
                    int lane = (int) in.imm & 7;
                    int idx = 2 * in.reg + (lane >> 2);
                    int sh = (lane & 3) * 16;
                    x[idx] = (x[idx] & ~(0xFFFFL << sh)) | (v << sh);
                }
            }
            case 0xC5 -> { // PEXTRW
                long v;
                if (mmx) {
                    checkMmx();
                    v = mm(in.rm & 7) >>> ((in.imm & 3) * 16);
                } else {
                    checkSse();
                    int lane = (int) in.imm & 7;
                    v = x[2 * in.rm + (lane >> 2)] >>> ((lane & 3) * 16);
                }
                ip().setReg(in, in.reg, 4, v & 0xFFFF);
            }
            case 0xC6 -> shufFloat(in, p66);
            case 0xD6 -> {
                if (rep != 0) { // MOVQ2DQ xmm, mm (F3) / MOVDQ2Q mm, xmm (F2): registers only
                    checkSse();
                    if (in.mod != 3) {
                        throw CpuFault.ud();
                    }
                    if (rep == 0xF3) {
                        x[2 * in.reg] = mmxSource(in.rm & 7);
                        x[2 * in.reg + 1] = 0;
                    } else {
                        setMm(in.reg & 7, x[2 * in.rm]);
                    }
                    break;
                }
                if (!p66) {
                    return false;
                }
                checkSse();
                long v = x[2 * in.reg];
                if (in.mod == 3) {
                    x[2 * in.rm] = v;
                    x[2 * in.rm + 1] = 0;
                } else {
                    m.write64(ip().ea(in), v);
                }
            }
            case 0xD7 -> {
                long r = 0;
                if (mmx) {
                    checkMmx();
                    r = byteSigns(mm(in.rm & 7));
                } else {
                    checkSse();
                    r = byteSigns(x[2 * in.rm]) | byteSigns(x[2 * in.rm + 1]) << 8;
                }
                ip().setReg(in, in.reg, 4, r);
            }
            case 0xE6 -> cvtE6(in, rep, p66);
            case 0xF7 -> { // MASKMOVDQU / MASKMOVQ to [rDI]
                long di = in.asz == 8 ? s.gpr[7] : in.asz == 4 ? s.gpr[7] & 0xFFFF_FFFFL : s.gpr[7] & 0xFFFF;
                long base = ip().seg(in, di);
                int n = mmx ? 8 : 16;
                for (int i = 0; i < n; i++) {
                    long mask = mmx ? mm(in.rm & 7) : x[2 * in.rm + (i >> 3)];
                    long val = mmx ? mm(in.reg & 7) : x[2 * in.reg + (i >> 3)];
                    int sh = (i & 7) * 8;
                    if (((mask >>> sh) & 0x80) != 0) {
                        m.write(base + i, 1, val >>> sh);
                    }
                }
            }
            default -> {
                if (isPackedInt(op)) {
                    packedInt(in, op, mmx);
                    return true;
                }
                return false;
            }
        }
        return true;
    }

    private static long byteSigns(long v) {
        long r = 0;
        for (int i = 0; i < 8; i++) {
            r |= ((v >>> (8 * i + 7)) & 1) << i;
        }
        return r;
    }

    // ---- moves ----

    private void movups(Insn in, boolean store, int rep, boolean p66) {
        checkSse();
        if (rep == 0xF3 || rep == 0xF2) {
            boolean sd = rep == 0xF2;
            long lowMask = sd ? -1L : 0xFFFF_FFFFL;
            if (!store) {
                if (in.mod == 3) {
                    x[2 * in.reg] = (x[2 * in.reg] & ~lowMask) | (x[2 * in.rm] & lowMask);
                } else {
                    long v = sd ? m.read64(ip().ea(in)) : m.read(ip().ea(in), 4);
                    x[2 * in.reg] = v;
                    x[2 * in.reg + 1] = 0;
                }
            } else if (in.mod == 3) {
                x[2 * in.rm] = (x[2 * in.rm] & ~lowMask) | (x[2 * in.reg] & lowMask);
            } else if (sd) {
                m.write64(ip().ea(in), x[2 * in.reg]);
            } else {
                m.write(ip().ea(in), 4, x[2 * in.reg]);
            }
            return;
        }
        if (!store) {
            src128(in, t, false);
            storeXmm(in.reg, t);
        } else {
            loadXmm(in.reg, t);
            store128(in, t, false);
        }
    }

    /** MOVLPS/MOVLPD/MOVHLPS (12, 13) and MOVHPS/MOVHPD/MOVLHPS (16, 17). */
    private void movLowHigh(Insn in, int op) {
        checkSse();
        if (in.rep != 0) {
            throw CpuFault.ud();
        }
        boolean high = op >= 0x16;
        boolean store = (op & 1) != 0;
        if (store) {
            if (in.mod == 3) {
                throw CpuFault.ud();
            }
            m.write64(ip().ea(in), x[2 * in.reg + (high ? 1 : 0)]);
            return;
        }
        long v;
        if (in.mod == 3) {
            v = x[2 * in.rm + (high ? 0 : 1)]; // MOVLHPS takes the low half, MOVHLPS the high half
        } else {
            v = m.read64(ip().ea(in));
        }
        x[2 * in.reg + (high ? 1 : 0)] = v;
    }

    // ---- floating point (SDM vol. 1, 11.5; the IEEE arithmetic is SimdFloat's) ----

    /**
     * Ends a floating-point instruction whose results are computed but not stored: with every raised
     * exception masked its flags go to MXCSR and the caller stores. An unmasked one leaves the
     * destination unchanged, sets the flags (only the pre-computation ones when one of those is
     * unmasked) and raises #XM, or #UD when CR4.OSXMMEXCPT is clear (SDM vol. 1, 11.5.1-11.5.2).
     */
    void commit() {
        int unmasked = ~(s.mxcsr >>> SimdFloat.MASK_SHIFT) & 0x3F;
        int pre = fp.pre, all = pre | fp.post;
        if ((all & unmasked) != 0) {
            s.mxcsr |= (pre & unmasked) != 0 ? pre : all;
            throw (s.cr4 & X86State.CR4_OSXMMEXCPT) != 0 ? CpuFault.of(CpuFault.XM) : CpuFault.ud();
        }
        s.mxcsr |= all;
    }

    /** Two binary32 lanes of a 64-bit half. */
    private long arithF2(int op, long a, long b) {
        long lo = fp.arithF(op, (int) a, (int) b) & 0xFFFF_FFFFL;
        long hi = fp.arithF(op, (int) (a >>> 32), (int) (b >>> 32)) & 0xFFFF_FFFFL;
        return lo | (hi << 32);
    }

    /** ADD, SUB, MUL, DIV, MIN, MAX, SQRT in the PS, PD, SS and SD forms. */
    private void floatArith(Insn in, int op, int rep, boolean p66) {
        checkSse();
        int r = in.reg;
        if (rep == 0xF3) {
            int b = (int) src32(in);
            fp.begin(s.mxcsr);
            long v = fp.arithF(op, (int) x[2 * r], b) & 0xFFFF_FFFFL;
            commit();
            x[2 * r] = (x[2 * r] & 0xFFFF_FFFF_0000_0000L) | v;
        } else if (rep == 0xF2) {
            long b = src64(in, false);
            fp.begin(s.mxcsr);
            long v = fp.arithD(op, x[2 * r], b);
            commit();
            x[2 * r] = v;
        } else {
            src128(in, t, true);
            fp.begin(s.mxcsr);
            for (int i = 0; i < 2; i++) {
                d[i] = p66 ? fp.arithD(op, x[2 * r + i], t[i]) : arithF2(op, x[2 * r + i], t[i]);
            }
            commit();
            storeXmm(r, d);
        }
    }

    private void cmpFloat(Insn in, int rep, boolean p66) {
        checkSse();
        int r = in.reg;
        int pred = (int) in.imm;
        if (rep == 0xF3) {
            int b = (int) src32(in);
            fp.begin(s.mxcsr);
            boolean c = fp.compareF(pred, (int) x[2 * r], b);
            commit();
            x[2 * r] = (x[2 * r] & 0xFFFF_FFFF_0000_0000L) | (c ? 0xFFFF_FFFFL : 0);
        } else if (rep == 0xF2) {
            long b = src64(in, false);
            fp.begin(s.mxcsr);
            boolean c = fp.compareD(pred, x[2 * r], b);
            commit();
            x[2 * r] = c ? -1L : 0;
        } else {
            src128(in, t, true);
            fp.begin(s.mxcsr);
            for (int i = 0; i < 2; i++) {
                long a = x[2 * r + i];
                if (p66) {
                    d[i] = fp.compareD(pred, a, t[i]) ? -1L : 0;
                } else {
                    long lo = fp.compareF(pred, (int) a, (int) t[i]) ? 0xFFFF_FFFFL : 0;
                    long hi = fp.compareF(pred, (int) (a >>> 32), (int) (t[i] >>> 32)) ? 0xFFFF_FFFF_0000_0000L : 0;
                    d[i] = lo | hi;
                }
            }
            commit();
            storeXmm(r, d);
        }
    }

    /** UCOMISS/UCOMISD/COMISS/COMISD: ZF, PF, CF from the comparison; OF, SF, AF cleared. */
    private void comis(Insn in, boolean p66, boolean ordered) {
        checkSse();
        int c;
        if (p66) {
            long b = src64(in, false);
            fp.begin(s.mxcsr);
            c = fp.comisD(x[2 * in.reg], b, ordered);
        } else {
            int b = (int) src32(in);
            fp.begin(s.mxcsr);
            c = fp.comisF((int) x[2 * in.reg], b, ordered);
        }
        commit();
        long fl = cpu.flags.materialize() & ~LazyFlags.ARITH;
        fl |= switch (c) {
            case SimdFloat.CMP_UNORDERED -> X86State.ZF | X86State.PF | X86State.CF;
            case SimdFloat.CMP_LESS -> X86State.CF;
            case SimdFloat.CMP_EQUAL -> X86State.ZF;
            default -> 0;
        };
        s.rflags = fl;
    }

    private void unpckFloat(Insn in, boolean high, boolean p66) {
        checkSse();
        loadXmm(in.reg, d);
        src128(in, t, true);
        if (p66) {
            long a = high ? d[1] : d[0];
            long b = high ? t[1] : t[0];
            d[0] = a;
            d[1] = b;
        } else {
            long a = high ? d[1] : d[0];
            long b = high ? t[1] : t[0];
            d[0] = (a & 0xFFFF_FFFFL) | (b << 32);
            d[1] = (a >>> 32) | (b & 0xFFFF_FFFF_0000_0000L);
        }
        storeXmm(in.reg, d);
    }

    private void shufFloat(Insn in, boolean p66) {
        checkSse();
        loadXmm(in.reg, d);
        src128(in, t, true);
        int imm = (int) in.imm;
        if (p66) {
            long lo = (imm & 1) != 0 ? d[1] : d[0];
            long hi = (imm & 2) != 0 ? t[1] : t[0];
            d[0] = lo;
            d[1] = hi;
        } else {
            long e0 = dword(d, imm & 3), e1 = dword(d, (imm >> 2) & 3);
            long e2 = dword(t, (imm >> 4) & 3), e3 = dword(t, (imm >> 6) & 3);
            d[0] = e0 | (e1 << 32);
            d[1] = e2 | (e3 << 32);
        }
        storeXmm(in.reg, d);
    }

    private static long dword(long[] v, int i) {
        return (v[i >> 1] >>> ((i & 1) * 32)) & 0xFFFF_FFFFL;
    }

    // ---- conversions (SDM vol. 1, 11.5.2; vol. 2 CVT*) ----

    /** An MMX register operand of an SSE instruction switches the x87 unit to MMX state (SDM vol. 1, 11.6.7). */
    private long mmxSource(int i) {
        long v = mm(i);
        s.ftw = 0xFF;
        s.fsw &= ~(7 << 11);
        return v;
    }

    /** CVTSI2SS/CVTSI2SD (F3/F2), CVTPI2PS (NP) and CVTPI2PD (66). */
    private void cvtToFloat(Insn in, int rep, boolean p66) {
        checkSse();
        int r = in.reg;
        if (rep == 0) {
            long v = in.mod == 3 ? mmxSource(in.rm & 7) : m.read64(ip().ea(in));
            fp.begin(s.mxcsr);
            if (p66) { // exact
                d[0] = fp.fromInt((int) v, true);
                d[1] = fp.fromInt((int) (v >>> 32), true);
                commit();
                storeXmm(r, d);
            } else {
                long lo = fp.fromInt((int) v, false), hi = fp.fromInt((int) (v >>> 32), false);
                commit();
                x[2 * r] = lo | (hi << 32);
            }
            return;
        }
        int size = in.osz == 8 ? 8 : 4;
        long v = in.mod == 3 ? ip().reg(in, in.rm, size) : m.read(ip().ea(in), size);
        long sv = size == 8 ? v : (int) v;
        fp.begin(s.mxcsr);
        long f = fp.fromInt(sv, rep == 0xF2);
        commit();
        if (rep == 0xF3) {
            x[2 * r] = (x[2 * r] & 0xFFFF_FFFF_0000_0000L) | f;
        } else {
            x[2 * r] = f;
        }
    }

    /** CVT(T)SS2SI/CVT(T)SD2SI (F3/F2), CVT(T)PS2PI (NP) and CVT(T)PD2PI (66). */
    private void cvtToInt(Insn in, int rep, boolean p66, boolean truncate) {
        checkSse();
        if (rep == 0) {
            long lo, hi;
            if (p66) {
                src128(in, t, true);
                fp.begin(s.mxcsr);
                lo = fp.doubleToInt(t[0], 4, truncate);
                hi = fp.doubleToInt(t[1], 4, truncate);
            } else {
                long v = src64(in, false);
                fp.begin(s.mxcsr);
                lo = fp.floatToInt((int) v, 4, truncate);
                hi = fp.floatToInt((int) (v >>> 32), 4, truncate);
            }
            commit();
            setMm(in.reg & 7, lo | (hi << 32));
            return;
        }
        int size = in.osz == 8 ? 8 : 4;
        long v;
        if (rep == 0xF3) {
            int a = (int) src32(in);
            fp.begin(s.mxcsr);
            v = fp.floatToInt(a, size, truncate);
        } else {
            long a = src64(in, false);
            fp.begin(s.mxcsr);
            v = fp.doubleToInt(a, size, truncate);
        }
        commit();
        ip().setReg(in, in.reg, size, v);
    }

    /** CVTSS2SD, CVTSD2SS, CVTPD2PS, CVTPS2PD. */
    private void cvtFloatWidth(Insn in, int rep, boolean p66) {
        checkSse();
        int r = in.reg;
        if (rep == 0xF3) {
            int a = (int) src32(in);
            fp.begin(s.mxcsr);
            long v = fp.floatToDouble(a);
            commit();
            x[2 * r] = v;
        } else if (rep == 0xF2) {
            long a = src64(in, false);
            fp.begin(s.mxcsr);
            long v = fp.doubleToFloat(a) & 0xFFFF_FFFFL;
            commit();
            x[2 * r] = (x[2 * r] & 0xFFFF_FFFF_0000_0000L) | v;
        } else if (p66) {
            src128(in, t, true);
            fp.begin(s.mxcsr);
            long lo = fp.doubleToFloat(t[0]) & 0xFFFF_FFFFL, hi = fp.doubleToFloat(t[1]) & 0xFFFF_FFFFL;
            commit();
            x[2 * r] = lo | (hi << 32);
            x[2 * r + 1] = 0;
        } else {
            long v = src64(in, false);
            fp.begin(s.mxcsr);
            d[0] = fp.floatToDouble((int) v);
            d[1] = fp.floatToDouble((int) (v >>> 32));
            commit();
            storeXmm(r, d);
        }
    }

    /** CVTDQ2PS (NP), CVTPS2DQ (66), CVTTPS2DQ (F3). */
    private void cvtDq(Insn in, int rep, boolean p66) {
        checkSse();
        if (rep == 0xF2) {
            throw CpuFault.ud();
        }
        src128(in, t, true);
        boolean trunc = rep == 0xF3;
        fp.begin(s.mxcsr);
        for (int i = 0; i < 2; i++) {
            long v = t[i];
            if (!p66 && rep == 0) {
                d[i] = fp.fromInt((int) v, false) | (fp.fromInt((int) (v >>> 32), false) << 32);
            } else {
                d[i] = fp.floatToInt((int) v, 4, trunc) | (fp.floatToInt((int) (v >>> 32), 4, trunc) << 32);
            }
        }
        commit();
        storeXmm(in.reg, d);
    }

    /** CVTDQ2PD (F3), CVTTPD2DQ (66), CVTPD2DQ (F2). */
    private void cvtE6(Insn in, int rep, boolean p66) {
        checkSse();
        int r = in.reg;
        if (rep == 0xF3) { // exact
            long v = src64(in, false);
            x[2 * r] = Double.doubleToRawLongBits((int) v);
            x[2 * r + 1] = Double.doubleToRawLongBits((int) (v >>> 32));
        } else if (p66 || rep == 0xF2) {
            src128(in, t, true);
            fp.begin(s.mxcsr);
            long lo = fp.doubleToInt(t[0], 4, p66), hi = fp.doubleToInt(t[1], 4, p66);
            commit();
            x[2 * r] = lo | (hi << 32);
            x[2 * r + 1] = 0;
        } else {
            throw CpuFault.ud();
        }
    }

    // ---- packed integers ----

    private static boolean isPackedInt(int op) {
        return (op >= 0x60 && op <= 0x6D) || (op >= 0x74 && op <= 0x76) || (op >= 0xD1 && op <= 0xD5)
            || (op >= 0xD8 && op <= 0xE5) || (op >= 0xE8 && op <= 0xEF) || (op >= 0xF1 && op <= 0xF6)
            || (op >= 0xF8 && op <= 0xFE);
    }

    private void packedInt(Insn in, int op, boolean mmx) {
        if (mmx) {
            checkMmx();
            if (op == 0x6C || op == 0x6D) {
                throw CpuFault.ud();
            }
            d[0] = mm(in.reg & 7);
            t[0] = src64(in, true);
            d[1] = 0;
            t[1] = 0;
            intOp(op, 1);
            setMm(in.reg & 7, d[0]);
            return;
        }
        if (!in.opsizePrefix || in.rep != 0) {
            throw cpu.unimplemented(in);
        }
        checkSse();
        loadXmm(in.reg, d);
        src128(in, t, true);
        intOp(op, 2);
        storeXmm(in.reg, d);
    }

    /** d = d op t over {@code halves} 64-bit halves (1 for MMX, 2 for XMM). */
    private void intOp(int op, int halves) {
        switch (op) {
            case 0x60, 0x61, 0x62, 0x68, 0x69, 0x6A, 0x6C, 0x6D -> unpack(op, halves);
            case 0x63, 0x6B, 0x67 -> pack(op, halves);
            case 0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3 -> {
                long count = Long.compareUnsigned(t[0], 255) > 0 ? 255 : t[0];
                int kind = op >= 0xF1 ? 6 : op >= 0xE1 ? 4 : 2;
                int lane = switch (op & 3) {
                    case 1 -> 16;
                    case 2 -> 32;
                    default -> 64;
                };
                for (int i = 0; i < halves; i++) {
                    d[i] = shiftLanes(d[i], kind, (int) count, lane);
                }
            }
            case 0xF4 -> { // PMULUDQ
                for (int i = 0; i < halves; i++) {
                    d[i] = (d[i] & 0xFFFF_FFFFL) * (t[i] & 0xFFFF_FFFFL);
                }
            }
            case 0xF5 -> { // PMADDWD
                for (int i = 0; i < halves; i++) {
                    long r = 0;
                    for (int k = 0; k < 2; k++) {
                        long p = (long) (short) (d[i] >>> (32 * k)) * (short) (t[i] >>> (32 * k))
                            + (long) (short) (d[i] >>> (32 * k + 16)) * (short) (t[i] >>> (32 * k + 16));
                        r |= (p & 0xFFFF_FFFFL) << (32 * k);
                    }
                    d[i] = r;
                }
            }
            case 0xF6 -> { // PSADBW
                for (int i = 0; i < halves; i++) {
                    long sum = 0;
                    for (int k = 0; k < 8; k++) {
                        sum += Math.abs(((d[i] >>> (8 * k)) & 0xFF) - ((t[i] >>> (8 * k)) & 0xFF));
                    }
                    d[i] = sum;
                }
            }
            case 0xDB, 0xDF, 0xEB, 0xEF -> {
                for (int i = 0; i < halves; i++) {
                    d[i] = switch (op) {
                        case 0xDB -> d[i] & t[i];
                        case 0xDF -> ~d[i] & t[i];
                        case 0xEB -> d[i] | t[i];
                        default -> d[i] ^ t[i];
                    };
                }
            }
            default -> {
                int lane;
                int kind;
                switch (op) {
                    case 0x74 -> { lane = 8; kind = L_EQ; }
                    case 0x75 -> { lane = 16; kind = L_EQ; }
                    case 0x76 -> { lane = 32; kind = L_EQ; }
                    case 0x64 -> { lane = 8; kind = L_GT; }
                    case 0x65 -> { lane = 16; kind = L_GT; }
                    case 0x66 -> { lane = 32; kind = L_GT; }
                    case 0xFC -> { lane = 8; kind = L_ADD; }
                    case 0xFD -> { lane = 16; kind = L_ADD; }
                    case 0xFE -> { lane = 32; kind = L_ADD; }
                    case 0xD4 -> { lane = 64; kind = L_ADD; }
                    case 0xF8 -> { lane = 8; kind = L_SUB; }
                    case 0xF9 -> { lane = 16; kind = L_SUB; }
                    case 0xFA -> { lane = 32; kind = L_SUB; }
                    case 0xFB -> { lane = 64; kind = L_SUB; }
                    case 0xEC -> { lane = 8; kind = L_ADDS; }
                    case 0xED -> { lane = 16; kind = L_ADDS; }
                    case 0xDC -> { lane = 8; kind = L_ADDUS; }
                    case 0xDD -> { lane = 16; kind = L_ADDUS; }
                    case 0xE8 -> { lane = 8; kind = L_SUBS; }
                    case 0xE9 -> { lane = 16; kind = L_SUBS; }
                    case 0xD8 -> { lane = 8; kind = L_SUBUS; }
                    case 0xD9 -> { lane = 16; kind = L_SUBUS; }
                    case 0xDA -> { lane = 8; kind = L_MINU; }
                    case 0xDE -> { lane = 8; kind = L_MAXU; }
                    case 0xEA -> { lane = 16; kind = L_MINS; }
                    case 0xEE -> { lane = 16; kind = L_MAXS; }
                    case 0xE0 -> { lane = 8; kind = L_AVG; }
                    case 0xE3 -> { lane = 16; kind = L_AVG; }
                    case 0xD5 -> { lane = 16; kind = L_MULLO; }
                    case 0xE5 -> { lane = 16; kind = L_MULHI; }
                    case 0xE4 -> { lane = 16; kind = L_MULHU; }
                    default -> throw CpuFault.ud();
                }
                for (int i = 0; i < halves; i++) {
                    d[i] = lanes(d[i], t[i], lane, kind);
                }
            }
        }
    }

    private static final int L_EQ = 0, L_GT = 1, L_ADD = 2, L_SUB = 3, L_ADDS = 4, L_ADDUS = 5, L_SUBS = 6,
        L_SUBUS = 7, L_MINU = 8, L_MAXU = 9, L_MINS = 10, L_MAXS = 11, L_AVG = 12, L_MULLO = 13, L_MULHI = 14, L_MULHU = 15;

    private static long lanes(long a, long b, int lane, int kind) {
        if (lane == 64) {
            return kind == L_ADD ? a + b : a - b;
        }
        long mk = (1L << lane) - 1;
        int sh = 64 - lane;
        long smin = -(1L << (lane - 1)), smax = (1L << (lane - 1)) - 1;
        long r = 0;
        for (int p = 0; p < 64; p += lane) {
            long ua = (a >>> p) & mk, ub = (b >>> p) & mk;
            long sa = (ua << sh) >> sh, sb = (ub << sh) >> sh;
            long v = switch (kind) {
                case L_EQ -> ua == ub ? mk : 0;
                case L_GT -> sa > sb ? mk : 0;
                case L_ADD -> ua + ub;
                case L_SUB -> ua - ub;
                case L_ADDS -> Math.max(smin, Math.min(smax, sa + sb));
                case L_ADDUS -> Math.min(mk, ua + ub);
                case L_SUBS -> Math.max(smin, Math.min(smax, sa - sb));
                case L_SUBUS -> Math.max(0, ua - ub);
                case L_MINU -> Math.min(ua, ub);
                case L_MAXU -> Math.max(ua, ub);
                case L_MINS -> Math.min(sa, sb);
                case L_MAXS -> Math.max(sa, sb);
                case L_AVG -> (ua + ub + 1) >>> 1;
                case L_MULLO -> sa * sb;
                case L_MULHI -> (sa * sb) >> lane;
                default -> (ua * ub) >>> lane;
            };
            r |= (v & mk) << p;
        }
        return r;
    }

    /** kind 2 = logical right, 4 = arithmetic right, 6 = left; counts beyond the lane clear (or fill with sign). */
    private static long shiftLanes(long a, int kind, int count, int lane) {
        long mk = lane == 64 ? -1L : (1L << lane) - 1;
        long r = 0;
        for (int p = 0; p < 64; p += lane) {
            long v = (a >>> p) & mk;
            long out;
            if (kind == 4) {
                int sh = 64 - lane;
                long sv = (v << sh) >> sh;
                out = sv >> Math.min(count, lane - 1);
            } else if (count >= lane) {
                out = 0;
            } else {
                out = kind == 2 ? v >>> count : v << count;
            }
            r |= (out & mk) << p;
        }
        return r;
    }

    private void shiftImm(Insn in, int op, boolean mmx) {
        int k = in.reg & 7;
        int count = (int) (in.imm & 0xFF);
        int lane = op == 0x71 ? 16 : op == 0x72 ? 32 : 64;
        if (mmx) {
            checkMmx();
            if (k != 2 && k != 4 && k != 6 || (op == 0x73 && k == 4)) {
                throw CpuFault.ud();
            }
            setMm(in.rm & 7, shiftLanes(mm(in.rm & 7), k, count, lane));
            return;
        }
        checkSse();
        int r = in.rm;
        if (op == 0x73 && (k == 3 || k == 7)) { // PSRLDQ / PSLLDQ: whole-register byte shifts
            int bytes = Math.min(count, 16);
            long lo = x[2 * r], hi = x[2 * r + 1];
            for (int i = 0; i < bytes; i++) {
                if (k == 3) {
                    lo = (lo >>> 8) | (hi << 56);
                    hi >>>= 8;
                } else {
                    hi = (hi << 8) | (lo >>> 56);
                    lo <<= 8;
                }
            }
            x[2 * r] = lo;
            x[2 * r + 1] = hi;
            return;
        }
        if (k != 2 && k != 4 && k != 6 || (op == 0x73 && k == 4)) {
            throw CpuFault.ud();
        }
        x[2 * r] = shiftLanes(x[2 * r], k, count, lane);
        x[2 * r + 1] = shiftLanes(x[2 * r + 1], k, count, lane);
    }

    private void unpack(int op, int halves) {
        boolean high = (op >= 0x68 && op <= 0x6A) || op == 0x6D;
        int lane = switch (op) {
            case 0x60, 0x68 -> 8;
            case 0x61, 0x69 -> 16;
            case 0x62, 0x6A -> 32;
            default -> 64;
        };
        if (halves == 1) {
            // MMX: interleave the low (or high) 32 bits of each operand
            long a = high ? d[0] >>> 32 : d[0];
            long b = high ? t[0] >>> 32 : t[0];
            d[0] = interleave(a, b, lane, 32);
            return;
        }
        long a = high ? d[1] : d[0];
        long b = high ? t[1] : t[0];
        if (lane == 64) {
            d[0] = a;
            d[1] = b;
            return;
        }
        long lo = interleave(a, b, lane, 32);
        long hi = interleave(a >>> 32, b >>> 32, lane, 32);
        d[0] = lo;
        d[1] = hi;
    }

    /** Interleaves the low {@code bits} of a and b lane by lane into 2*bits (a first). */
    private static long interleave(long a, long b, int lane, int bits) {
        long mk = (1L << lane) - 1;
        long r = 0;
        int o = 0;
        for (int p = 0; p < bits; p += lane) {
            r |= ((a >>> p) & mk) << o;
            o += lane;
            r |= ((b >>> p) & mk) << o;
            o += lane;
        }
        return r;
    }

    private void pack(int op, int halves) {
        int inLane = op == 0x6B ? 32 : 16;
        int outLane = inLane / 2;
        boolean unsigned = op == 0x67;
        long omk = (1L << outLane) - 1;
        long lo = unsigned ? 0 : -(1L << (outLane - 1));
        long hi = unsigned ? omk : (1L << (outLane - 1)) - 1;
        int n = halves * 64 / inLane; // lanes per operand
        long[] out = packOut;
        out[0] = 0;
        out[1] = 0;
        int o = 0;
        for (int src = 0; src < 2; src++) {
            long[] v = src == 0 ? d : t;
            for (int i = 0; i < n; i++) {
                int bit = i * inLane;
                long w = v[bit >> 6] >>> (bit & 63);
                long sv = inLane == 32 ? (int) w : (short) w;
                long c = Math.max(lo, Math.min(hi, sv)) & omk;
                out[o >> 6] |= c << (o & 63);
                o += outLane;
            }
        }
        d[0] = out[0];
        d[1] = out[1];
    }

    private void shuffle(Insn in, int rep, boolean mmx) {
        int imm = (int) in.imm;
        if (mmx) { // PSHUFW
            checkMmx();
            long v = src64(in, true);
            long r = 0;
            for (int i = 0; i < 4; i++) {
                r |= ((v >>> (16 * ((imm >> (2 * i)) & 3))) & 0xFFFF) << (16 * i);
            }
            setMm(in.reg & 7, r);
            return;
        }
        checkSse();
        src128(in, t, true);
        if (rep == 0) { // PSHUFD
            long e0 = dword(t, imm & 3), e1 = dword(t, (imm >> 2) & 3);
            long e2 = dword(t, (imm >> 4) & 3), e3 = dword(t, (imm >> 6) & 3);
            x[2 * in.reg] = e0 | (e1 << 32);
            x[2 * in.reg + 1] = e2 | (e3 << 32);
            return;
        }
        int half = rep == 0xF3 ? 1 : 0; // PSHUFHW shuffles the high quadword, PSHUFLW the low
        long v = t[half];
        long r = 0;
        for (int i = 0; i < 4; i++) {
            r |= ((v >>> (16 * ((imm >> (2 * i)) & 3))) & 0xFFFF) << (16 * i);
        }
        x[2 * in.reg + half] = r;
        x[2 * in.reg + (1 - half)] = t[1 - half];
    }

    // ---- state save/restore (SDM vol. 1, 10.5.1) ----

    void ldmxcsr(long a) {
        checkSse();
        long v = m.read(a, 4);
        if ((v & ~0xFFFFL) != 0) {
            throw CpuFault.gp0();
        }
        s.mxcsr = (int) v;
    }

    void stmxcsr(long a) {
        checkSse();
        m.write(a, 4, s.mxcsr);
    }

    void fxsave(long a, boolean rexW) {
        if ((a & 15) != 0) {
            throw CpuFault.gp0();
        }
        checkFx();
        m.read(a + 511, 1);
        m.write(a, 2, s.fcw);
        m.write(a + 2, 2, s.fsw);
        m.write(a + 4, 1, s.ftw);
        m.write(a + 6, 2, s.fop);
        if (rexW) {
            m.write64(a + 8, s.fip);
            m.write64(a + 16, s.fdp);
        } else {
            m.write(a + 8, 4, s.fip);
            m.write(a + 16, 4, s.fdp);
        }
        m.write(a + 24, 4, s.mxcsr);
        m.write(a + 28, 4, 0xFFFF); // MXCSR_MASK
        for (int i = 0; i < 8; i++) {
            m.write64(a + 32 + 16L * i, s.fpMantissa[i]);
            m.write(a + 40 + 16L * i, 2, s.fpExponent[i]);
            m.write(a + 42 + 16L * i, 2, 0);
            m.write(a + 44 + 16L * i, 4, 0);
        }
        for (int i = 0; i < 16; i++) {
            m.write64(a + 160 + 16L * i, x[2 * i]);
            m.write64(a + 168 + 16L * i, x[2 * i + 1]);
        }
    }

    void fxrstor(long a, boolean rexW) {
        if ((a & 15) != 0) {
            throw CpuFault.gp0();
        }
        checkFx();
        long mx = m.read(a + 24, 4);
        if ((mx & ~0xFFFFL) != 0) {
            throw CpuFault.gp0();
        }
        s.fcw = (int) m.read(a, 2);
        s.fsw = (int) m.read(a + 2, 2);
        s.ftw = (int) m.read(a + 4, 1);
        s.fop = (int) m.read(a + 6, 2) & 0x7FF;
        s.fip = rexW ? m.read64(a + 8) : m.read(a + 8, 4);
        s.fdp = rexW ? m.read64(a + 16) : m.read(a + 16, 4);
        s.mxcsr = (int) mx;
        for (int i = 0; i < 8; i++) {
            s.fpMantissa[i] = m.read64(a + 32 + 16L * i);
            s.fpExponent[i] = (short) m.read(a + 40 + 16L * i, 2);
        }
        for (int i = 0; i < 16; i++) {
            x[2 * i] = m.read64(a + 160 + 16L * i);
            x[2 * i + 1] = m.read64(a + 168 + 16L * i);
        }
    }

    private void checkFx() {
        if ((s.cr0 & X86State.CR0_EM) != 0) {
            throw CpuFault.ud();
        }
        if ((s.cr0 & X86State.CR0_TS) != 0) {
            throw CpuFault.of(CpuFault.NM);
        }
    }
}
