package org.jvisor.tcg.diff;

import static org.jvisor.tcg.diff.Asm.op;

import org.junit.jupiter.api.Test;

/**
 * SSE/SSE2 (what tcg advertises): packed integer arithmetic, compares and logic, shifts, packs,
 * unpacks and shuffles, moves (loads, stores, GPR transfers, masks), float arithmetic, compares
 * and conversions, on random XMM contents biased to float specials (NaNs, infinities, denormals,
 * conversion limits) and with random rounding modes / DAZ / FTZ. XMM registers, MXCSR (with its
 * sticky exception flags), RFLAGS and memory are compared. Packed memory operands are 16-byte
 * aligned (the host would fault otherwise).
 *
 * <p>Half the cases run with a random rounding control, DAZ and FTZ, a quarter start with random
 * sticky exception flags; the whole MXCSR is compared afterwards (exceptions stay masked: an
 * unmasked one would be a signal in the test process, so #XM is covered by SseTest).
 */
class DiffTestSse {
    static final int P66 = 0x66, F3 = 0xF3, F2 = 0xF2, NP = 0;

    /** prefix, opcode (after 0F). */
    record Op(int prefix, int opcode, int memBytes) {
    }

    static int[] pre(int p) {
        return p == NP ? Asm.NO_PREFIX : op(p);
    }

    static void setup(Gen g) {
        g.sse = true;
        if (g.chance(4)) { // some sticky flags already set
            g.regs[NativeCpu.MXCSR_SLOT] = g.r.nextLong() & 0x3F;
        }
        if (g.chance(2)) { // rounding mode, DAZ, FTZ
            g.regs[NativeCpu.MXCSR_SLOT] = g.r.nextLong() & NativeCpu.INPUT_MXCSR;
        }
    }

    static int xmm(Gen g) {
        return g.r.nextInt(16);
    }

    /** xmm, xmm/m: memory is memBytes wide, aligned to 16 when it is a 16-byte operand. */
    static Asm.Rm xmmOrMem(Gen g, int memBytes) {
        if (memBytes > 0 && g.r.nextInt(3) == 0) {
            Asm.Mem m = g.mem(memBytes, 32, memBytes == 16 ? 16 : 1);
            for (int i = 0; i < memBytes; i += 8) {
                g.poke(g.lastTarget + i, g.vectorHalf(), Math.min(8, memBytes - i));
            }
            return m;
        }
        return new Asm.Reg(xmm(g));
    }

    static void vw(Gen g, Op o, boolean imm, long immValue) {
        g.a.noise = g.r;
        setup(g);
        Asm.Rm rm = xmmOrMem(g, o.memBytes());
        g.a.modrm(0, pre(o.prefix()), op(0x0F, o.opcode()), xmm(g), false, rm, false, immValue, imm ? 1 : 0);
    }

    static void floatArith(Gen g) {
        vw(g, pick(g, FLOAT_ARITH), false, 0);
    }

    static Op pick(Gen g, Op[] ops) {
        return ops[g.r.nextInt(ops.length)];
    }

    static final Op[] INT_ARITH = ops(P66, 16, 0xFC, 0xFD, 0xFE, 0xD4, 0xF8, 0xF9, 0xFA, 0xFB, 0xEC, 0xED, 0xDC, 0xDD,
        0xE8, 0xE9, 0xD8, 0xD9, 0xD5, 0xE5, 0xE4, 0xF4, 0xF5, 0xF6, 0xE0, 0xE3, 0xDA, 0xDE, 0xEA, 0xEE);
    static final Op[] INT_CMP_LOGIC = ops(P66, 16, 0x74, 0x75, 0x76, 0x64, 0x65, 0x66, 0xDB, 0xDF, 0xEB, 0xEF);
    static final Op[] SHIFT_BY_XMM = ops(P66, 16, 0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3);
    static final Op[] PACK_UNPACK = ops(P66, 16, 0x60, 0x61, 0x62, 0x68, 0x69, 0x6A, 0x6C, 0x6D, 0x63, 0x67, 0x6B);
    static final Op[] FLOAT_ARITH = concat(ops(NP, 16, 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0x51, 0x14, 0x15),
        ops(P66, 16, 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0x51, 0x14, 0x15), ops(F3, 4, 0x58, 0x59, 0x5C, 0x5D, 0x5E,
            0x5F, 0x51), ops(F2, 8, 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0x51), ops(NP, 16, 0x54, 0x55, 0x56, 0x57),
        ops(P66, 16, 0x54, 0x55, 0x56, 0x57));
    static final Op[] CVT = concat(ops(F3, 4, 0x5A), ops(F2, 8, 0x5A), ops(NP, 8, 0x5A), ops(P66, 16, 0x5A),
        ops(NP, 16, 0x5B), ops(P66, 16, 0x5B), ops(F3, 16, 0x5B), ops(F3, 8, 0xE6), ops(F2, 16, 0xE6),
        ops(P66, 16, 0xE6));
    static final Op[] LOADS = concat(ops(NP, 16, 0x28, 0x10), ops(P66, 16, 0x28, 0x10, 0x6F), ops(F3, 16, 0x6F),
        ops(F3, 4, 0x10), ops(F2, 8, 0x10), ops(F3, 8, 0x7E));

    static Op[] ops(int prefix, int memBytes, int... opcodes) {
        Op[] out = new Op[opcodes.length];
        for (int i = 0; i < opcodes.length; i++) {
            out[i] = new Op(prefix, opcodes[i], memBytes);
        }
        return out;
    }

    static Op[] concat(Op[]... parts) {
        return java.util.Arrays.stream(parts).flatMap(java.util.Arrays::stream).toArray(Op[]::new);
    }

    static void shifts(Gen g) {
        setup(g);
        switch (g.r.nextInt(3)) {
            case 0 -> { // by the low quadword of an xmm register / m128 (counts often small)
                Op o = pick(g, SHIFT_BY_XMM);
                Asm.Rm rm = xmmOrMem(g, 16);
                long count = g.chance(2) ? g.r.nextInt(70) : g.interesting(64);
                if (rm instanceof Asm.Reg x) {
                    g.regs[NativeCpu.XMM_SLOT + 2 * x.num()] = count;
                } else {
                    g.poke(g.lastTarget, count, 8);
                }
                g.a.modrm(0, pre(P66), op(0x0F, o.opcode()), xmm(g), false, rm, false, 0, 0);
            }
            case 1 -> { // 71/72/73 /2 /4 /6 ib (psrl, psra, psll) and 73 /3 /7 (psrldq, pslldq)
                int opc = 0x71 + g.r.nextInt(3);
                int[] exts = opc == 0x73 ? new int[] {2, 3, 6, 7} : opc == 0x72 || opc == 0x71 ? new int[] {2, 4, 6}
                    : new int[] {2};
                int ext = exts[g.r.nextInt(exts.length)];
                g.a.modrm(0, pre(P66), op(0x0F, opc), ext, true, new Asm.Reg(xmm(g)), false,
                    g.chance(3) ? g.r.nextInt(256) : g.r.nextInt(20), 1);
            }
            default -> vw(g, new Op(P66, 0x70, 16), true, g.r.nextInt(256)); // pshufd
        }
    }

    static void shuffles(Gen g) {
        switch (g.r.nextInt(5)) {
            case 0 -> vw(g, pick(g, PACK_UNPACK), false, 0);
            case 1 -> vw(g, new Op(g.r.nextBoolean() ? F3 : F2, 0x70, 16), true, g.r.nextInt(256)); // pshufhw/lw
            case 2 -> vw(g, new Op(g.r.nextBoolean() ? NP : P66, 0xC6, 16), true, g.r.nextInt(256)); // shufps/pd
            case 3 -> { // movhlps / movlhps (register forms of 0F 12 / 0F 16)
                setup(g);
                g.a.modrm(0, Asm.NO_PREFIX, op(0x0F, g.r.nextBoolean() ? 0x12 : 0x16), xmm(g), false,
                    new Asm.Reg(xmm(g)), false, 0, 0);
            }
            default -> vw(g, new Op(g.r.nextBoolean() ? NP : P66, g.r.nextBoolean() ? 0x14 : 0x15, 16), false, 0);
        }
    }

    static void moves(Gen g) {
        g.a.noise = g.r;
        setup(g);
        switch (g.r.nextInt(8)) {
            case 0 -> vw(g, pick(g, LOADS), false, 0);
            case 1 -> { // stores: movaps/movups/movapd/movupd 0F 29/11, movdqa/movdqu 7F, movss/movsd 11, movq D6
                int k = g.r.nextInt(6);
                int prefix = switch (k) {
                    case 0 -> NP;
                    case 1, 5 -> P66;
                    case 2 -> F3;
                    case 3 -> F2;
                    default -> g.r.nextBoolean() ? NP : P66;
                };
                int opc = switch (k) {
                    case 0, 1 -> g.r.nextBoolean() ? 0x29 : 0x11;
                    case 2 -> g.r.nextBoolean() ? 0x7F : 0x11;
                    case 3 -> 0x11;
                    case 4 -> 0x7F;
                    default -> 0xD6;
                };
                int bytes = k == 2 && opc == 0x11 ? 4 : k == 3 || k == 5 ? 8 : 16;
                if (k == 4) {
                    prefix = P66; // 66 0F 7F movdqa
                }
                Asm.Rm rm = xmmOrMem(g, bytes);
                g.a.modrm(0, pre(prefix), op(0x0F, opc), xmm(g), false, rm, false, 0, 0);
            }
            case 2 -> { // movlps/movhps/movlpd/movhpd loads and stores (memory only)
                int opc = 0x12 + g.r.nextInt(2) + (g.r.nextBoolean() ? 4 : 0);
                Asm.Mem m = g.mem(8, 32);
                g.a.modrm(0, pre(g.r.nextBoolean() ? NP : P66), op(0x0F, opc), xmm(g), false, m, false, 0, 0);
            }
            case 3 -> { // movd/movq xmm <- r/m32/64 (66 [W] 0F 6E) and r/m <- xmm (66 [W] 0F 7E)
                boolean w = g.r.nextBoolean();
                Gen.Ops o = g.ops(w ? 64 : 32, 0, true, 16);
                g.a.modrm(w ? 64 : 0, pre(P66), op(0x0F, g.r.nextBoolean() ? 0x6E : 0x7E), xmm(g), false, o.rm(), false,
                    0, 0);
            }
            case 4 -> { // pmovmskb, movmskps, movmskpd: r32 <- xmm
                int k = g.r.nextInt(3);
                int gpr = g.gpr();
                g.a.modrm(g.chance(4) ? 64 : 0, pre(k == 1 ? NP : P66), op(0x0F, k == 0 ? 0xD7 : 0x50), gpr, false,
                    new Asm.Reg(xmm(g)), false, 0, 0);
            }
            case 5 -> { // pextrw r32, xmm, ib
                g.a.modrm(0, pre(P66), op(0x0F, 0xC5), g.gpr(), false, new Asm.Reg(xmm(g)), false, g.r.nextInt(256), 1);
            }
            case 6 -> { // pinsrw xmm, r32/m16, ib
                Gen.Ops o = g.ops(16, 0, true, 16);
                g.a.modrm(0, pre(P66), op(0x0F, 0xC4), xmm(g), false, o.rm(), false, g.r.nextInt(256), 1);
            }
            default -> { // movntps / movntpd / movntdq to aligned memory
                Asm.Mem m = g.mem(16, 32, 16);
                int k = g.r.nextInt(3);
                g.a.modrm(0, pre(k == 0 ? NP : P66), op(0x0F, k == 2 ? 0xE7 : 0x2B), xmm(g), false, m, false, 0, 0);
            }
        }
    }

    static void floatCompare(Gen g) {
        if (g.r.nextBoolean()) { // cmpps/pd/ss/sd with predicates 0..7
            int k = g.r.nextInt(4);
            int prefix = new int[] {NP, P66, F3, F2}[k];
            vw(g, new Op(prefix, 0xC2, new int[] {16, 16, 4, 8}[k]), true, g.chance(8) ? g.r.nextInt(256) & 7 : g.r.nextInt(8));
        } else { // ucomiss/comiss/ucomisd/comisd: ZF PF CF, OF SF AF cleared
            boolean d = g.r.nextBoolean();
            vw(g, new Op(d ? P66 : NP, g.r.nextBoolean() ? 0x2E : 0x2F, d ? 8 : 4), false, 0);
        }
    }

    static void conversions(Gen g) {
        g.a.noise = g.r;
        setup(g);
        switch (g.r.nextInt(4)) {
            case 3 -> { // cvtpi2ps / cvtpi2pd xmm, m64 (the MMX-register forms would need the MMX state on both sides)
                Asm.Mem m = g.mem(8, 32);
                g.poke(g.lastTarget, g.chance(2) ? g.interesting(64) : g.interesting(32) | g.interesting(32) << 32, 8);
                g.a.modrm(0, pre(g.r.nextBoolean() ? NP : P66), op(0x0F, 0x2A), xmm(g), false, m, false, 0, 0);
            }
            case 0 -> vw(g, pick(g, CVT), false, 0);
            case 1 -> { // cvtsi2ss / cvtsi2sd from r/m32/64
                boolean w = g.r.nextBoolean();
                Gen.Ops o = g.ops(w ? 64 : 32, 0, true, 16);
                g.setOperand(o.rm(), w ? 64 : 32, g.interesting(w ? 64 : 32));
                g.a.modrm(w ? 64 : 0, pre(g.r.nextBoolean() ? F3 : F2), op(0x0F, 0x2A), xmm(g), false, o.rm(), false, 0,
                    0);
            }
            default -> { // cvt(t)ss2si / cvt(t)sd2si to r32/r64
                boolean w = g.r.nextBoolean();
                boolean sd = g.r.nextBoolean();
                Asm.Rm rm = xmmOrMem(g, sd ? 8 : 4);
                g.a.modrm(w ? 64 : 0, pre(sd ? F2 : F3), op(0x0F, g.r.nextBoolean() ? 0x2C : 0x2D), g.gpr(), false, rm,
                    false, 0, 0);
            }
        }
    }

    static final Op[] SSE3_FLOAT = concat(ops(F2, 16, 0x7C, 0x7D, 0xD0), ops(P66, 16, 0x7C, 0x7D, 0xD0));
    static final Op[] SSE3_DUP = concat(ops(F3, 16, 0x12, 0x16), ops(F2, 8, 0x12));
    static final int[] SSSE3 = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x1C, 0x1D, 0x1E};

    /** SSE3: HADD/HSUB/ADDSUB PS/PD (MXCSR compared), MOVSLDUP/MOVSHDUP/MOVDDUP, LDDQU (unaligned). */
    static void sse3(Gen g) {
        switch (g.r.nextInt(4)) {
            case 0, 1 -> vw(g, pick(g, SSE3_FLOAT), false, 0);
            case 2 -> vw(g, pick(g, SSE3_DUP), false, 0);
            default -> {
                g.a.noise = g.r;
                setup(g);
                Asm.Mem m = g.mem(16, 32);
                g.poke(g.lastTarget, g.vectorHalf(), 8);
                g.poke(g.lastTarget + 8, g.vectorHalf(), 8);
                g.a.modrm(0, pre(F2), op(0x0F, 0xF0), xmm(g), false, m, false, 0, 0);
            }
        }
    }

    /** SSSE3, XMM forms: 66 0F 38 00-0B, 1C-1E and PALIGNR (66 0F 3A 0F ib). */
    static void ssse3(Gen g) {
        g.a.noise = g.r;
        setup(g);
        Asm.Rm rm = xmmOrMem(g, 16);
        if (g.chance(6)) {
            int imm = g.chance(4) ? g.r.nextInt(256) : g.r.nextInt(33);
            g.a.modrm(0, pre(P66), op(0x0F, 0x3A, 0x0F), xmm(g), false, rm, false, imm, 1);
        } else {
            g.a.modrm(0, pre(P66), op(0x0F, 0x38, SSSE3[g.r.nextInt(SSSE3.length)]), xmm(g), false, rm, false, 0, 0);
        }
    }

    /**
     * 2..7 floating-point instructions in a row on shared registers: sticky MXCSR flags accumulate
     * across them, and each one sees the results (NaNs, infinities, denormals) of the ones before.
     */
    static void floatSequence(Gen g) {
        g.a.noise = g.r;
        setup(g);
        int n = 2 + g.r.nextInt(6);
        for (int k = 0; k < n; k++) {
            Op o = switch (g.r.nextInt(4)) {
                case 0 -> pick(g, FLOAT_ARITH);
                case 1 -> pick(g, CVT);
                case 2 -> pick(g, SSE3_FLOAT);
                default -> new Op(new int[] {NP, P66, F3, F2}[g.r.nextInt(4)], 0xC2, 0);
            };
            int reg = g.r.nextInt(6), rm = g.r.nextInt(6); // few registers, so results feed later instructions
            g.a.modrm(0, pre(o.prefix()), op(0x0F, o.opcode()), reg, false, new Asm.Reg(rm), false,
                g.r.nextInt(8), o.opcode() == 0xC2 ? 1 : 0);
        }
    }

    @Test
    void floatSequences() {
        Diff.fuzz("sse-float-sequence", DiffTestSse::floatSequence);
    }

    @Test
    void sse3() {
        Diff.fuzz("sse3", DiffTestSse::sse3);
    }

    @Test
    void ssse3() {
        Diff.fuzz("ssse3", DiffTestSse::ssse3);
    }

    @Test
    void integerArithmetic() {
        Diff.fuzz("sse-int-arith", g -> vw(g, pick(g, INT_ARITH), false, 0));
    }

    @Test
    void integerCompareLogic() {
        Diff.fuzz("sse-int-cmp-logic", g -> vw(g, pick(g, INT_CMP_LOGIC), false, 0));
    }

    @Test
    void shifts() {
        Diff.fuzz("sse-shift", DiffTestSse::shifts);
    }

    @Test
    void packUnpackShuffle() {
        Diff.fuzz("sse-shuffle", DiffTestSse::shuffles);
    }

    @Test
    void moves() {
        Diff.fuzz("sse-move", DiffTestSse::moves);
    }

    @Test
    void floatArithmetic() {
        Diff.fuzz("sse-float-arith", DiffTestSse::floatArith);
    }

    @Test
    void floatCompare() {
        Diff.fuzz("sse-float-cmp", DiffTestSse::floatCompare);
    }

    @Test
    void conversions() {
        Diff.fuzz("sse-cvt", DiffTestSse::conversions);
    }
}
