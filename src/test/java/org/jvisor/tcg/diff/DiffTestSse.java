package org.jvisor.tcg.diff;

import static org.jvisor.tcg.diff.Asm.op;

import org.junit.jupiter.api.Test;

/**
 * SSE/SSE2 (what tcg advertises): packed-integer ops, shifts by immediate, shuffles, unpacks,
 * logic, moves between XMM, memory and GPRs, scalar/packed float arithmetic, compares and
 * conversions. XMM registers are not in the compared state, so every case loads its XMM operands
 * from the data area with MOVDQU and stores the results back there; memory is compared.
 */
class DiffTestSse {
    /** Three 16-byte slots, 16-aligned: destination, source, a second result. */
    private static final int SLOT_D = 0x100, SLOT_S = 0x200, SLOT_X = 0x300;

    private static final int[] P66 = {0x66};
    private static final int[] PF3 = {0xF3};
    private static final int[] PF2 = {0xF2};
    private static final int[] NONE = {};

    private static Asm.Mem abs(Gen g, int slot) {
        return new Asm.Mem(Asm.NONE, Asm.NONE, 1, g.dataBase + slot, 4, false);
    }

    private static int xmm(Gen g) {
        return g.r.nextInt(16);
    }

    private static void movdquLoad(Gen g, int x, int slot) {
        g.a.modrm(0, PF3, op(0x0F, 0x6F), x, false, abs(g, slot), false, 0, 0);
    }

    private static void movdquStore(Gen g, int x, int slot) {
        g.a.modrm(0, PF3, op(0x0F, 0x7F), x, false, abs(g, slot), false, 0, 0);
    }

    /** Fills a slot with lanes biased to boundaries, or float specials when {@code floats}. */
    private static void fill(Gen g, int slot, boolean floats) {
        for (int i = 0; i < 16; i += 8) {
            long v;
            if (floats && g.r.nextBoolean()) {
                v = g.r.nextBoolean() ? floatPair(g) : Double.doubleToRawLongBits(special(g));
            } else {
                v = g.r.nextInt(3) == 0 ? g.interesting(64) : g.r.nextLong();
            }
            g.poke(g.dataBase + slot + i, v, 8);
        }
    }

    private static double special(Gen g) {
        return switch (g.r.nextInt(10)) {
            case 0 -> 0.0;
            case 1 -> -0.0;
            case 2 -> Double.POSITIVE_INFINITY;
            case 3 -> Double.NaN;
            case 4 -> 1.5;
            case 5 -> -2.5;
            case 6 -> Double.MIN_VALUE;
            case 7 -> 1e300;
            case 8 -> (double) (g.r.nextInt(2001) - 1000);
            default -> g.r.nextDouble() * 1e6 - 5e5;
        };
    }

    private static long floatPair(Gen g) {
        float[] f = new float[2];
        for (int i = 0; i < 2; i++) {
            f[i] = switch (g.r.nextInt(8)) {
                case 0 -> 0.0f;
                case 1 -> -0.0f;
                case 2 -> Float.NEGATIVE_INFINITY;
                case 3 -> Float.NaN;
                case 4 -> 0.5f;
                case 5 -> (float) (g.r.nextInt(2001) - 1000);
                case 6 -> 3e9f;
                default -> (float) (g.r.nextDouble() * 1e6 - 5e5);
            };
        }
        return (Float.floatToRawIntBits(f[0]) & 0xFFFF_FFFFL) | (long) Float.floatToRawIntBits(f[1]) << 32;
    }

    /**
     * Loads D and S, runs {@code body} (which gets the two register numbers), stores D (and S, as
     * some forms write their source) back.
     */
    private interface Body {
        void emit(int d, int s);
    }

    private static void around(Gen g, boolean floats, Body body) {
        fill(g, SLOT_D, floats);
        fill(g, SLOT_S, floats);
        int d = xmm(g);
        int s = xmm(g);
        movdquLoad(g, d, SLOT_D);
        movdquLoad(g, s, SLOT_S);
        body.emit(d, s);
        movdquStore(g, s, SLOT_X);
        movdquStore(g, d, SLOT_D);
    }

    /** Register or 16-aligned memory (the S slot) as the r/m source. */
    private static Asm.Rm src(Gen g, int s) {
        return g.r.nextBoolean() ? new Asm.Reg(s) : abs(g, SLOT_S);
    }

    private static final int[] PACKED_INT = {
        0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D,
        0x74, 0x75, 0x76, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF,
        0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE8, 0xE9, 0xEA, 0xEB, 0xEC, 0xED, 0xEE, 0xEF,
        0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE,
    };

    static void packedInt(Gen g) {
        int opc = PACKED_INT[g.r.nextInt(PACKED_INT.length)];
        g.note(String.format("66 0F %02X", opc));
        around(g, false, (d, s) -> {
            if (isShiftByXmm(opc) && g.r.nextInt(3) != 0) {
                // mostly small counts, so the shift does something (the data area is the input, loaded at run time)
                g.poke(g.dataBase + SLOT_S, g.r.nextInt(70), 8);
            }
            g.a.modrm(0, P66, op(0x0F, opc), d, false, src(g, s), false, 0, 0);
        });
    }

    private static boolean isShiftByXmm(int opc) {
        return switch (opc) {
            case 0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3 -> true;
            default -> false;
        };
    }

    static void shiftImm(Gen g) {
        int opc = 0x71 + g.r.nextInt(3);
        int[] exts = opc == 0x73 ? new int[] {2, 3, 6, 7} : opc == 0x72 ? new int[] {2, 4, 6} : new int[] {2, 4, 6};
        int ext = exts[g.r.nextInt(exts.length)];
        int imm = g.r.nextInt(4) == 0 ? g.r.nextInt(256) : g.r.nextInt(20);
        g.note(String.format("66 0F %02X /%d ib %d", opc, ext, imm));
        around(g, false, (d, s) -> g.a.modrm(0, P66, op(0x0F, opc), ext, true, new Asm.Reg(d), false, imm, 1));
    }

    static void shuffle(Gen g) {
        int imm = g.r.nextInt(256);
        switch (g.r.nextInt(5)) {
            case 0 -> around(g, false, (d, s) -> g.a.modrm(0, P66, op(0x0F, 0x70), d, false, src(g, s), false, imm, 1));
            case 1 -> around(g, false, (d, s) -> g.a.modrm(0, PF2, op(0x0F, 0x70), d, false, src(g, s), false, imm, 1));
            case 2 -> around(g, false, (d, s) -> g.a.modrm(0, PF3, op(0x0F, 0x70), d, false, src(g, s), false, imm, 1));
            case 3 -> around(g, false, (d, s) -> g.a.modrm(0, NONE, op(0x0F, 0xC6), d, false, src(g, s), false, imm, 1));
            default -> around(g, false, (d, s) -> g.a.modrm(0, P66, op(0x0F, 0xC6), d, false, src(g, s), false, imm & 3,
                1));
        }
    }

    /** UNPCK*PS/PD, AND/ANDN/OR/XOR PS/PD. */
    static void logicUnpack(Gen g) {
        int[] ops = {0x14, 0x15, 0x54, 0x55, 0x56, 0x57};
        int opc = ops[g.r.nextInt(ops.length)];
        int[] pre = g.r.nextBoolean() ? P66 : NONE;
        g.note(String.format("%s0F %02X", pre.length > 0 ? "66 " : "", opc));
        around(g, false, (d, s) -> g.a.modrm(0, pre, op(0x0F, opc), d, false, src(g, s), false, 0, 0));
    }

    /** Moves between XMM registers, memory (any alignment for the unaligned forms) and GPRs. */
    static void moves(Gen g) {
        switch (g.r.nextInt(16)) {
            case 0 -> around(g, false, (d, s) -> g.a.modrm(0, PF3, op(0x0F, 0x7E), d, false, src8(g, s), false, 0, 0));
            case 1 -> around(g, false, (d, s) -> g.a.modrm(0, P66, op(0x0F, 0xD6), s, false, movqDst(g, d), false, 0, 0));
            case 2 -> around(g, false, (d, s) -> { // movd/movq gpr -> xmm
                int r = g.gpr();
                int size = g.r.nextBoolean() ? 64 : 32;
                g.a.modrm(size, P66, op(0x0F, 0x6E), d, false, g.r.nextBoolean() ? new Asm.Reg(r) : abs(g, SLOT_X + 8),
                    false, 0, 0);
            });
            case 3 -> around(g, false, (d, s) -> { // movd/movq xmm -> gpr or memory
                int r = g.gpr();
                int size = g.r.nextBoolean() ? 64 : 32;
                g.a.modrm(size, P66, op(0x0F, 0x7E), s, false, g.r.nextBoolean() ? new Asm.Reg(r) : abs(g, SLOT_D + 4),
                    false, 0, 0);
            });
            case 4 -> around(g, false, (d, s) -> { // pmovmskb / movmskps / movmskpd
                int r = g.gpr();
                int which = g.r.nextInt(3);
                g.a.modrm(32, which == 0 ? P66 : which == 1 ? NONE : P66, op(0x0F, which == 0 ? 0xD7 : 0x50), r, false,
                    new Asm.Reg(s), false, 0, 0);
            });
            case 5 -> around(g, false, (d, s) -> { // movlps/movhps/movlpd/movhpd load
                int[] pre = g.r.nextBoolean() ? P66 : NONE;
                g.a.modrm(0, pre, op(0x0F, g.r.nextBoolean() ? 0x12 : 0x16), d, false, abs(g, SLOT_S + 8), false, 0, 0);
            });
            case 6 -> around(g, false, (d, s) -> { // movlps/movhps/movlpd/movhpd store
                int[] pre = g.r.nextBoolean() ? P66 : NONE;
                g.a.modrm(0, pre, op(0x0F, g.r.nextBoolean() ? 0x13 : 0x17), s, false, abs(g, SLOT_D + 4), false, 0, 0);
            });
            case 7 -> around(g, false, (d, s) -> { // movss/movsd reg-reg and load
                int[] pre = g.r.nextBoolean() ? PF3 : PF2;
                g.a.modrm(0, pre, op(0x0F, 0x10), d, false, g.r.nextBoolean() ? new Asm.Reg(s) : abs(g, SLOT_S + 4), false,
                    0, 0);
            });
            case 8 -> around(g, false, (d, s) -> { // movss/movsd store
                int[] pre = g.r.nextBoolean() ? PF3 : PF2;
                g.a.modrm(0, pre, op(0x0F, 0x11), s, false, abs(g, SLOT_D + 4), false, 0, 0);
            });
            case 9 -> around(g, false, (d, s) -> { // movaps/movapd/movups/movdqa reg forms
                int[][] pres = {NONE, P66};
                int opc = g.r.nextBoolean() ? 0x28 : 0x10;
                g.a.modrm(0, pres[g.r.nextInt(2)], op(0x0F, opc), d, false, src(g, s), false, 0, 0);
            });
            case 10 -> around(g, false, (d, s) -> { // movhlps / movlhps
                g.a.modrm(0, NONE, op(0x0F, g.r.nextBoolean() ? 0x12 : 0x16), d, false, new Asm.Reg(s), false, 0, 0);
            });
            case 12 -> around(g, false, (d, s) -> { // pinsrw from a GPR or memory
                int imm = g.r.nextInt(256);
                g.a.modrm(32, P66, op(0x0F, 0xC4), d, false, g.r.nextBoolean() ? new Asm.Reg(g.gpr()) : abs(g, SLOT_X + 6),
                    false, imm, 1);
            });
            case 13 -> around(g, false, (d, s) -> { // pextrw to a GPR
                g.a.modrm(g.r.nextBoolean() ? 64 : 32, P66, op(0x0F, 0xC5), g.gpr(), false, new Asm.Reg(s), false,
                    g.r.nextInt(256), 1);
            });
            case 14 -> around(g, false, (d, s) -> { // movntdq / movntps / movntpd to aligned memory
                int which = g.r.nextInt(3);
                g.a.modrm(0, which == 1 ? NONE : P66, op(0x0F, which == 0 ? 0xE7 : 0x2B), s, false, abs(g, SLOT_X), false,
                    0, 0);
            });
            case 15 -> around(g, false, (d, s) -> { // movnti from a GPR
                g.a.modrm(g.r.nextBoolean() ? 64 : 32, NONE, op(0x0F, 0xC3), g.gpr(), false, abs(g, SLOT_D + 4), false, 0,
                    0);
            });
            default -> around(g, false, (d, s) -> { // movdqu to an unaligned address
                g.a.modrm(0, PF3, op(0x0F, 0x7F), s, false, abs(g, SLOT_D + 1 + g.r.nextInt(15)), false, 0, 0);
            });
        }
    }

    private static Asm.Rm src8(Gen g, int s) {
        return g.r.nextBoolean() ? new Asm.Reg(s) : abs(g, SLOT_S + 8);
    }

    private static Asm.Rm movqDst(Gen g, int d) {
        return g.r.nextBoolean() ? new Asm.Reg(d) : abs(g, SLOT_D + 4);
    }

    /** ADD MUL SUB MIN DIV MAX SQRT in PS/PD/SS/SD forms; CMPccPS/PD/SS/SD. */
    static void floatArith(Gen g) {
        int[][] pres = {NONE, P66, PF3, PF2};
        int[] pre = pres[g.r.nextInt(4)];
        if (g.r.nextInt(4) == 0) {
            int imm = g.r.nextInt(8);
            around(g, true, (d, s) -> g.a.modrm(0, pre, op(0x0F, 0xC2), d, false, src(g, s), false, imm, 1));
            return;
        }
        int[] ops = {0x51, 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F};
        int opc = ops[g.r.nextInt(ops.length)];
        around(g, true, (d, s) -> g.a.modrm(0, pre, op(0x0F, opc), d, false, src(g, s), false, 0, 0));
    }

    /** CVT*: widths (5A), dq/ps (5B), pd/dq (E6), int<->scalar (2A, 2C, 2D), UCOMIS/COMIS flags. */
    static void convert(Gen g) {
        switch (g.r.nextInt(5)) {
            case 0 -> {
                int[][] pres = {NONE, P66, PF3, PF2};
                int[] pre = pres[g.r.nextInt(4)];
                around(g, true, (d, s) -> g.a.modrm(0, pre, op(0x0F, 0x5A), d, false, src(g, s), false, 0, 0));
            }
            case 1 -> {
                int[][] pres = {NONE, P66, PF3};
                int[] pre = pres[g.r.nextInt(3)];
                around(g, true, (d, s) -> g.a.modrm(0, pre, op(0x0F, 0x5B), d, false, src(g, s), false, 0, 0));
            }
            case 2 -> {
                int[][] pres = {P66, PF3, PF2};
                int[] pre = pres[g.r.nextInt(3)];
                around(g, true, (d, s) -> g.a.modrm(0, pre, op(0x0F, 0xE6), d, false, src(g, s), false, 0, 0));
            }
            case 3 -> around(g, true, (d, s) -> { // cvtsi2ss/sd from a GPR or memory
                int[] pre = g.r.nextBoolean() ? PF3 : PF2;
                int size = g.r.nextBoolean() ? 64 : 32;
                int r = g.gpr();
                g.a.modrm(size, pre, op(0x0F, 0x2A), d, false, g.r.nextBoolean() ? new Asm.Reg(r) : abs(g, SLOT_X + 8),
                    false, 0, 0);
            });
            default -> around(g, true, (d, s) -> { // cvt(t)ss/sd2si, (u)comiss/sd
                if (g.r.nextBoolean()) {
                    int[] pre = g.r.nextBoolean() ? PF3 : PF2;
                    int size = g.r.nextBoolean() ? 64 : 32;
                    g.a.modrm(size, pre, op(0x0F, g.r.nextBoolean() ? 0x2C : 0x2D), g.gpr(), false, new Asm.Reg(s), false,
                        0, 0);
                } else {
                    g.flagMask = Gen.ARITH;
                    int[] pre = g.r.nextBoolean() ? P66 : NONE;
                    g.a.modrm(0, pre, op(0x0F, g.r.nextBoolean() ? 0x2E : 0x2F), d, false, src(g, s), false, 0, 0);
                }
            });
        }
    }

    @Test
    void packedInteger() {
        Diff.fuzz("sse-packed-int", DiffTestSse::packedInt);
    }

    @Test
    void shiftByImmediate() {
        Diff.fuzz("sse-shift-imm", DiffTestSse::shiftImm);
    }

    @Test
    void shuffles() {
        Diff.fuzz("sse-shuffle", DiffTestSse::shuffle);
    }

    @Test
    void logicAndUnpack() {
        Diff.fuzz("sse-logic-unpack", DiffTestSse::logicUnpack);
    }

    @Test
    void moves() {
        Diff.fuzz("sse-moves", DiffTestSse::moves);
    }

    @Test
    void floatArithmetic() {
        Diff.fuzz("sse-float-arith", DiffTestSse::floatArith);
    }

    @Test
    void conversions() {
        Diff.fuzz("sse-convert", DiffTestSse::convert);
    }
}
