package org.jvisor.qmp;

import org.jvisor.cpu.SegmentRegister;
import org.jvisor.cpu.X86State;

/**
 * HMP "info registers" for one x86-64 vCPU, in QEMU 7.2's layout (x86_cpu_dump_state with the
 * FPU; checked against its output for a Linux guest in 64-bit mode and for the reset state in real
 * mode): 64-bit fields while CS is a 64-bit code segment, 32-bit ones otherwise. What jvisor's
 * vCPU state does not record is printed as QEMU prints it for a vCPU in the usual state:
 * II=0 A20=1 SMM=0 HLT=0. A segment's attribute word is rebuilt from its parts in the
 * descriptor's layout (type, S, DPL, P, limit 19:16, AVL, L, D/B, G), as QEMU keeps it.
 */
final class RegisterDump {
    private static final String[] SEGMENT_NAMES = {"ES", "CS", "SS", "DS", "FS", "GS", "LDT", "TR"};
    private static final String[] GPR64 = {"RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP",
        "R8 ", "R9 ", "R10", "R11", "R12", "R13", "R14", "R15"};
    /** jvisor's gpr[] is in encoding order: RAX RCX RDX RBX RSP RBP RSI RDI R8..R15. */
    private static final int[] GPR_ORDER = {0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15};
    private static final String[] SYSTEM32 = {"Reserved", "TSS16-avl", "LDT", "TSS16-busy", "CallGate16", "TaskGate",
        "IntGate16", "TrapGate16", "Reserved", "TSS32-avl", "Reserved", "TSS32-busy", "CallGate32", "Reserved",
        "IntGate32", "TrapGate32"};
    private static final String[] SYSTEM64 = {"<hiword>", "Reserved", "LDT", "Reserved", "Reserved", "Reserved",
        "Reserved", "Reserved", "Reserved", "TSS64-avl", "Reserved", "TSS64-busy", "CallGate64", "Reserved",
        "IntGate64", "TrapGate64"};

    private RegisterDump() {
    }

    static String format(int index, X86State s) {
        boolean lma = s.longMode();
        boolean cs64 = lma && s.cs.l;
        boolean pe = (s.cr0 & X86State.CR0_PE) != 0;
        StringBuilder out = new StringBuilder();
        out.append("\r\nCPU#").append(index).append("\r\n");
        if (cs64) {
            for (int i = 0; i < 16; i++) {
                out.append(GPR64[i]).append('=').append(hex(s.gpr[GPR_ORDER[i]], 16)).append(i % 4 == 3 ? "\r\n" : " ");
            }
            out.append("RIP=").append(hex(s.rip, 16)).append(" RFL=").append(hex(s.rflags, 8));
        } else {
            for (int i = 0; i < 8; i++) {
                out.append('E').append(GPR64[i], 1, 3).append('=').append(hex(s.gpr[GPR_ORDER[i]] & 0xFFFF_FFFFL, 8))
                    .append(i % 4 == 3 ? "\r\n" : " ");
            }
            out.append("EIP=").append(hex(s.rip & 0xFFFF_FFFFL, 8)).append(" EFL=").append(hex(s.rflags, 8));
        }
        long f = s.rflags;
        out.append(" [").append(flag(f, X86State.DF, 'D')).append(flag(f, X86State.OF, 'O')).append(flag(f, X86State.SF, 'S'))
            .append(flag(f, X86State.ZF, 'Z')).append(flag(f, X86State.AF, 'A')).append(flag(f, X86State.PF, 'P'))
            .append(flag(f, X86State.CF, 'C')).append("] CPL=").append(s.cpl()).append(" II=0 A20=1 SMM=0 HLT=0\r\n");
        SegmentRegister[] segments = {s.es, s.cs, s.ss, s.ds, s.fs, s.gs, s.ldtr, s.tr};
        for (int i = 0; i < segments.length; i++) {
            segment(out, SEGMENT_NAMES[i], segments[i], cs64, pe, lma);
        }
        int width = cs64 ? 16 : 8;
        out.append("GDT=     ").append(hex(s.gdtr.base, width)).append(' ').append(hex(s.gdtr.limit & 0xFFFF_FFFFL, 8)).append("\r\n");
        out.append("IDT=     ").append(hex(s.idtr.base, width)).append(' ').append(hex(s.idtr.limit & 0xFFFF_FFFFL, 8)).append("\r\n");
        out.append("CR0=").append(hex(s.cr0 & 0xFFFF_FFFFL, 8)).append(" CR2=").append(hex(s.cr2, width))
            .append(" CR3=").append(hex(s.cr3, width)).append(" CR4=").append(hex(s.cr4 & 0xFFFF_FFFFL, 8)).append("\r\n");
        for (int i = 0; i < 4; i++) {
            out.append("DR").append(i).append('=').append(hex(s.dr[i], 16)).append(' ');
        }
        out.append("\r\nDR6=").append(hex(s.dr[6], 16)).append(" DR7=").append(hex(s.dr[7], 16)).append("\r\n");
        out.append("EFER=").append(hex(s.efer, 16)).append("\r\n");
        fpu(out, s, cs64);
        return out.toString();
    }

    /** "NAME=SEL BASE LIMIT FLAGS", then, in protected mode for a present segment, its DPL and kind. */
    private static void segment(StringBuilder out, String name, SegmentRegister r, boolean cs64, boolean pe, boolean lma) {
        long rawLimit = r.g ? (r.limit & 0xFFFF_FFFFL) >>> 12 : r.limit & 0xFFFF_FFFFL;
        long flags = ((long) r.type << 8) | (r.s ? 1L << 12 : 0) | ((long) r.dpl << 13) | (r.present ? 1L << 15 : 0)
            | (((rawLimit >>> 16) & 0xF) << 16) | (r.avl ? 1L << 20 : 0) | (r.l ? 1L << 21 : 0) | (r.db ? 1L << 22 : 0)
            | (r.g ? 1L << 23 : 0);
        out.append(String.format("%-3s", name)).append('=').append(hex(r.selector & 0xFFFF, 4)).append(' ')
            .append(cs64 ? hex(r.base, 16) : hex(r.base & 0xFFFF_FFFFL, 8)).append(' ')
            .append(hex(r.limit & 0xFFFF_FFFFL, 8)).append(' ').append(hex(flags, 8));
        if (pe && r.present) {
            out.append(" DPL=").append(r.dpl).append(' ');
            if (r.s) {
                if ((r.type & 8) != 0) {
                    out.append(r.l ? "CS64" : r.db ? "CS32" : "CS16").append(" [").append((r.type & 4) != 0 ? 'C' : '-')
                        .append((r.type & 2) != 0 ? 'R' : '-');
                } else {
                    out.append(r.db || lma ? "DS  " : "DS16").append(" [").append((r.type & 4) != 0 ? 'E' : '-')
                        .append((r.type & 2) != 0 ? 'W' : '-');
                }
                out.append((r.type & 1) != 0 ? 'A' : '-').append(']');
            } else {
                out.append((lma ? SYSTEM64 : SYSTEM32)[r.type & 0xF]);
            }
        }
        out.append("\r\n");
    }

    /** FCW/FSW/FTW/MXCSR, the eight x87 registers in physical order, then XMM0-15 (0-7 outside 64-bit code). */
    private static void fpu(StringBuilder out, X86State s, boolean cs64) {
        out.append("FCW=").append(hex(s.fcw & 0xFFFF, 4)).append(" FSW=").append(hex(s.fsw & 0xFFFF, 4))
            .append(" [ST=").append((s.fsw >> 11) & 7).append("] FTW=").append(hex(s.ftw & 0xFF, 2))
            .append(" MXCSR=").append(hex(s.mxcsr & 0xFFFF_FFFFL, 8)).append("\r\n");
        for (int i = 0; i < 8; i++) {
            out.append("FPR").append(i).append('=').append(hex(s.fpMantissa[i], 16)).append(' ')
                .append(hex(s.fpExponent[i] & 0xFFFF, 4)).append(i % 2 == 1 ? "\r\n" : " ");
        }
        int n = cs64 ? 16 : 8;
        for (int i = 0; i < n; i++) {
            out.append(String.format("XMM%02d=", i)).append(hex(s.xmm[2 * i + 1], 16)).append(' ')
                .append(hex(s.xmm[2 * i], 16)).append(i % 2 == 1 ? "\r\n" : " ");
        }
    }

    private static char flag(long rflags, long bit, char c) {
        return (rflags & bit) != 0 ? c : '-';
    }

    private static String hex(long v, int digits) {
        String h = Long.toHexString(v);
        return h.length() >= digits ? h : "0".repeat(digits - h.length()) + h;
    }
}
