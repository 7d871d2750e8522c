package org.jvisor.tcg;

/**
 * One decoded instruction (SDM vol. 2, chapter 2): prefixes, opcode, ModRM/SIB operand and
 * immediates. Mutable and reused: once decoded it is cached by guest-physical address, so the
 * execution loop allocates nothing. A later bytecode translator consumes the same objects.
 */
public final class Insn {
    /** Opcode maps, as the high byte of {@link #op}. */
    public static final int MAP_0F = 0x100, MAP_0F38 = 0x200, MAP_0F3A = 0x300;
    /** Segment indices as encoded in ModRM.reg of MOV Sreg (SDM vol. 2, 3.1.1.3). */
    public static final int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
    /** {@link #base} value for RIP-relative addressing. */
    public static final int RIP_BASE = 16;
    public static final int NONE = -1;

    /** Fast-path handler kinds for the commonest 64-bit forms ({@link #handler}); 0 = generic dispatch. */
    public static final int H_GENERIC = 0, H_JCC = 1, H_JMP = 2, H_INCDEC_R = 3, H_ALU_RR = 4, H_ALU_RI = 5,
        H_MOV_RR = 6, H_LOAD = 7, H_STORE = 8, H_LEA = 9, H_TEST_RR = 10, H_PUSH = 11, H_POP = 12, H_CALL = 13,
        H_RET = 14, H_MOV_RI = 15, H_ALU_RM = 16, H_MOVZX_LOAD = 17, H_NOP = 18, H_MOV_MI = 19, H_ALU_MI = 20,
        H_CMOV = 21, H_SETCC_R = 22, H_JMP_IND = 23, H_CALL_IND = 24, H_MOVSXD = 25, H_SHIFT_RI = 26, H_ALU_MR = 27;

    /** Fast-path handler chosen after decoding (64-bit mode, no LOCK). */
    public byte handler;
    /** For fast paths: destination and source registers, ALU kind or condition code. */
    public byte dst, src, kind;

    /** Opcode: map << 8 | opcode byte. */
    public short op;
    public byte len;
    /** Operand size in bytes (2, 4 or 8) for the non-byte forms. */
    public byte osz;
    /** Address size in bytes (2, 4 or 8). */
    public byte asz;
    /** 0, 0xF3 (REP/REPE) or 0xF2 (REPNE): the last of them, as hardware takes it. */
    public short rep;
    public boolean lock;
    public boolean opsizePrefix;
    /** Segment of the memory operand: the override or the default (DS, or SS for stack bases). */
    public byte seg;
    public boolean segOverride;
    /** The REX byte, or 0. */
    public byte rex;
    public boolean hasModrm;
    public byte mod;
    /** ModRM.reg extended by REX.R. */
    public byte reg;
    /** ModRM.rm extended by REX.B (a register when mod == 3). */
    public byte rm;
    /** Memory operand: base register, RIP_BASE, or NONE. */
    public byte base;
    public byte index;
    public byte scale;
    /**
     * The memory operand's displacement (at most 32 bits, sign-extended; SDM vol. 2, 2.1.5), or
     * for ENTER and far pointers, which have no ModRM, the second immediate ({@link #imm2}).
     */
    public int disp;
    public long imm;
    /** The code-segment mode this was decoded for (16, 32 or 64). */
    public byte mode;

    /**
     * The second immediate: ENTER's nesting level, a far pointer's selector. Kept in {@link #disp}:
     * a decoded instruction is 48 bytes, not 64, and the interpreter's time on a boot goes largely
     * to loading them (BENCHMARKS.md, "Long blocks and warm units").
     */
    public int imm2() {
        return disp;
    }

    public boolean isMem() {
        return mod != 3;
    }

    void reset() {
        handler = H_GENERIC;
        op = 0;
        len = 0;
        rep = 0;
        lock = false;
        opsizePrefix = false;
        seg = DS;
        segOverride = false;
        rex = 0;
        hasModrm = false;
        mod = 3;
        reg = 0;
        rm = 0;
        base = NONE;
        index = NONE;
        scale = 0;
        disp = 0;
        imm = 0;
    }
}
