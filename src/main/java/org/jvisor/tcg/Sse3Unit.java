package org.jvisor.tcg;

/**
 * SSE3 and SSSE3 (SDM vol. 2, each instruction): MOVSLDUP, MOVSHDUP, MOVDDUP, LDDQU, HADDPS/PD,
 * HSUBPS/PD, ADDSUBPS/PD (floating point through {@link SimdFloat}, so MXCSR applies), and the
 * SSSE3 integer instructions of the 0F 38 and 0F 3A maps in their MMX and XMM forms: PSHUFB,
 * PHADDW/D/SW, PHSUBW/D/SW, PMADDUBSW, PSIGNB/W/D, PMULHRSW, PABSB/W/D, PALIGNR. (FISTTP, the
 * remaining SSE3 instruction, is the x87 unit's; MONITOR/MWAIT are not advertised.)
 */
final class Sse3Unit {
    private final SseUnit sse;
    private final long[] x;
    private final Mmu m;
    private final TcgCpu cpu;
    private final long[] d = new long[2];
    private final long[] t = new long[2];
    private final long[] o = new long[2];

    Sse3Unit(SseUnit sse, TcgCpu cpu) {
        this.sse = sse;
        this.cpu = cpu;
        this.x = cpu.s.xmm;
        this.m = cpu.mmu;
    }

    private Interpreter ip() {
        return cpu.interp;
    }

    // ---- the 0F map: SSE3 ----

    /** MOVSLDUP/MOVDDUP (F3/F2 12), MOVSHDUP (F3 16), HADD/HSUB (7C/7D), ADDSUB (D0), LDDQU (F2 F0). */
    boolean exec0F(Insn in, int op) {
        boolean p66 = in.opsizePrefix && in.rep == 0;
        int rep = in.rep;
        switch (op) {
            case 0x12, 0x16 -> {
                sse.checkSse();
                if (rep == 0xF2 && op == 0x12) { // MOVDDUP xmm, xmm/m64
                    long v = sse.src64(in, false);
                    x[2 * in.reg] = v;
                    x[2 * in.reg + 1] = v;
                    return true;
                }
                if (rep != 0xF3) {
                    return false;
                }
                sse.src128(in, t, true);
                int sh = op == 0x12 ? 0 : 32; // MOVSLDUP copies the even dwords, MOVSHDUP the odd ones
                for (int i = 0; i < 2; i++) {
                    long dw = (t[i] >>> sh) & 0xFFFF_FFFFL;
                    x[2 * in.reg + i] = dw | (dw << 32);
                }
                return true;
            }
            case 0x7C, 0x7D -> {
                if (!p66 && rep != 0xF2) {
                    return false;
                }
                horizontal(in, op == 0x7D, p66);
                return true;
            }
            case 0xD0 -> {
                if (!p66 && rep != 0xF2) {
                    return false;
                }
                addSub(in, p66);
                return true;
            }
            default -> { // F0
                if (rep != 0xF2) {
                    return false;
                }
                sse.checkSse();
                if (in.mod == 3) {
                    throw CpuFault.ud();
                }
                sse.src128(in, t, false); // LDDQU: unaligned
                sse.storeXmm(in.reg, t);
                return true;
            }
        }
    }

    /** HADDPS/HSUBPS (F2) and HADDPD/HSUBPD (66): pairs within the destination, then within the source. */
    private void horizontal(Insn in, boolean sub, boolean pd) {
        sse.checkSse();
        sse.loadXmm(in.reg, d);
        sse.src128(in, t, true);
        SimdFloat fp = sse.fp;
        int fop = sub ? SimdFloat.SUB : SimdFloat.ADD;
        fp.begin(cpu.s.mxcsr);
        if (pd) {
            o[0] = fp.arithD(fop, d[0], d[1]);
            o[1] = fp.arithD(fop, t[0], t[1]);
        } else {
            o[0] = pairF(fp, fop, d[0]) | pairF(fp, fop, d[1]) << 32;
            o[1] = pairF(fp, fop, t[0]) | pairF(fp, fop, t[1]) << 32;
        }
        sse.commit();
        sse.storeXmm(in.reg, o);
    }

    private static long pairF(SimdFloat fp, int op, long v) {
        return fp.arithF(op, (int) v, (int) (v >>> 32)) & 0xFFFF_FFFFL;
    }

    /** ADDSUBPS (F2) / ADDSUBPD (66): even lanes subtract, odd lanes add. */
    private void addSub(Insn in, boolean pd) {
        sse.checkSse();
        sse.loadXmm(in.reg, d);
        sse.src128(in, t, true);
        SimdFloat fp = sse.fp;
        fp.begin(cpu.s.mxcsr);
        for (int i = 0; i < 2; i++) {
            if (pd) {
                o[i] = fp.arithD(i == 0 ? SimdFloat.SUB : SimdFloat.ADD, d[i], t[i]);
            } else {
                long lo = fp.arithF(SimdFloat.SUB, (int) d[i], (int) t[i]) & 0xFFFF_FFFFL;
                long hi = fp.arithF(SimdFloat.ADD, (int) (d[i] >>> 32), (int) (t[i] >>> 32)) & 0xFFFF_FFFFL;
                o[i] = lo | hi << 32;
            }
        }
        sse.commit();
        sse.storeXmm(in.reg, o);
    }

    // ---- the 0F 38 and 0F 3A maps: SSSE3 ----

    private static final int PSHUFB = 0x00, PHADDW = 0x01, PHADDD = 0x02, PHADDSW = 0x03, PMADDUBSW = 0x04,
        PHSUBW = 0x05, PHSUBD = 0x06, PHSUBSW = 0x07, PSIGNB = 0x08, PSIGNW = 0x09, PSIGND = 0x0A, PMULHRSW = 0x0B,
        PABSB = 0x1C, PABSW = 0x1D, PABSD = 0x1E;

    boolean execMap3(Insn in, int op) {
        boolean map3A = (op & 0xF00) == Insn.MAP_0F3A;
        int code = op & 0xFF;
        if (in.rep != 0 || (map3A ? code != 0x0F : !(code <= 0x0B || (code >= 0x1C && code <= 0x1E)))) {
            return false;
        }
        boolean mmx = !in.opsizePrefix;
        int halves;
        if (mmx) {
            sse.checkMmx();
            d[0] = sse.mm(in.reg & 7);
            t[0] = sse.src64(in, true);
            d[1] = 0;
            t[1] = 0;
            halves = 1;
        } else {
            sse.checkSse();
            sse.loadXmm(in.reg, d);
            sse.src128(in, t, true);
            halves = 2;
        }
        if (map3A) {
            palignr((int) in.imm & 0xFF, halves);
        } else {
            ssse3(code, halves);
        }
        if (mmx) {
            sse.setMm(in.reg & 7, o[0]);
        } else {
            sse.storeXmm(in.reg, o);
        }
        return true;
    }

    /** Lane i (0-based, {@code bits} wide) of a 1- or 2-long vector, zero-extended. */
    private static long lane(long[] v, int i, int bits) {
        int bit = i * bits;
        long w = v[bit >>> 6] >>> (bit & 63);
        return bits == 64 ? w : w & ((1L << bits) - 1);
    }

    private static long slane(long[] v, int i, int bits) {
        long u = lane(v, i, bits);
        return (u << (64 - bits)) >> (64 - bits);
    }

    private static void setLane(long[] v, int i, int bits, long val) {
        int bit = i * bits;
        long mk = ((1L << bits) - 1) << (bit & 63);
        v[bit >>> 6] = (v[bit >>> 6] & ~mk) | ((val << (bit & 63)) & mk);
    }

    private static long sat16(long v) {
        return Math.max(Short.MIN_VALUE, Math.min(Short.MAX_VALUE, v));
    }

    /** o = d op t over {@code halves} 64-bit halves (1 for MMX, 2 for XMM). */
    private void ssse3(int code, int halves) {
        o[0] = 0;
        o[1] = 0;
        int bytes = 8 * halves;
        switch (code) {
            case PSHUFB -> {
                for (int i = 0; i < bytes; i++) {
                    long sel = lane(t, i, 8);
                    setLane(o, i, 8, (sel & 0x80) != 0 ? 0 : lane(d, (int) sel & (bytes - 1), 8));
                }
            }
            case PHADDW, PHADDD, PHADDSW, PHSUBW, PHSUBD, PHSUBSW -> {
                int bits = code == PHADDD || code == PHSUBD ? 32 : 16;
                boolean sub = code >= PHSUBW;
                boolean sat = code == PHADDSW || code == PHSUBSW;
                int per = bytes * 8 / bits; // lanes per operand
                for (int i = 0; i < per; i++) {
                    long[] src = i < per / 2 ? d : t;
                    int k = 2 * (i % (per / 2));
                    long a = slane(src, k, bits), b = slane(src, k + 1, bits);
                    long r = sub ? a - b : a + b;
                    setLane(o, i, bits, sat ? sat16(r) : r);
                }
            }
            case PMADDUBSW -> {
                for (int i = 0; i < bytes / 2; i++) {
                    long r = lane(d, 2 * i, 8) * slane(t, 2 * i, 8) + lane(d, 2 * i + 1, 8) * slane(t, 2 * i + 1, 8);
                    setLane(o, i, 16, sat16(r));
                }
            }
            case PSIGNB, PSIGNW, PSIGND -> {
                int bits = 8 << (code - PSIGNB);
                for (int i = 0; i < bytes * 8 / bits; i++) {
                    long sgn = slane(t, i, bits);
                    setLane(o, i, bits, sgn < 0 ? -slane(d, i, bits) : sgn == 0 ? 0 : lane(d, i, bits));
                }
            }
            case PMULHRSW -> {
                for (int i = 0; i < bytes / 2; i++) {
                    long p = slane(d, i, 16) * slane(t, i, 16);
                    setLane(o, i, 16, ((p >> 14) + 1) >> 1);
                }
            }
            default -> { // PABSB/W/D of the source
                int bits = 8 << (code - PABSB);
                for (int i = 0; i < bytes * 8 / bits; i++) {
                    setLane(o, i, bits, Math.abs(slane(t, i, bits)));
                }
            }
        }
    }

    /** PALIGNR: destination:source shifted right by imm bytes, the low half kept; 2x width shifts give zero. */
    private void palignr(int imm, int halves) {
        int bytes = 8 * halves;
        o[0] = 0;
        o[1] = 0;
        for (int i = 0; i < bytes; i++) {
            int k = i + imm; // byte k of the 2*bytes-wide concatenation, the source in the low half
            long b = k < bytes ? lane(t, k, 8) : k < 2 * bytes ? lane(d, k - bytes, 8) : 0;
            setLane(o, i, 8, b);
        }
    }
}
