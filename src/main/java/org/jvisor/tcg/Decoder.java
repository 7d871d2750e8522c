package org.jvisor.tcg;

/**
 * Decodes x86 instruction bytes into an {@link Insn} (SDM vol. 2, chapter 2 and appendix A):
 * legacy prefixes, REX, the one-byte, 0F, 0F38 and 0F3A maps, ModRM/SIB (16-, 32- and 64-bit
 * addressing, RIP-relative) and displacement/immediate sizes. It does not judge whether an opcode
 * is implemented; the executor raises #UD for those.
 */
public final class Decoder {
    /** The longest x86 instruction, prefixes included; a longer one raises #GP (SDM vol. 2, 2.3.11). */
    static final int MAX_INSN_LEN = 15;

    /** Bytes available for decoding, fetched by the caller; reading past {@link #avail} raises {@link #pastEnd}. */
    private final byte[] buf = new byte[16];
    private int avail;
    private CpuFault pastEnd;

    byte[] buffer() {
        return buf;
    }

    /** Declares how many bytes of {@link #buffer()} are valid and what fetching more would raise. */
    void setAvailable(int n, CpuFault faultBeyond) {
        avail = n;
        pastEnd = faultBeyond;
    }

    private int pos;

    private int u8() {
        if (pos >= MAX_INSN_LEN) {
            throw CpuFault.gp0(); // longer than the longest instruction
        }
        if (pos >= avail) {
            throw pastEnd != null ? pastEnd : CpuFault.gp0();
        }
        return buf[pos++] & 0xFF;
    }

    private long s8() {
        return (byte) u8();
    }

    private long s16() {
        int lo = u8();
        return (short) (lo | u8() << 8);
    }

    private long s32() {
        int b0 = u8(), b1 = u8(), b2 = u8(), b3 = u8();
        return b0 | b1 << 8 | b2 << 16 | b3 << 24;
    }

    private long u64() {
        long lo = s32() & 0xFFFF_FFFFL;
        return lo | s32() << 32;
    }

    private long imm(int size) {
        return switch (size) {
            case 1 -> s8();
            case 2 -> s16();
            default -> s32();
        };
    }

    /**
     * Decodes one instruction for a code segment of {@code mode} bits (64 = long mode CS.L, 32 or
     * 16 from CS.D). Throws #GP for an overlong instruction and #PF/#GP for unfetchable bytes.
     */
    public void decode(Insn in, int mode) {
        in.reset();
        in.mode = (byte) mode;
        pos = 0;
        boolean opsize = false, adsize = false;
        int b;
        prefixes:
        while (true) {
            b = u8();
            switch (b) {
                case 0x66 -> opsize = true;
                case 0x67 -> adsize = true;
                case 0xF0 -> in.lock = true;
                case 0xF2, 0xF3 -> in.rep = (short) b;
                case 0x26 -> setSeg(in, Insn.ES);
                case 0x2E -> setSeg(in, Insn.CS);
                case 0x36 -> setSeg(in, Insn.SS);
                case 0x3E -> setSeg(in, Insn.DS);
                case 0x64 -> setSeg(in, Insn.FS);
                case 0x65 -> setSeg(in, Insn.GS);
                default -> {
                    if (mode == 64 && (b & 0xF0) == 0x40) {
                        in.rex = (byte) b; // a later REX supersedes an earlier one
                        continue;
                    }
                    break prefixes;
                }
            }
            in.rex = 0; // REX counts only immediately before the opcode (SDM vol. 2, 2.2.1)
        }
        in.opsizePrefix = opsize;
        boolean rexW = (in.rex & 8) != 0;
        if (mode == 64) {
            in.osz = (byte) (rexW ? 8 : opsize ? 2 : 4);
            in.asz = (byte) (adsize ? 4 : 8);
        } else if (mode == 32) {
            in.osz = (byte) (opsize ? 2 : 4);
            in.asz = (byte) (adsize ? 2 : 4);
        } else {
            in.osz = (byte) (opsize ? 4 : 2);
            in.asz = (byte) (adsize ? 4 : 2);
        }
        int op = b;
        boolean modrm;
        int immSize = 0;
        if (b == 0x0F) {
            b = u8();
            if (b == 0x38) {
                op = Insn.MAP_0F38 | u8();
                modrm = true;
            } else if (b == 0x3A) {
                op = Insn.MAP_0F3A | u8();
                modrm = true;
                immSize = 1;
            } else {
                op = Insn.MAP_0F | b;
                modrm = hasModrm0F(b);
                immSize = imm0F(b, in);
            }
        } else {
            modrm = hasModrm1(b);
            if (mode == 64 && isDefault64(b)) {
                in.osz = (byte) (opsize ? 2 : 8);
            }
        }
        in.op = (short) op;
        if (mode == 64 && (op == (Insn.MAP_0F | 0xA0) || op == (Insn.MAP_0F | 0xA1)
            || op == (Insn.MAP_0F | 0xA8) || op == (Insn.MAP_0F | 0xA9)
            || (op >= (Insn.MAP_0F | 0x80) && op <= (Insn.MAP_0F | 0x8F)))) {
            in.osz = (byte) (opsize ? 2 : 8);
        }
        if (modrm) {
            in.hasModrm = true;
            decodeModrm(in, mode);
            if (op == 0xFF && mode == 64 && (in.reg & 7) >= 2 && (in.reg & 7) <= 6 && (in.reg & 7) != 3 && (in.reg & 7) != 5) {
                in.osz = (byte) (opsize ? 2 : 8); // near call/jmp/push through r/m default to 64-bit
            }
            if (op == 0x8F && mode == 64) {
                in.osz = (byte) (opsize ? 2 : 8);
            }
        }
        if (op < 0x100) {
            immSize = imm1(op, in, mode);
        }
        switch (immSize) {
            case 0 -> { }
            case 1, 2, 4 -> in.imm = imm(immSize);
            case 8 -> in.imm = u64();
            case 3 -> { // ENTER: iw, ib
                in.imm = s16() & 0xFFFF;
                in.disp = u8(); // imm2: no ModRM, so no displacement
            }
            case 5 -> { // far pointer: offset (osz) then selector
                in.imm = in.osz == 2 ? s16() & 0xFFFF : s32() & 0xFFFF_FFFFL;
                in.disp = (int) (s16() & 0xFFFF); // imm2
            }
            case 6 -> // moffs: address-size offset
                in.imm = in.asz == 8 ? u64() : in.asz == 4 ? s32() & 0xFFFF_FFFFL : s16() & 0xFFFF;
            default -> throw new IllegalStateException("imm kind " + immSize);
        }
        in.len = (byte) pos;
        if (mode == 64 && !in.lock) {
            classify(in);
        }
    }

    /** Picks a fast-path handler for the forms that dominate real code (see Interpreter#exec). */
    private static void classify(Insn in) {
        int op = in.op;
        boolean wide = in.osz >= 4;
        boolean reg = in.hasModrm && in.mod == 3;
        if ((op >= 0x70 && op <= 0x7F) || (op >= 0x180 && op <= 0x18F)) {
            in.handler = Insn.H_JCC;
            in.kind = (byte) (op & 0xF);
            return;
        }
        switch (op) {
            case 0xE9, 0xEB -> in.handler = Insn.H_JMP;
            case 0xE8 -> in.handler = (byte) (in.osz == 8 ? Insn.H_CALL : Insn.H_GENERIC);
            case 0xC3 -> in.handler = (byte) (in.osz == 8 ? Insn.H_RET : Insn.H_GENERIC);
            case 0x01, 0x09, 0x21, 0x29, 0x31, 0x39, 0x03, 0x0B, 0x23, 0x2B, 0x33, 0x3B -> {
                if (wide) {
                    in.kind = (byte) (op >>> 3);
                    if (reg) {
                        in.handler = Insn.H_ALU_RR;
                        boolean toReg = (op & 2) != 0;
                        in.dst = toReg ? in.reg : in.rm;
                        in.src = toReg ? in.rm : in.reg;
                    } else if ((op & 2) != 0) {
                        in.handler = Insn.H_ALU_RM;
                        in.dst = in.reg;
                    } else {
                        in.handler = Insn.H_ALU_MR;
                        in.src = in.reg;
                    }
                }
            }
            case 0x81, 0x83 -> {
                int k = in.reg & 7;
                if (wide && k != 2 && k != 3) {
                    in.handler = (byte) (reg ? Insn.H_ALU_RI : Insn.H_ALU_MI);
                    in.kind = (byte) k;
                    in.dst = in.rm;
                }
            }
            case 0x90 -> {
                if ((in.rex & 1) == 0) {
                    in.handler = Insn.H_NOP;
                }
            }
            case 0x11F -> in.handler = Insn.H_NOP;
            case 0xC7 -> {
                if (wide && !reg && (in.reg & 7) == 0) {
                    in.handler = Insn.H_MOV_MI;
                }
            }
            case 0x63 -> {
                if (in.osz == 8) {
                    in.handler = Insn.H_MOVSXD;
                    in.dst = in.reg;
                }
            }
            case 0xC1 -> {
                int k = in.reg & 7;
                if (reg && wide && (k == 4 || k == 5 || k == 7)) {
                    in.handler = Insn.H_SHIFT_RI;
                    in.kind = (byte) k;
                    in.dst = in.rm;
                }
            }
            case 0xFF -> {
                int k = in.reg & 7;
                if (reg && wide && k <= 1) {
                    in.handler = Insn.H_INCDEC_R;
                    in.kind = (byte) k;
                    in.dst = in.rm;
                } else if (in.osz == 8 && (k == 2 || k == 4)) {
                    in.handler = (byte) (k == 2 ? Insn.H_CALL_IND : Insn.H_JMP_IND);
                }
            }
            case 0x85 -> {
                if (reg && wide) {
                    in.handler = Insn.H_TEST_RR;
                    in.dst = in.rm;
                    in.src = in.reg;
                }
            }
            case 0x89, 0x8B -> {
                if (wide) {
                    if (reg) {
                        in.handler = Insn.H_MOV_RR;
                        in.dst = op == 0x8B ? in.reg : in.rm;
                        in.src = op == 0x8B ? in.rm : in.reg;
                    } else {
                        in.handler = (byte) (op == 0x8B ? Insn.H_LOAD : Insn.H_STORE);
                        in.dst = in.reg;
                    }
                }
            }
            case 0x8D -> {
                if (wide && !reg) {
                    in.handler = Insn.H_LEA;
                    in.dst = in.reg;
                }
            }
            case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57 -> {
                if (in.osz == 8) {
                    in.handler = Insn.H_PUSH;
                    in.src = (byte) ((op & 7) | (in.rex & 1) << 3);
                }
            }
            case 0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F -> {
                if (in.osz == 8) {
                    in.handler = Insn.H_POP;
                    in.dst = (byte) ((op & 7) | (in.rex & 1) << 3);
                }
            }
            case 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF -> {
                if (wide) {
                    in.handler = Insn.H_MOV_RI;
                    in.dst = (byte) ((op & 7) | (in.rex & 1) << 3);
                }
            }
            case 0x140, 0x141, 0x142, 0x143, 0x144, 0x145, 0x146, 0x147, 0x148, 0x149, 0x14A, 0x14B, 0x14C, 0x14D,
                 0x14E, 0x14F -> {
                if (wide) {
                    in.handler = Insn.H_CMOV;
                    in.kind = (byte) (op & 0xF);
                    in.dst = in.reg;
                }
            }
            case 0x190, 0x191, 0x192, 0x193, 0x194, 0x195, 0x196, 0x197, 0x198, 0x199, 0x19A, 0x19B, 0x19C, 0x19D,
                 0x19E, 0x19F -> {
                if (reg) {
                    in.handler = Insn.H_SETCC_R;
                    in.kind = (byte) (op & 0xF);
                }
            }
            case 0x1B6 -> {
                if (wide && !reg) {
                    in.handler = Insn.H_MOVZX_LOAD;
                    in.dst = in.reg;
                }
            }
            default -> { }
        }
    }

    private static void setSeg(Insn in, int seg) {
        in.seg = (byte) seg;
        in.segOverride = true;
    }

    private void decodeModrm(Insn in, int mode) {
        int m = u8();
        in.mod = (byte) (m >>> 6);
        in.reg = (byte) (((m >>> 3) & 7) | ((in.rex & 4) << 1));
        int rm = m & 7;
        if (in.mod == 3) {
            in.rm = (byte) (rm | ((in.rex & 1) << 3));
            return;
        }
        if (in.asz == 2) {
            decodeModrm16(in, rm);
            return;
        }
        if (rm == 4) {
            int sib = u8();
            in.scale = (byte) (sib >>> 6);
            int idx = ((sib >>> 3) & 7) | ((in.rex & 2) << 2);
            in.index = (byte) (idx == 4 ? Insn.NONE : idx);
            int base = sib & 7;
            if (base == 5 && in.mod == 0) {
                in.base = Insn.NONE;
                in.disp = (int) s32();
            } else {
                in.base = (byte) (base | ((in.rex & 1) << 3));
            }
        } else if (rm == 5 && in.mod == 0) {
            in.base = (byte) (mode == 64 ? Insn.RIP_BASE : Insn.NONE);
            in.disp = (int) s32();
        } else {
            in.base = (byte) (rm | ((in.rex & 1) << 3));
        }
        if (in.mod == 1) {
            in.disp = (int) s8();
        } else if (in.mod == 2) {
            in.disp = (int) s32();
        }
        if (!in.segOverride && (in.base == 4 || in.base == 5)) {
            in.seg = Insn.SS;
        }
    }

    private void decodeModrm16(Insn in, int rm) {
        // SDM vol. 2, table 2-1: BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP, BX
        int[] bases = {3, 3, 5, 5, 6, 7, 5, 3};
        int[] idx = {6, 7, 6, 7, Insn.NONE, Insn.NONE, Insn.NONE, Insn.NONE};
        if (rm == 6 && in.mod == 0) {
            in.base = Insn.NONE;
            in.disp = (int) s16() & 0xFFFF;
        } else {
            in.base = (byte) bases[rm];
            in.index = (byte) idx[rm];
            if (in.mod == 1) {
                in.disp = (int) s8();
            } else if (in.mod == 2) {
                in.disp = (int) s16();
            }
            if (!in.segOverride && (rm == 2 || rm == 3 || rm == 6)) {
                in.seg = Insn.SS;
            }
        }
    }

    private static boolean hasModrm1(int b) {
        if (b < 0x40) {
            return (b & 7) < 4;
        }
        return switch (b) {
            case 0x62, 0x63, 0x69, 0x6B, 0xC0, 0xC1, 0xC4, 0xC5, 0xC6, 0xC7, 0xD0, 0xD1, 0xD2, 0xD3,
                 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xF6, 0xF7, 0xFE, 0xFF -> true;
            default -> b >= 0x80 && b <= 0x8F;
        };
    }

    private static boolean isDefault64(int b) {
        return (b >= 0x50 && b <= 0x5F) || b == 0x68 || b == 0x6A || (b >= 0x70 && b <= 0x7F)
            || b == 0x9C || b == 0x9D || b == 0xC2 || b == 0xC3 || b == 0xC8 || b == 0xC9
            || (b >= 0xE0 && b <= 0xE3) || b == 0xE8 || b == 0xE9 || b == 0xEB;
    }

    /** Immediate kind of a one-byte opcode: 0 none, 1/2/4/8 bytes, 3 ENTER, 5 far pointer, 6 moffs. */
    private static int imm1(int b, Insn in, int mode) {
        int z = in.osz == 2 ? 2 : 4;
        if (b < 0x40) {
            int lo = b & 7;
            return lo == 4 ? 1 : lo == 5 ? z : 0;
        }
        if (b >= 0xB0 && b <= 0xB7) {
            return 1;
        }
        if (b >= 0xB8 && b <= 0xBF) {
            return in.osz;
        }
        if (b >= 0x70 && b <= 0x7F) {
            return 1;
        }
        return switch (b) {
            case 0x6A, 0x6B, 0x80, 0x82, 0x83, 0xA8, 0xC0, 0xC1, 0xC6, 0xCD, 0xD4, 0xD5,
                 0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xEB -> 1;
            case 0x68, 0x69, 0x81, 0xA9, 0xC7 -> z;
            case 0xE8, 0xE9 -> mode == 64 ? 4 : z;
            case 0xC2, 0xCA -> 2;
            case 0xC8 -> 3;
            case 0x9A, 0xEA -> mode == 64 ? 0 : 5;
            case 0xA0, 0xA1, 0xA2, 0xA3 -> 6;
            case 0xF6 -> (in.reg & 7) < 2 ? 1 : 0;
            case 0xF7 -> (in.reg & 7) < 2 ? z : 0;
            default -> 0;
        };
    }

    private static boolean hasModrm0F(int b) {
        if (b >= 0x80 && b <= 0x8F) {
            return false;
        }
        if (b >= 0xC8 && b <= 0xCF) {
            return false;
        }
        return switch (b) {
            case 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0E, 0x30, 0x31, 0x32, 0x33, 0x34,
                 0x35, 0x36, 0x37, 0x77, 0xA0, 0xA1, 0xA2, 0xA8, 0xA9, 0xAA -> false;
            default -> true;
        };
    }

    private static int imm0F(int b, Insn in) {
        if (b >= 0x80 && b <= 0x8F) {
            return in.mode == 64 ? 4 : in.osz == 2 ? 2 : 4;
        }
        return switch (b) {
            case 0x70, 0x71, 0x72, 0x73, 0xA4, 0xAC, 0xBA, 0xC2, 0xC4, 0xC5, 0xC6 -> 1;
            default -> 0;
        };
    }
}
