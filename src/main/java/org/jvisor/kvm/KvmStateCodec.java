package org.jvisor.kvm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.jvisor.cpu.DescriptorTable;
import org.jvisor.cpu.SegmentRegister;
import org.jvisor.cpu.X86State;

import static org.jvisor.kvm.KvmStructs.KVM_FPU;
import static org.jvisor.kvm.KvmStructs.KVM_SEGMENT;
import static org.jvisor.kvm.KvmStructs.KVM_SREGS;
import static org.jvisor.kvm.KvmStructs.offset;

/** Converts between {@link X86State} and kvm_regs / kvm_sregs / kvm_fpu / MSR lists. */
final class KvmStateCodec {
    /** kvm_regs field i holds this Gpr ordinal (kvm_regs order is rax rbx rcx rdx rsi rdi rsp rbp r8..). */
    private static final int[] REGS_TO_GPR = {0, 3, 1, 2, 6, 7, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15};
    private static final long RIP = 16 * 8;
    private static final long RFLAGS = 17 * 8;

    private static final String[] SEGS = {"cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"};

    /** MSRs carried in X86State outside sregs, in the order of {@link #MSR_INDICES}. */
    static final int[] MSR_INDICES = {
        0xC000_0081, 0xC000_0082, 0xC000_0083, 0xC000_0084, 0xC000_0102,
        0x174, 0x175, 0x176, 0x277, 0xC000_0103,
    };

    private KvmStateCodec() {
    }

    static void readRegs(MemorySegment regs, X86State st) {
        for (int i = 0; i < 16; i++) {
            st.gpr[REGS_TO_GPR[i]] = regs.get(ValueLayout.JAVA_LONG, i * 8L);
        }
        st.rip = regs.get(ValueLayout.JAVA_LONG, RIP);
        st.rflags = regs.get(ValueLayout.JAVA_LONG, RFLAGS);
    }

    static void writeRegs(X86State st, MemorySegment regs) {
        for (int i = 0; i < 16; i++) {
            regs.set(ValueLayout.JAVA_LONG, i * 8L, st.gpr[REGS_TO_GPR[i]]);
        }
        regs.set(ValueLayout.JAVA_LONG, RIP, st.rip);
        regs.set(ValueLayout.JAVA_LONG, RFLAGS, st.rflags | X86State.FIXED1);
    }

    static void readSregs(MemorySegment s, X86State st) {
        SegmentRegister[] segs = {st.cs, st.ds, st.es, st.fs, st.gs, st.ss, st.tr, st.ldtr};
        for (int i = 0; i < SEGS.length; i++) {
            readSegment(s.asSlice(offset(KVM_SREGS, SEGS[i]), KVM_SEGMENT.byteSize()), segs[i]);
        }
        readDtable(s, "gdt", st.gdtr);
        readDtable(s, "idt", st.idtr);
        st.cr0 = s.get(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "cr0"));
        st.cr2 = s.get(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "cr2"));
        st.cr3 = s.get(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "cr3"));
        st.cr4 = s.get(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "cr4"));
        st.cr8 = s.get(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "cr8"));
        st.efer = s.get(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "efer"));
        st.apicBase = s.get(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "apic_base"));
    }

    static void writeSregs(X86State st, MemorySegment s) {
        s.fill((byte) 0);
        SegmentRegister[] segs = {st.cs, st.ds, st.es, st.fs, st.gs, st.ss, st.tr, st.ldtr};
        for (int i = 0; i < SEGS.length; i++) {
            writeSegment(segs[i], s.asSlice(offset(KVM_SREGS, SEGS[i]), KVM_SEGMENT.byteSize()));
        }
        writeDtable(st.gdtr, s, "gdt");
        writeDtable(st.idtr, s, "idt");
        s.set(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "cr0"), st.cr0);
        s.set(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "cr2"), st.cr2);
        s.set(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "cr3"), st.cr3);
        s.set(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "cr4"), st.cr4);
        s.set(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "cr8"), st.cr8);
        s.set(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "efer"), st.efer);
        s.set(ValueLayout.JAVA_LONG, offset(KVM_SREGS, "apic_base"), st.apicBase);
    }

    private static void readSegment(MemorySegment k, SegmentRegister r) {
        r.base = k.get(ValueLayout.JAVA_LONG, 0);
        r.limit = k.get(ValueLayout.JAVA_INT, 8);
        r.selector = Short.toUnsignedInt(k.get(ValueLayout.JAVA_SHORT, 12));
        r.type = k.get(ValueLayout.JAVA_BYTE, 14);
        r.present = k.get(ValueLayout.JAVA_BYTE, 15) != 0;
        r.dpl = k.get(ValueLayout.JAVA_BYTE, 16);
        r.db = k.get(ValueLayout.JAVA_BYTE, 17) != 0;
        r.s = k.get(ValueLayout.JAVA_BYTE, 18) != 0;
        r.l = k.get(ValueLayout.JAVA_BYTE, 19) != 0;
        r.g = k.get(ValueLayout.JAVA_BYTE, 20) != 0;
        r.avl = k.get(ValueLayout.JAVA_BYTE, 21) != 0;
        r.unusable = k.get(ValueLayout.JAVA_BYTE, 22) != 0;
    }

    private static void writeSegment(SegmentRegister r, MemorySegment k) {
        k.set(ValueLayout.JAVA_LONG, 0, r.base);
        k.set(ValueLayout.JAVA_INT, 8, r.limit);
        k.set(ValueLayout.JAVA_SHORT, 12, (short) r.selector);
        k.set(ValueLayout.JAVA_BYTE, 14, (byte) r.type);
        k.set(ValueLayout.JAVA_BYTE, 15, (byte) (r.present ? 1 : 0));
        k.set(ValueLayout.JAVA_BYTE, 16, (byte) r.dpl);
        k.set(ValueLayout.JAVA_BYTE, 17, (byte) (r.db ? 1 : 0));
        k.set(ValueLayout.JAVA_BYTE, 18, (byte) (r.s ? 1 : 0));
        k.set(ValueLayout.JAVA_BYTE, 19, (byte) (r.l ? 1 : 0));
        k.set(ValueLayout.JAVA_BYTE, 20, (byte) (r.g ? 1 : 0));
        k.set(ValueLayout.JAVA_BYTE, 21, (byte) (r.avl ? 1 : 0));
        k.set(ValueLayout.JAVA_BYTE, 22, (byte) (r.unusable ? 1 : 0));
    }

    private static void readDtable(MemorySegment s, String name, DescriptorTable t) {
        long at = offset(KVM_SREGS, name);
        t.base = s.get(ValueLayout.JAVA_LONG, at);
        t.limit = Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT, at + 8));
    }

    private static void writeDtable(DescriptorTable t, MemorySegment s, String name) {
        long at = offset(KVM_SREGS, name);
        s.set(ValueLayout.JAVA_LONG, at, t.base);
        s.set(ValueLayout.JAVA_SHORT, at + 8, (short) t.limit);
    }

    static void readFpu(MemorySegment f, X86State st) {
        long fpr = offset(KVM_FPU, "fpr");
        for (int i = 0; i < 8; i++) {
            st.fpMantissa[i] = f.get(ValueLayout.JAVA_LONG, fpr + i * 16L);
            st.fpExponent[i] = f.get(ValueLayout.JAVA_SHORT, fpr + i * 16L + 8);
        }
        st.fcw = Short.toUnsignedInt(f.get(ValueLayout.JAVA_SHORT, offset(KVM_FPU, "fcw")));
        st.fsw = Short.toUnsignedInt(f.get(ValueLayout.JAVA_SHORT, offset(KVM_FPU, "fsw")));
        st.ftw = Byte.toUnsignedInt(f.get(ValueLayout.JAVA_BYTE, offset(KVM_FPU, "ftwx")));
        st.fop = Short.toUnsignedInt(f.get(ValueLayout.JAVA_SHORT, offset(KVM_FPU, "last_opcode")));
        st.fip = f.get(ValueLayout.JAVA_LONG, offset(KVM_FPU, "last_ip"));
        st.fdp = f.get(ValueLayout.JAVA_LONG, offset(KVM_FPU, "last_dp"));
        long xmm = offset(KVM_FPU, "xmm");
        for (int i = 0; i < 32; i++) {
            st.xmm[i] = f.get(ValueLayout.JAVA_LONG, xmm + i * 8L);
        }
        st.mxcsr = f.get(ValueLayout.JAVA_INT, offset(KVM_FPU, "mxcsr"));
    }

    /**
     * The x87/SSE registers from a KVM_GET_XSAVE image's legacy FXSAVE region (Intel SDM vol. 1,
     * table 10-2), in the register order {@link #readFpu} uses. A snapshot reads them here: the
     * image is what KVM_SET_XSAVE puts back, and some KVMs leave kvm_fpu.mxcsr zero.
     */
    static void readFxsave(MemorySegment x, X86State st) {
        for (int i = 0; i < 8; i++) {
            st.fpMantissa[i] = x.get(ValueLayout.JAVA_LONG_UNALIGNED, 32 + i * 16L);
            st.fpExponent[i] = x.get(ValueLayout.JAVA_SHORT_UNALIGNED, 32 + i * 16L + 8);
        }
        st.fcw = Short.toUnsignedInt(x.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
        st.fsw = Short.toUnsignedInt(x.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2));
        st.ftw = Byte.toUnsignedInt(x.get(ValueLayout.JAVA_BYTE, 4));
        st.fop = Short.toUnsignedInt(x.get(ValueLayout.JAVA_SHORT_UNALIGNED, 6));
        st.fip = x.get(ValueLayout.JAVA_LONG_UNALIGNED, 8);
        st.fdp = x.get(ValueLayout.JAVA_LONG_UNALIGNED, 16);
        st.mxcsr = x.get(ValueLayout.JAVA_INT_UNALIGNED, 24);
        for (int i = 0; i < 32; i++) {
            st.xmm[i] = x.get(ValueLayout.JAVA_LONG_UNALIGNED, 160 + i * 8L);
        }
    }

    static void writeFpu(X86State st, MemorySegment f) {
        f.fill((byte) 0);
        long fpr = offset(KVM_FPU, "fpr");
        for (int i = 0; i < 8; i++) {
            f.set(ValueLayout.JAVA_LONG, fpr + i * 16L, st.fpMantissa[i]);
            f.set(ValueLayout.JAVA_SHORT, fpr + i * 16L + 8, st.fpExponent[i]);
        }
        f.set(ValueLayout.JAVA_SHORT, offset(KVM_FPU, "fcw"), (short) st.fcw);
        f.set(ValueLayout.JAVA_SHORT, offset(KVM_FPU, "fsw"), (short) st.fsw);
        f.set(ValueLayout.JAVA_BYTE, offset(KVM_FPU, "ftwx"), (byte) st.ftw);
        f.set(ValueLayout.JAVA_SHORT, offset(KVM_FPU, "last_opcode"), (short) st.fop);
        f.set(ValueLayout.JAVA_LONG, offset(KVM_FPU, "last_ip"), st.fip);
        f.set(ValueLayout.JAVA_LONG, offset(KVM_FPU, "last_dp"), st.fdp);
        long xmm = offset(KVM_FPU, "xmm");
        for (int i = 0; i < 32; i++) {
            f.set(ValueLayout.JAVA_LONG, xmm + i * 8L, st.xmm[i]);
        }
        f.set(ValueLayout.JAVA_INT, offset(KVM_FPU, "mxcsr"), st.mxcsr);
    }

    static long[] msrValues(X86State st) {
        return new long[] {st.star, st.lstar, st.cstar, st.sfmask, st.kernelGsBase,
            st.sysenterCs, st.sysenterEsp, st.sysenterEip, st.pat, st.tscAux};
    }

    static void applyMsrValues(long[] v, X86State st) {
        st.star = v[0];
        st.lstar = v[1];
        st.cstar = v[2];
        st.sfmask = v[3];
        st.kernelGsBase = v[4];
        st.sysenterCs = v[5];
        st.sysenterEsp = v[6];
        st.sysenterEip = v[7];
        st.pat = v[8];
        st.tscAux = v[9];
    }
}
