package org.jvisor.gdb;

import org.jvisor.cpu.Gpr;
import org.jvisor.cpu.SegmentRegister;
import org.jvisor.cpu.X86State;

/**
 * gdb's x86-64 registers in the order, sizes and types of the target description QEMU 7.2 sends
 * for qemu-system-x86_64 (its i386-64bit.xml, read with {@code set debug remote 1}): the ordinal
 * is gdb's register number, and the {@code g} packet is these values in this order, little-endian.
 * Values follow what QEMU's gdbstub reports, as checked against it: outside 64-bit code the
 * general registers and RIP read as their low 32 bits and R8-R15 as 0, and writes change only the
 * low 32 bits; the x87 registers are the physical ones (not ST(i) relative to TOP), and FTAG,
 * FISEG, FIOFF, FOSEG, FOOFF and FOP read as 0, as QEMU 7.2's do.
 */
public enum GdbRegister {
    RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP, R8, R9, R10, R11, R12, R13, R14, R15,
    RIP, EFLAGS(32, "x64_eflags"),
    CS(32, "int32"), SS(32, "int32"), DS(32, "int32"), ES(32, "int32"), FS(32, "int32"), GS(32, "int32"),
    FS_BASE(64, "int64"), GS_BASE(64, "int64"), K_GS_BASE(64, "int64"),
    CR0(64, "x64_cr0"), CR2(64, "int64"), CR3(64, "x64_cr3"), CR4(64, "x64_cr4"), CR8(64, "int64"),
    EFER(64, "x64_efer"),
    ST0(80, "i387_ext"), ST1(80, "i387_ext"), ST2(80, "i387_ext"), ST3(80, "i387_ext"),
    ST4(80, "i387_ext"), ST5(80, "i387_ext"), ST6(80, "i387_ext"), ST7(80, "i387_ext"),
    FCTRL(32, "int", "float"), FSTAT(32, "int", "float"), FTAG(32, "int", "float"), FISEG(32, "int", "float"),
    FIOFF(32, "int", "float"), FOSEG(32, "int", "float"), FOOFF(32, "int", "float"), FOP(32, "int", "float"),
    XMM0(128, "vec128"), XMM1(128, "vec128"), XMM2(128, "vec128"), XMM3(128, "vec128"),
    XMM4(128, "vec128"), XMM5(128, "vec128"), XMM6(128, "vec128"), XMM7(128, "vec128"),
    XMM8(128, "vec128"), XMM9(128, "vec128"), XMM10(128, "vec128"), XMM11(128, "vec128"),
    XMM12(128, "vec128"), XMM13(128, "vec128"), XMM14(128, "vec128"), XMM15(128, "vec128"),
    MXCSR(32, "x64_mxcsr", "vector");

    private static final GdbRegister[] ALL = values();
    /** gdb's first 16 registers (rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8..) as the instruction encoding numbers them (X86State.gpr). */
    private static final int[] GPR = {
        Gpr.RAX.ordinal(), Gpr.RBX.ordinal(), Gpr.RCX.ordinal(), Gpr.RDX.ordinal(),
        Gpr.RSI.ordinal(), Gpr.RDI.ordinal(), Gpr.RBP.ordinal(), Gpr.RSP.ordinal(),
        8, 9, 10, 11, 12, 13, 14, 15};

    private final int bits;
    private final String type;
    private final String group;

    /** A general register: 64 bits; RBP and RSP are data pointers, RIP a code pointer. */
    GdbRegister() {
        this.bits = 64;
        this.type = switch (name()) {
            case "RBP", "RSP" -> "data_ptr";
            case "RIP" -> "code_ptr";
            default -> "int64";
        };
        this.group = null;
    }

    GdbRegister(int bits, String type) {
        this(bits, type, null);
    }

    GdbRegister(int bits, String type, String group) {
        this.bits = bits;
        this.type = type;
        this.group = group;
    }

    /** gdb's number for this register, or null when there is none. */
    public static GdbRegister byNumber(int n) {
        return n >= 0 && n < ALL.length ? ALL[n] : null;
    }

    /** The name gdb shows ("rax", "k_gs_base"). */
    public String gdbName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    public int bytes() {
        return bits / 8;
    }

    public int bits() {
        return bits;
    }

    /** The target description's type of this register. */
    public String type() {
        return type;
    }

    /** Its register group in the target description, or null (gdb's default for the type). */
    public String group() {
        return group;
    }

    /** The size of a {@code g} packet's register block, in bytes. */
    public static int totalBytes() {
        int n = 0;
        for (GdbRegister r : ALL) {
            n += r.bytes();
        }
        return n;
    }

    /** Whether the vCPU runs 64-bit code (long mode and CS.L): QEMU's HF_CS64 test for register widths. */
    static boolean code64(X86State s) {
        return s.longMode() && s.cs.l;
    }

    /** Puts this register's value, little-endian, at {@code out[at..at+bytes())}. */
    public void read(X86State s, byte[] out, int at) {
        int o = ordinal();
        if (o < 16 || this == RIP) {
            long v = this == RIP ? s.rip : s.gpr[GPR[o]];
            if (!code64(s)) {
                v = o >= 8 && o < 16 ? 0 : v & 0xFFFF_FFFFL;
            }
            putLong(out, at, v, 8);
            return;
        }
        switch (this) {
            case EFLAGS -> putLong(out, at, s.rflags, 4);
            case CS, SS, DS, ES, FS, GS -> putLong(out, at, segment(s).selector, 4);
            case FS_BASE -> putLong(out, at, s.fs.base, 8);
            case GS_BASE -> putLong(out, at, s.gs.base, 8);
            case K_GS_BASE -> putLong(out, at, s.kernelGsBase, 8);
            case CR0 -> putLong(out, at, s.cr0, 8);
            case CR2 -> putLong(out, at, s.cr2, 8);
            case CR3 -> putLong(out, at, s.cr3, 8);
            case CR4 -> putLong(out, at, s.cr4, 8);
            case CR8 -> putLong(out, at, s.cr8, 8);
            case EFER -> putLong(out, at, s.efer, 8);
            case ST0, ST1, ST2, ST3, ST4, ST5, ST6, ST7 -> {
                int i = o - ST0.ordinal();
                putLong(out, at, s.fpMantissa[i], 8);
                putLong(out, at + 8, s.fpExponent[i], 2);
            }
            case FCTRL -> putLong(out, at, s.fcw, 4);
            case FSTAT -> putLong(out, at, s.fsw, 4);
            case FTAG, FISEG, FIOFF, FOSEG, FOOFF, FOP -> putLong(out, at, 0, 4);
            case XMM0, XMM1, XMM2, XMM3, XMM4, XMM5, XMM6, XMM7, XMM8, XMM9, XMM10, XMM11, XMM12, XMM13, XMM14, XMM15 -> {
                int i = o - XMM0.ordinal();
                putLong(out, at, s.xmm[2 * i], 8);
                putLong(out, at + 8, s.xmm[2 * i + 1], 8);
            }
            case MXCSR -> putLong(out, at, s.mxcsr, 4);
            default -> throw new AssertionError(this);
        }
    }

    /**
     * Sets this register from {@code in[at..at+bytes())} (little-endian). A segment register can
     * only be written with the selector it has (loading another needs its descriptor, which QEMU
     * reads from the GDT; jvisor refuses it), and the x87 registers QEMU reads as 0 ignore writes.
     *
     * @throws IllegalArgumentException for a value the register cannot take
     */
    public void write(X86State s, byte[] in, int at) {
        int o = ordinal();
        if (o < 16 || this == RIP) {
            long v = getLong(in, at, 8);
            long old = this == RIP ? s.rip : s.gpr[GPR[o]];
            if (!code64(s)) {
                if (o >= 8 && o < 16) {
                    return;  // not visible outside 64-bit code: QEMU ignores the write too
                }
                v = (old & 0xFFFF_FFFF_0000_0000L) | (v & 0xFFFF_FFFFL);
            }
            if (this == RIP) {
                s.rip = v;
            } else {
                s.gpr[GPR[o]] = v;
            }
            return;
        }
        switch (this) {
            case EFLAGS -> s.rflags = getLong(in, at, 4) | X86State.FIXED1;
            case CS, SS, DS, ES, FS, GS -> {
                long sel = getLong(in, at, 4);
                if (sel != segment(s).selector) {
                    throw new IllegalArgumentException(gdbName() + ": loading another selector is not supported");
                }
            }
            case FS_BASE -> s.fs.base = getLong(in, at, 8);
            case GS_BASE -> s.gs.base = getLong(in, at, 8);
            case K_GS_BASE -> s.kernelGsBase = getLong(in, at, 8);
            case CR0 -> s.cr0 = getLong(in, at, 8);
            case CR2 -> s.cr2 = getLong(in, at, 8);
            case CR3 -> s.cr3 = getLong(in, at, 8);
            case CR4 -> s.cr4 = getLong(in, at, 8);
            case CR8 -> s.cr8 = getLong(in, at, 8) & 0xF;
            case EFER -> s.efer = getLong(in, at, 8);
            case ST0, ST1, ST2, ST3, ST4, ST5, ST6, ST7 -> {
                int i = o - ST0.ordinal();
                s.fpMantissa[i] = getLong(in, at, 8);
                s.fpExponent[i] = (short) getLong(in, at + 8, 2);
            }
            case FCTRL -> s.fcw = (int) getLong(in, at, 4) & 0xFFFF;
            case FSTAT -> s.fsw = (int) getLong(in, at, 4) & 0xFFFF;
            case FTAG, FISEG, FIOFF, FOSEG, FOOFF, FOP -> {
                // read as 0 (QEMU 7.2): nothing to write
            }
            case XMM0, XMM1, XMM2, XMM3, XMM4, XMM5, XMM6, XMM7, XMM8, XMM9, XMM10, XMM11, XMM12, XMM13, XMM14, XMM15 -> {
                int i = o - XMM0.ordinal();
                s.xmm[2 * i] = getLong(in, at, 8);
                s.xmm[2 * i + 1] = getLong(in, at + 8, 8);
            }
            case MXCSR -> s.mxcsr = (int) getLong(in, at, 4);
            default -> throw new AssertionError(this);
        }
    }

    private SegmentRegister segment(X86State s) {
        return switch (this) {
            case CS -> s.cs;
            case SS -> s.ss;
            case DS -> s.ds;
            case ES -> s.es;
            case FS -> s.fs;
            case GS -> s.gs;
            default -> throw new AssertionError(this);
        };
    }

    private static void putLong(byte[] out, int at, long v, int n) {
        for (int i = 0; i < n; i++) {
            out[at + i] = (byte) (v >>> (8 * i));
        }
    }

    private static long getLong(byte[] in, int at, int n) {
        long v = 0;
        for (int i = 0; i < n; i++) {
            v |= (in[at + i] & 0xFFL) << (8 * i);
        }
        return v;
    }
}
