package org.jvisor.tcg.diff;

import java.util.SplittableRandom;

/**
 * Builds one test case: random initial registers, flags and data, and the snippet assembled by a
 * family's generator. Generators pick operands through the helpers here (registers other than
 * RSP, memory operands that land inside the data area) and declare what must not be compared:
 * flags the SDM leaves undefined and registers whose contents are undefined.
 */
final class Gen {
    /** The flags compared by default: CF PF AF ZF SF DF OF. */
    static final long ALL_FLAGS = 0xCD5L;
    static final long CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
    static final long ARITH = CF | PF | AF | ZF | SF | OF;

    final SplittableRandom r;
    final long codeAddr;
    final long dataBase;
    final Asm a;
    /** RAX..R15 then RFLAGS. */
    final long[] regs = new long[NativeCpu.BLOCK_LONGS];
    final byte[] data = new byte[(int) NativeCpu.DATA_SIZE];
    /** Flags to compare (undefined ones are removed by the generator). */
    long flagMask = ALL_FLAGS;
    /** Registers (bit i = GPR i) not compared. */
    int ignoreRegs;
    /** Registers holding addresses: instructions of a sequence must not write them. */
    int pointerRegs;
    /** Registers an instruction must not use as operands (besides RSP). */
    int avoidRegs;
    final StringBuilder note = new StringBuilder();

    Gen(long seed, long codeAddr, long dataBase) {
        this.r = new SplittableRandom(seed);
        this.codeAddr = codeAddr;
        this.dataBase = dataBase;
        this.a = new Asm(codeAddr);
        for (int i = 0; i < 16; i++) {
            regs[i] = reg(64);
        }
        regs[4] = 0;
        regs[16] = r.nextLong() & NativeCpu.INPUT_FLAGS;
        for (int i = 0; i < 32; i++) {
            regs[NativeCpu.XMM_SLOT + i] = vectorHalf();
        }
        regs[NativeCpu.MXCSR_SLOT] = NativeCpu.MXCSR_DEFAULT;
        for (int i = 0; i < data.length; i += 8) {
            long v = r.nextInt(4) == 0 ? interesting(64) : r.nextLong();
            for (int j = 0; j < 8; j++) {
                data[i + j] = (byte) (v >>> (8 * j));
            }
        }
    }

    // ---- values

    static long mask(int bits) {
        return bits == 64 ? -1L : (1L << bits) - 1;
    }

    static long sext(long v, int bits) {
        return bits == 64 ? v : (v << (64 - bits)) >> (64 - bits);
    }

    /** A value of {@code bits} width biased to boundaries (0, 1, -1, sign bit, sign bit - 1...). */
    long interesting(int bits) {
        long m = mask(bits);
        long sign = 1L << (bits - 1);
        return switch (r.nextInt(12)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> m;
            case 3 -> sign;
            case 4 -> sign - 1;
            case 5 -> (r.nextInt(33) - 16) & m;
            case 6 -> (sign + r.nextInt(33) - 16) & m;
            case 7 -> r.nextLong() & r.nextLong() & m;
            case 8 -> (r.nextLong() | r.nextLong()) & m;
            case 9 -> (1L << r.nextInt(bits)) & m;
            default -> r.nextLong() & m;
        };
    }

    /** A register value: interesting low {@code bits}, random (or all-0/all-1) upper bits. */
    long reg(int bits) {
        long v = interesting(bits);
        if (bits < 64) {
            long up = switch (r.nextInt(4)) {
                case 0 -> 0;
                case 1 -> -1L;
                default -> r.nextLong();
            };
            v |= up & ~mask(bits);
        }
        return v;
    }

    static final int[] FLOATS = {
        0, 0x8000_0000, 0x3F80_0000, 0xBF80_0000, 0x7F80_0000, 0xFF80_0000, // 0 -0 1 -1 inf -inf
        0x7FC0_0000, 0xFFC0_0000, 0x7F80_0001, 0x7FA0_0000, 0x7FFF_FFFF, // qNaN, indefinite, sNaNs
        0x0000_0001, 0x807F_FFFF, 0x0080_0000, 0x7F7F_FFFF, 0x4F00_0000, 0xCF00_0000, // denormal, min, max, 2^31
        0x3F00_0000, 0x3FC0_0000, 0x4040_0000, 0x5F00_0000, 0xDF00_0000, 0x4B00_0001, // .5 1.5 3 2^63
        0x3F80_0001, 0x3380_0000, 0x3400_0000, 0x007F_FFFF, 0x0080_0001, 0x7F7F_FFFE, 0x1F80_0000, // 1+ulp, 2^-24...
        0x5F80_0000, 0x2000_0001, 0x4EFF_FFFF, // 2^64, products near the subnormal range and 2^31 - 128
    };
    static final long[] DOUBLES = {
        0, 0x8000_0000_0000_0000L, 0x3FF0_0000_0000_0000L, 0xBFF0_0000_0000_0000L, 0x7FF0_0000_0000_0000L,
        0xFFF0_0000_0000_0000L, 0x7FF8_0000_0000_0000L, 0xFFF8_0000_0000_0000L, 0x7FF0_0000_0000_0001L,
        0x7FF4_0000_0000_0000L, 0x0000_0000_0000_0001L, 0x0010_0000_0000_0000L, 0x7FEF_FFFF_FFFF_FFFFL,
        0x41E0_0000_0000_0000L, 0xC1E0_0000_0000_0000L, 0x43E0_0000_0000_0000L, 0xC3E0_0000_0000_0000L,
        0x3FE0_0000_0000_0000L, 0x3FF8_0000_0000_0000L, 0x4330_0000_0000_0001L, 0x36A0_0000_0000_0000L,
        0x3FF0_0000_0000_0001L, 0x3CA0_0000_0000_0000L, 0x3CB0_0000_0000_0000L, 0x000F_FFFF_FFFF_FFFFL, // 1+ulp...
        0x0010_0000_0000_0001L, 0x7FEF_FFFF_FFFF_FFFEL, 0x1FF0_0000_0000_0000L, 0x2000_0000_0000_0001L,
        0x47EF_FFFF_E000_0000L, 0x47EF_FFFF_F000_0000L, 0x3810_0000_0000_0000L, 0x380F_FFFF_F000_0000L, // float limits
        0x41DF_FFFF_FFE0_0000L, 0x43E0_0000_0000_0001L, // 2^31 - 0.5, above 2^63
    };

    /** A float with a random sign/exponent/mantissa mix, or a special value. */
    int floatBits() {
        return switch (r.nextInt(4)) {
            case 0 -> FLOATS[r.nextInt(FLOATS.length)];
            case 1 -> Float.floatToRawIntBits((float) ((r.nextDouble() - 0.5) * Math.pow(2, r.nextInt(80) - 40)));
            case 2 -> Float.floatToRawIntBits((float) (r.nextInt(2001) - 1000) / (1 << r.nextInt(4)));
            default -> r.nextInt();
        };
    }

    long doubleBits() {
        return switch (r.nextInt(4)) {
            case 0 -> DOUBLES[r.nextInt(DOUBLES.length)];
            case 1 -> Double.doubleToRawLongBits((r.nextDouble() - 0.5) * Math.pow(2, r.nextInt(200) - 100));
            case 2 -> Double.doubleToRawLongBits((double) (r.nextInt(2001) - 1000) / (1 << r.nextInt(4)));
            default -> r.nextLong();
        };
    }

    /** Half an XMM register: integers of some lane width, two floats or a double. */
    long vectorHalf() {
        return switch (r.nextInt(6)) {
            case 0 -> (floatBits() & 0xFFFF_FFFFL) | (long) floatBits() << 32;
            case 1 -> doubleBits();
            case 2 -> interesting(64);
            case 3 -> (interesting(16) & 0xFFFF) | (interesting(16) & 0xFFFF) << 16 | (interesting(16) & 0xFFFF) << 32
                | interesting(16) << 48;
            case 4 -> (interesting(8) & 0xFF) | (interesting(8) & 0xFF) << 8 | (interesting(32) & 0xFFFF_FFFFL) << 32
                | (interesting(8) & 0xFF) << 16;
            default -> r.nextLong();
        };
    }

    int size() {
        return switch (r.nextInt(4)) {
            case 0 -> 8;
            case 1 -> 16;
            case 2 -> 32;
            default -> 64;
        };
    }

    int sizeNo8() {
        return switch (r.nextInt(3)) {
            case 0 -> 16;
            case 1 -> 32;
            default -> 64;
        };
    }

    boolean chance(int oneIn) {
        return r.nextInt(oneIn) == 0;
    }

    // ---- registers

    private boolean usable(int reg) {
        return reg != 4 && (avoidRegs & (1 << reg)) == 0 && (pointerRegs & (1 << reg)) == 0;
    }

    /** A general register other than RSP and the pointer/avoided registers. */
    int gpr() {
        int g;
        do {
            g = r.nextInt(16);
        } while (!usable(g));
        return g;
    }

    /** The full register a byte register lives in. */
    static int full(int reg8) {
        return Asm.isHigh8(reg8) ? reg8 - Asm.AH : reg8;
    }

    /**
     * n byte registers usable together in one instruction: either from the legacy set
     * (AL,CL,DL,BL,AH,CH,DH,BH) or, when {@code rex} is set or by chance, from the REX set
     * (AL..R15B without SPL).
     */
    int[] regs8(int n, boolean rex) {
        boolean legacy = !rex && r.nextBoolean();
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int g;
            int tries = 0;
            do {
                if (++tries > 200) { // every legacy byte register holds an address: redraw the case
                    throw new Asm.Unencodable("no usable byte register");
                }
                g = legacy ? (r.nextBoolean() ? r.nextInt(4) : Asm.AH + r.nextInt(4)) : r.nextInt(16);
            } while (!usable(full(g)) || g == 4);
            out[i] = g;
        }
        return out;
    }

    /** n registers for an instruction of the given operand size. */
    int[] regs(int size, int n, boolean rex) {
        if (size == 8) {
            return regs8(n, rex);
        }
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = gpr();
        }
        return out;
    }

    /** Sets the value of a (possibly byte) register operand of the given size, keeping other bits. */
    void setReg(int reg, int size, long v) {
        if ((pointerRegs & (1 << full(reg))) != 0) {
            throw new Asm.Unencodable("would overwrite an address register"); // redraw the case
        }
        if (Asm.isHigh8(reg)) {
            int f = full(reg);
            regs[f] = (regs[f] & ~0xFF00L) | ((v & 0xFF) << 8);
        } else {
            regs[reg] = (regs[reg] & ~mask(size)) | (v & mask(size));
        }
    }

    long getReg(int reg, int size) {
        if (Asm.isHigh8(reg)) {
            return (regs[full(reg)] >>> 8) & 0xFF;
        }
        return regs[reg] & mask(size);
    }

    // ---- memory

    /**
     * A memory operand of {@code bytes} whose effective address lies at least {@code margin}
     * bytes inside the data area, in a random addressing form; sets up its base/index registers
     * and marks them as pointer registers.
     */
    Asm.Mem mem(int bytes, int margin) {
        return mem(bytes, margin, 1);
    }

    /** The effective address of the last operand from {@link #mem}. */
    long lastTarget;

    /** A random address of {@code bytes} at least {@code margin} bytes inside the data area. */
    long dataTarget(int bytes, int margin) {
        return dataBase + margin + r.nextInt((int) NativeCpu.DATA_SIZE - 2 * margin - bytes);
    }

    Asm.Mem mem(int bytes, int margin, int align) {
        long target = dataTarget(bytes, margin) & -align;
        lastTarget = target;
        int form = r.nextInt(10);
        int dispBytes = switch (r.nextInt(3)) {
            case 0 -> -1;
            case 1 -> 1;
            default -> 4;
        };
        long disp = switch (dispBytes) {
            case 1 -> r.nextInt(256) - 128;
            case 4 -> r.nextInt(4) == 0 ? r.nextInt(256) - 128 : r.nextInt();
            default -> r.nextBoolean() ? 0 : r.nextInt(256) - 128;
        };
        switch (form) {
            case 0: // RIP-relative
                return new Asm.Mem(Asm.RIP, Asm.NONE, 1, target, 4, false);
            case 1: // absolute disp32 (SIB, no base, no index)
                return new Asm.Mem(Asm.NONE, Asm.NONE, 1, target, 4, false);
            case 2: { // index*scale + disp32, no base
                int index = pointer(Asm.NONE);
                int scale = 1 << r.nextInt(4);
                long iv = r.nextInt(129) - 64;
                regs[index] = iv;
                return new Asm.Mem(Asm.NONE, index, scale, target - iv * scale, 4, false);
            }
            case 3:
            case 4: { // base + disp
                int base = pointer(Asm.NONE);
                regs[base] = target - disp;
                return new Asm.Mem(base, Asm.NONE, 1, disp, dispBytes, false);
            }
            case 5: { // 32-bit address size: base + index*scale + disp, upper register bits junk
                int base = pointer(Asm.NONE);
                int index = pointer(base);
                int scale = 1 << r.nextInt(4);
                long iv = r.nextInt(129) - 64;
                regs[index] = (iv & 0xFFFF_FFFFL) | (r.nextLong() << 32);
                long b = target - disp - iv * scale;
                regs[base] = (b & 0xFFFF_FFFFL) | (r.nextLong() << 32);
                return new Asm.Mem(base, index, scale, disp, dispBytes, true);
            }
            default: { // base + index*scale + disp
                int base = pointer(Asm.NONE);
                int index = pointer(base);
                int scale = 1 << r.nextInt(4);
                long iv = r.nextInt(4) == 0 ? -r.nextInt(1 << 20) : r.nextInt(129) - 64;
                regs[index] = iv;
                regs[base] = target - disp - iv * scale;
                return new Asm.Mem(base, index, scale, disp, dispBytes, false);
            }
        }
    }

    private int pointer(int notThis) {
        int g;
        do {
            g = r.nextInt(16);
        } while (g == 4 || g == notThis || (avoidRegs & (1 << g)) != 0 || (pointerRegs & (1 << g)) != 0);
        pointerRegs |= 1 << g;
        return g;
    }

    /** An r/m operand and {@code n} register operands, all encodable together. */
    record Ops(Asm.Rm rm, int[] regs) {
        int reg(int i) {
            return regs[i];
        }
    }

    /** Operands for an instruction: r/m is memory (when allowed) about half the time. */
    Ops ops(int size, int n, boolean memAllowed, int margin) {
        if (memAllowed && r.nextBoolean()) {
            Asm.Mem m = mem(Math.max(1, size / 8), margin);
            return new Ops(m, regs(size, n, m.needsRex()));
        }
        int[] all = regs(size, n + 1, false);
        int[] rest = new int[n];
        System.arraycopy(all, 1, rest, 0, n);
        return new Ops(new Asm.Reg(all[0]), rest);
    }

    /** Writes a little-endian value into the data area at guest/host address {@code addr}. */
    void poke(long addr, long v, int bytes) {
        int off = (int) (addr - dataBase);
        for (int i = 0; i < bytes; i++) {
            data[off + i] = (byte) (v >>> (8 * i));
        }
    }

    long peek(long addr, int bytes) {
        int off = (int) (addr - dataBase);
        long v = 0;
        for (int i = 0; i < bytes; i++) {
            v |= (data[off + i] & 0xFFL) << (8 * i);
        }
        return v;
    }

    /** Gives an operand (register or the memory operand just made) an interesting value. */
    void setOperand(Asm.Rm rm, int size, long v) {
        if (rm instanceof Asm.Reg reg) {
            setReg(reg.num(), size, v);
        } else {
            poke(lastTarget, v, size / 8);
        }
    }

    long getOperand(Asm.Rm rm, int size) {
        if (rm instanceof Asm.Reg reg) {
            return getReg(reg.num(), size);
        }
        return peek(lastTarget, size / 8);
    }

    void note(String s) {
        if (!note.isEmpty()) {
            note.append("; ");
        }
        note.append(s);
    }

    /** Whether the case is about SSE (reports then show XMM registers and MXCSR). */
    boolean sse;
    /** MXCSR bits compared (all by default). */
    long mxcsrMask = 0xFFFF;
    /** XMM registers (bit i = XMMi) not compared. */
    int ignoreXmm;
    /** Doubles in the data area compared within approxUlps (see Case). */
    long approxAddr;
    int approxCount;
    int approxUlps;

    Case build(String family) {
        return new Case(family, codeAddr, a.bytes(), regs.clone(), data.clone(), flagMask, ignoreRegs, note.toString(),
            sse, mxcsrMask, ignoreXmm, approxAddr, approxCount, approxUlps);
    }
}
