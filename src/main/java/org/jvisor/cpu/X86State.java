package org.jvisor.cpu;

/**
 * The architectural state of one x86-64 vCPU: the one class both engines read and write (kvm
 * through KVM_GET/SET_REGS, SREGS, FPU and MSRS; tcg as its live register file). Fields are public
 * on purpose: this is a register file, read and written on the engines' hot paths.
 */
public final class X86State {

    // RFLAGS bits (SDM vol. 1, 3.4.3)
    public static final long CF = 1L;
    public static final long PF = 1L << 2;
    public static final long AF = 1L << 4;
    public static final long ZF = 1L << 6;
    public static final long SF = 1L << 7;
    public static final long TF = 1L << 8;
    public static final long IF = 1L << 9;
    public static final long DF = 1L << 10;
    public static final long OF = 1L << 11;
    public static final long IOPL = 3L << 12;
    public static final long NT = 1L << 14;
    public static final long RF = 1L << 16;
    public static final long VM = 1L << 17;
    public static final long AC = 1L << 18;
    public static final long VIF = 1L << 19;
    public static final long VIP = 1L << 20;
    public static final long ID = 1L << 21;
    /** Bit 1 of RFLAGS always reads as 1. */
    public static final long FIXED1 = 1L << 1;

    // CR0 (SDM vol. 3, 2.5)
    public static final long CR0_PE = 1L;
    public static final long CR0_MP = 1L << 1;
    public static final long CR0_EM = 1L << 2;
    public static final long CR0_TS = 1L << 3;
    public static final long CR0_ET = 1L << 4;
    public static final long CR0_NE = 1L << 5;
    public static final long CR0_WP = 1L << 16;
    public static final long CR0_AM = 1L << 18;
    public static final long CR0_NW = 1L << 29;
    public static final long CR0_CD = 1L << 30;
    public static final long CR0_PG = 1L << 31;

    // CR4
    public static final long CR4_VME = 1L;
    public static final long CR4_PVI = 1L << 1;
    public static final long CR4_TSD = 1L << 2;
    public static final long CR4_DE = 1L << 3;
    public static final long CR4_PSE = 1L << 4;
    public static final long CR4_PAE = 1L << 5;
    public static final long CR4_MCE = 1L << 6;
    public static final long CR4_PGE = 1L << 7;
    public static final long CR4_PCE = 1L << 8;
    public static final long CR4_OSFXSR = 1L << 9;
    public static final long CR4_OSXMMEXCPT = 1L << 10;
    public static final long CR4_UMIP = 1L << 11;
    public static final long CR4_FSGSBASE = 1L << 16;
    public static final long CR4_PCIDE = 1L << 17;
    public static final long CR4_OSXSAVE = 1L << 18;
    public static final long CR4_SMEP = 1L << 20;
    public static final long CR4_SMAP = 1L << 21;

    // EFER (SDM vol. 3, 2.2.1)
    public static final long EFER_SCE = 1L;
    public static final long EFER_LME = 1L << 8;
    public static final long EFER_LMA = 1L << 10;
    public static final long EFER_NXE = 1L << 11;

    /** RAX..R15, indexed by {@link Gpr#ordinal()}. */
    public final long[] gpr = new long[16];
    public long rip;
    public long rflags = FIXED1;

    public final SegmentRegister cs = new SegmentRegister();
    public final SegmentRegister ds = new SegmentRegister();
    public final SegmentRegister es = new SegmentRegister();
    public final SegmentRegister fs = new SegmentRegister();
    public final SegmentRegister gs = new SegmentRegister();
    public final SegmentRegister ss = new SegmentRegister();
    public final SegmentRegister tr = new SegmentRegister();
    public final SegmentRegister ldtr = new SegmentRegister();
    public final DescriptorTable gdtr = new DescriptorTable();
    public final DescriptorTable idtr = new DescriptorTable();

    public long cr0 = CR0_ET | CR0_NW | CR0_CD;
    public long cr2;
    public long cr3;
    public long cr4;
    public long cr8;
    public long efer;
    public long apicBase = 0xFEE0_0000L | (1L << 11) | (1L << 8);
    public final long[] dr = new long[8];

    // System-call and base MSRs (SDM vol. 4, table 2-2)
    public long star;
    public long lstar;
    public long cstar;
    public long sfmask;
    public long kernelGsBase;
    public long sysenterCs;
    public long sysenterEsp;
    public long sysenterEip;
    public long pat = 0x0007_0406_0007_0406L;
    public long tscAux;

    // x87 / SSE (the FXSAVE image's contents, SDM vol. 1, 10.5.1)
    public int fcw = 0x37F;
    public int fsw;
    /** Abridged tag word as FXSAVE stores it: bit i set = ST register i is valid. */
    public int ftw;
    public int fop;
    public long fip;
    public long fdp;
    /** ST0..ST7 as 80-bit values: mantissa and sign+exponent, in physical register order. */
    public final long[] fpMantissa = new long[8];
    public final short[] fpExponent = new short[8];
    /** XMM0..XMM15, two longs each: low quadword at 2*i, high at 2*i+1. */
    public final long[] xmm = new long[32];
    public int mxcsr = 0x1F80;

    public long get(Gpr r) {
        return gpr[r.ordinal()];
    }

    public void set(Gpr r, long v) {
        gpr[r.ordinal()] = v;
    }

    public boolean longMode() {
        return (efer & EFER_LMA) != 0;
    }

    public int cpl() {
        return cs.selector & 3;
    }

    /**
     * The state after INIT (SDM vol. 3, 9.1.1, table 9-1): real mode at F000:FFF0, caches off,
     * x87/SSE at their defaults; MSRs other than EFER keep their values.
     */
    public void applyInit() {
        java.util.Arrays.fill(gpr, 0);
        gpr[2] = 0x0003_06A9L; // EDX: family/model/stepping as CPUID.1:EAX
        rip = 0xFFF0;
        rflags = FIXED1;
        cr0 = CR0_ET | CR0_NW | CR0_CD;
        cr2 = 0;
        cr3 = 0;
        cr4 = 0;
        cr8 = 0;
        efer = 0;
        for (var sr : new SegmentRegister[] {cs, ds, es, fs, gs, ss}) {
            sr.selector = 0;
            sr.base = 0;
            sr.limit = 0xFFFF;
            sr.type = 3;
            sr.s = true;
            sr.dpl = 0;
            sr.present = true;
            sr.l = false;
            sr.db = false;
            sr.g = false;
            sr.unusable = false;
        }
        cs.selector = 0xF000;
        cs.base = 0xFFFF_0000L;
        cs.type = 0xB;
        gdtr.base = 0;
        gdtr.limit = 0xFFFF;
        idtr.base = 0;
        idtr.limit = 0xFFFF;
        ldtr.selector = 0;
        ldtr.base = 0;
        ldtr.limit = 0xFFFF;
        ldtr.type = 2;
        ldtr.present = true;
        tr.selector = 0;
        tr.base = 0;
        tr.limit = 0xFFFF;
        tr.type = 0xB;
        tr.present = true;
        java.util.Arrays.fill(dr, 0);
        dr[6] = 0xFFFF_0FF0L;
        dr[7] = 0x400;
        fcw = 0x37F;
        fsw = 0;
        ftw = 0;
        mxcsr = 0x1F80;
        java.util.Arrays.fill(xmm, 0);
    }

    /** The state after RESET# (power-on): as after INIT, and the MSRs held here at their defaults too. */
    public void applyPowerOn() {
        applyInit();
        X86State fresh = new X86State();
        star = fresh.star;
        lstar = fresh.lstar;
        cstar = fresh.cstar;
        sfmask = fresh.sfmask;
        kernelGsBase = fresh.kernelGsBase;
        sysenterCs = fresh.sysenterCs;
        sysenterEsp = fresh.sysenterEsp;
        sysenterEip = fresh.sysenterEip;
        pat = fresh.pat;
        tscAux = fresh.tscAux;
    }

    public void copyFrom(X86State o) {
        System.arraycopy(o.gpr, 0, gpr, 0, 16);
        rip = o.rip;
        rflags = o.rflags;
        cs.copyFrom(o.cs);
        ds.copyFrom(o.ds);
        es.copyFrom(o.es);
        fs.copyFrom(o.fs);
        gs.copyFrom(o.gs);
        ss.copyFrom(o.ss);
        tr.copyFrom(o.tr);
        ldtr.copyFrom(o.ldtr);
        gdtr.copyFrom(o.gdtr);
        idtr.copyFrom(o.idtr);
        cr0 = o.cr0;
        cr2 = o.cr2;
        cr3 = o.cr3;
        cr4 = o.cr4;
        cr8 = o.cr8;
        efer = o.efer;
        apicBase = o.apicBase;
        System.arraycopy(o.dr, 0, dr, 0, 8);
        star = o.star;
        lstar = o.lstar;
        cstar = o.cstar;
        sfmask = o.sfmask;
        kernelGsBase = o.kernelGsBase;
        sysenterCs = o.sysenterCs;
        sysenterEsp = o.sysenterEsp;
        sysenterEip = o.sysenterEip;
        pat = o.pat;
        tscAux = o.tscAux;
        fcw = o.fcw;
        fsw = o.fsw;
        ftw = o.ftw;
        fop = o.fop;
        fip = o.fip;
        fdp = o.fdp;
        System.arraycopy(o.fpMantissa, 0, fpMantissa, 0, 8);
        System.arraycopy(o.fpExponent, 0, fpExponent, 0, 8);
        System.arraycopy(o.xmm, 0, xmm, 0, 32);
        mxcsr = o.mxcsr;
    }

    /** A register dump in the spirit of QEMU's "info registers", for error reports. */
    public String dump() {
        StringBuilder sb = new StringBuilder();
        Gpr[] names = Gpr.values();
        for (int i = 0; i < 16; i++) {
            sb.append(String.format("%-3s=%016x", names[i].name(), gpr[i]));
            sb.append(i % 4 == 3 ? '\n' : ' ');
        }
        sb.append(String.format("RIP=%016x RFL=%08x CPL=%d%n", rip, rflags, cpl()));
        sb.append("CS ").append(cs).append('\n');
        sb.append("SS ").append(ss).append('\n');
        sb.append("DS ").append(ds).append('\n');
        sb.append("FS ").append(fs).append('\n');
        sb.append("GS ").append(gs).append('\n');
        sb.append("TR ").append(tr).append('\n');
        sb.append(String.format("GDT=%016x/%04x IDT=%016x/%04x%n", gdtr.base, gdtr.limit, idtr.base, idtr.limit));
        sb.append(String.format("CR0=%08x CR2=%016x CR3=%016x CR4=%08x EFER=%x%n", cr0, cr2, cr3, cr4, efer));
        return sb.toString();
    }
}
