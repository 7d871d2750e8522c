package org.jvisor.tcg.diff;

import java.util.Arrays;

/**
 * A tiny x86-64 encoder for generated test snippets: legacy prefixes, REX, opcode, ModRM/SIB with
 * every addressing form (no base, base+index*scale, RIP-relative, disp0/8/32, 32-bit address
 * size), immediates. Registers are numbered as in the encodings (0=RAX...15=R15); for byte
 * operands 0..15 mean AL..R15B with REX semantics (4..7 = SPL..DIL) and {@link #AH}..{@link #BH}
 * (16..19) are the legacy high-byte registers, which cannot be used with a REX prefix.
 */
final class Asm {
    static final int AH = 16, CH = 17, DH = 18, BH = 19;
    /** Base "register" for RIP-relative operands. */
    static final int RIP = 32;
    static final int NONE = -1;

    /** An r/m operand: a register or a memory reference. */
    sealed interface Rm permits Reg, Mem {
    }

    record Reg(int num) implements Rm {
    }

    /**
     * A memory operand. For RIP-relative operands {@code disp} is the absolute target address and
     * the encoder computes the displacement. {@code dispBytes} is the displacement width to use
     * (0, 1 or 4); -1 picks the shortest.
     */
    record Mem(int base, int index, int scale, long disp, int dispBytes, boolean addr32) implements Rm {
        boolean needsRex() {
            return (base != NONE && base != RIP && base >= 8) || (index != NONE && index >= 8);
        }
    }

    private final long address;
    private byte[] buf = new byte[64];
    private int len;

    Asm(long address) {
        this.address = address;
    }

    long pc() {
        return address + len;
    }

    int size() {
        return len;
    }

    byte[] bytes() {
        return Arrays.copyOf(buf, len);
    }

    void b(int v) {
        if (len == buf.length) {
            buf = Arrays.copyOf(buf, len * 2);
        }
        buf[len++] = (byte) v;
    }

    void imm(long v, int bytes) {
        for (int i = 0; i < bytes; i++) {
            b((int) (v >>> (8 * i)));
        }
    }

    void raw(int... bytes) {
        for (int x : bytes) {
            b(x);
        }
    }

    static boolean isHigh8(int r) {
        return r >= AH && r <= BH;
    }

    /**
     * Emits one instruction with a ModRM byte.
     *
     * @param size operand size 8/16/32/64 (16 adds 0x66, 64 adds REX.W); 0 = no size prefixes
     * @param prefixes legacy prefixes before 0x66 (LOCK, REP...)
     * @param opcode opcode bytes (including 0x0F escapes; mandatory prefixes go in prefixes)
     * @param reg the ModRM.reg field: a register number (may be a byte register when byteRegs) or
     *     an opcode extension when regIsExt
     * @param regIsExt whether {@code reg} is a /digit extension
     * @param rm the r/m operand
     * @param byteRegs whether register operands are byte registers when size is 8
     * @param immValue immediate, immBytes wide (0 = none)
     */
    void modrm(int size, int[] prefixes, int[] opcode, int reg, boolean regIsExt, Rm rm, boolean byteRegs,
               long immValue, int immBytes) {
        boolean b8 = byteRegs && size == 8;
        modrm(size, prefixes, opcode, reg, regIsExt, rm, b8, b8, immValue, immBytes);
    }

    /** As above, with separate byte-register flags for the ModRM.reg and r/m operands (MOVZX...). */
    void modrm(int size, int[] prefixes, int[] opcode, int reg, boolean regIsExt, Rm rm, boolean byteReg,
               boolean byteRm, long immValue, int immBytes) {
        int start = len;
        int extra = noise == null || noise.nextInt(3) != 0 ? 0 : 1 + noise.nextInt(2);
        boolean rex40 = noise != null && noise.nextInt(4) == 0;
        emitModrm(size, prefixes, opcode, reg, regIsExt, rm, byteReg, byteRm, immValue, immBytes, extra, rex40);
        if (len - start > MAX_LENGTH) { // the redundant prefixes made it too long: without them
            len = start;
            emitModrm(size, prefixes, opcode, reg, regIsExt, rm, byteReg, byteRm, immValue, immBytes, 0, false);
        }
        if (len - start > MAX_LENGTH) {
            throw new Unencodable("instruction longer than 15 bytes");
        }
    }

    static final int MAX_LENGTH = 15;
    /** Segment overrides that 64-bit mode ignores: CS, DS, ES, SS. */
    private static final int[] IGNORED_PREFIXES = {0x2E, 0x3E, 0x26, 0x36};

    /**
     * When set, instructions get redundant prefixes now and then (ignored segment overrides first,
     * an empty REX 0x40 where it changes nothing), to exercise the decoder's prefix handling.
     */
    java.util.SplittableRandom noise;

    private void emitModrm(int size, int[] prefixes, int[] opcode, int reg, boolean regIsExt, Rm rm, boolean byteReg,
                           boolean byteRm, long immValue, int immBytes, int extra, boolean rex40) {
        for (int i = 0; i < extra; i++) {
            b(IGNORED_PREFIXES[noise.nextInt(IGNORED_PREFIXES.length)]);
        }
        for (int p : prefixes) {
            b(p);
        }
        if (size == 16) {
            b(0x66);
        }
        boolean needRex = size == 64;
        boolean forbidRex = false;
        int rex = size == 64 ? 0x48 : 0x40;
        int regEnc = reg;
        if (!regIsExt) {
            if (byteReg && isHigh8(reg)) {
                forbidRex = true;
                regEnc = reg - AH + 4;
            } else if (byteReg && reg >= 4 && reg <= 7) {
                needRex = true;
            }
            if (regEnc >= 8) {
                rex |= 4;
                needRex = true;
            }
        }
        int mod, rmEnc;
        int sib = -1;
        long disp = 0;
        int dispBytes = 0;
        boolean ripRel = false;
        switch (rm) {
            case Reg r -> {
                mod = 3;
                rmEnc = r.num();
                if (byteRm && isHigh8(r.num())) {
                    forbidRex = true;
                    rmEnc = r.num() - AH + 4;
                } else if (byteRm && rmEnc >= 4 && rmEnc <= 7) {
                    needRex = true;
                }
                if (rmEnc >= 8) {
                    rex |= 1;
                    needRex = true;
                }
            }
            case Mem m -> {
                if (m.addr32()) {
                    b(0x67); // emitted after 0x66 - both are plain legacy prefixes, order is free
                }
                disp = m.disp();
                if (m.base() == RIP) {
                    mod = 0;
                    rmEnc = 5;
                    ripRel = true;
                    dispBytes = 4;
                } else {
                    int base = m.base(), index = m.index();
                    if (index == 4) {
                        throw new IllegalArgumentException("RSP cannot be an index");
                    }
                    if (index >= 8) {
                        rex |= 2;
                        needRex = true;
                    }
                    if (base != NONE && base >= 8) {
                        rex |= 1;
                        needRex = true;
                    }
                    int want = m.dispBytes();
                    if (base == NONE) {
                        mod = 0;
                        dispBytes = 4;
                        rmEnc = 4;
                        sib = (scaleBits(m.scale()) << 6) | ((index == NONE ? 4 : index & 7) << 3) | 5;
                    } else {
                        if (want < 0) {
                            want = disp == 0 && (base & 7) != 5 ? 0 : (disp == (byte) disp ? 1 : 4);
                        }
                        if (want == 0 && (base & 7) == 5) {
                            want = 1; // [rbp]/[r13] have no disp0 form
                        }
                        if (want == 1 && disp != (byte) disp || want == 0 && disp != 0) {
                            throw new IllegalArgumentException("displacement does not fit: " + disp);
                        }
                        dispBytes = want;
                        mod = want == 0 ? 0 : want == 1 ? 1 : 2;
                        if (index == NONE && (base & 7) != 4) {
                            rmEnc = base & 7;
                        } else {
                            rmEnc = 4;
                            sib = (scaleBits(m.scale()) << 6) | ((index == NONE ? 4 : index & 7) << 3) | (base & 7);
                        }
                    }
                    if (dispBytes == 4 && disp != (int) disp) {
                        throw new IllegalArgumentException("displacement does not fit: " + disp);
                    }
                }
            }
        }
        if (needRex && forbidRex) {
            throw new Unencodable("AH..BH cannot be encoded with a REX prefix");
        }
        if (needRex || rex40 && !forbidRex) {
            b(rex);
        }
        for (int o : opcode) {
            b(o);
        }
        b((mod << 6) | ((regEnc & 7) << 3) | (rmEnc & 7));
        if (sib >= 0) {
            b(sib);
        }
        int dispAt = len;
        imm(disp, dispBytes);
        imm(immValue, immBytes);
        if (ripRel) {
            long rel = disp - pc();
            if (rel != (int) rel) {
                throw new IllegalArgumentException("RIP-relative target out of range");
            }
            for (int i = 0; i < 4; i++) {
                buf[dispAt + i] = (byte) (rel >>> (8 * i));
            }
        }
    }

    private static int scaleBits(int scale) {
        return switch (scale) {
            case 1 -> 0;
            case 2 -> 1;
            case 4 -> 2;
            case 8 -> 3;
            default -> throw new IllegalArgumentException("scale " + scale);
        };
    }

    /** An instruction without ModRM: prefixes, optional REX (W and B bits), opcode, immediate. */
    void plain(int size, int[] prefixes, int rexB, int[] opcode, long immValue, int immBytes) {
        for (int p : prefixes) {
            b(p);
        }
        if (size == 16) {
            b(0x66);
        }
        int rex = (size == 64 ? 0x48 : 0x40) | (rexB != 0 ? 1 : 0);
        if (rex != 0x40) {
            b(rex);
        }
        for (int o : opcode) {
            b(o);
        }
        imm(immValue, immBytes);
    }

    static final int[] NO_PREFIX = {};

    /** The operands chosen cannot be encoded together (AH..BH with REX): the case is redrawn. */
    static final class Unencodable extends RuntimeException {
        Unencodable(String m) {
            super(m);
        }
    }

    static int[] op(int... bytes) {
        return bytes;
    }
}
