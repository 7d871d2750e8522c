package org.jvisor.cpu;

import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * The architectural state of one x86-64 vCPU as an immutable, engine-neutral record: what a
 * snapshot saves of a vCPU, in the shape both engines can fill (tcg from its register file, kvm
 * from KVM_GET_REGS/SREGS/XSAVE/XCRS/DEBUGREGS/MSRS/VCPU_EVENTS/MP_STATE). The local APIC is not
 * here: it is a device with its own record (QEMU's "apic" beside its "cpu" vmstate), restored
 * before the vCPUs.
 *
 * <p>Time follows the rule of device records: nothing holds a host clock reading. IA32_TSC (MSR
 * 0x10) is the guest's TSC at the save and a restore continues counting from it (the TSC offset
 * is recomputed on the new host); {@code kvmClockNs} is the kvmclock reading at the save, from
 * which kvmclock continues.
 *
 * <p>Where kvm fills it from (Linux Documentation/virt/kvm/api.rst; the orders QEMU and
 * Firecracker use are in shared/reference): gprs, rip, rflags from KVM_GET_REGS; segments,
 * descriptor tables, CR0-CR8, EFER and IA32_APIC_BASE from KVM_GET_SREGS; fpu from KVM_GET_FPU;
 * xcr0 from KVM_GET_XCRS; debugRegisters from KVM_GET_DEBUGREGS; msrs from KVM_GET_MSRS (TSC,
 * TSC_DEADLINE and the kvmclock MSRs among them); mpState from KVM_GET_MP_STATE; events from
 * KVM_GET_VCPU_EVENTS; kvmClockNs from KVM_GET_CLOCK. What has no engine-neutral meaning (the
 * XSAVE image, the in-kernel LAPIC page, KVM's structs whole) is kvm's own record,
 * {@code org.jvisor.kvm.KvmVcpuState} ("kvm-vcpuN" in the device records), which a kvm restore
 * puts back after this one; neither engine restores the other's file yet.
 *
 * @param gprs           RAX..R15 in encoding order ({@link Gpr}), 16 entries
 * @param rip            RIP
 * @param rflags         RFLAGS
 * @param cs             CS with its hidden part
 * @param ds             DS
 * @param es             ES
 * @param fs             FS (its base is IA32_FS_BASE)
 * @param gs             GS (its base is IA32_GS_BASE)
 * @param ss             SS
 * @param tr             the task register
 * @param ldtr           the LDT register
 * @param gdtr           GDTR
 * @param idtr           IDTR
 * @param cr0            CR0
 * @param cr2            CR2
 * @param cr3            CR3
 * @param cr4            CR4
 * @param cr8            CR8 (the task priority, as the local APIC's TPR bits 7:4)
 * @param efer           IA32_EFER
 * @param xcr0           XCR0 (1 on an engine without XSAVE: x87 only)
 * @param debugRegisters DR0, DR1, DR2, DR3, DR6, DR7
 * @param msrs           every other MSR the guest can read, by index, ascending
 * @param fpu            x87, MXCSR and XMM registers
 * @param mpState        the multiprocessor state (running, halted, waiting for SIPI)
 * @param events         interrupt shadow, NMI masking and events not yet delivered
 * @param kvmClockNs     kvmclock in guest ns at the save (system_time as the guest reads it)
 */
public record VcpuState(List<Long> gprs, long rip, long rflags, Segment cs, Segment ds, Segment es, Segment fs,
                        Segment gs, Segment ss, Segment tr, Segment ldtr, Table gdtr, Table idtr, long cr0, long cr2,
                        long cr3, long cr4, long cr8, long efer, long xcr0, List<Long> debugRegisters, List<Msr> msrs,
                        Fpu fpu, MpState mpState, Events events, long kvmClockNs) implements DeviceState {
    public static final int VERSION = 1;

    /** MSR numbers of the MSRs in {@link #msrs} that the engines share (SDM vol. 4, table 2-2). */
    public static final int MSR_TSC = 0x10, MSR_APIC_BASE = 0x1B, MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175,
        MSR_SYSENTER_EIP = 0x176, MSR_MISC_ENABLE = 0x1A0, MSR_PAT = 0x277, MSR_MTRR_DEF_TYPE = 0x2FF,
        MSR_TSC_DEADLINE = 0x6E0, MSR_STAR = 0xC000_0081, MSR_LSTAR = 0xC000_0082, MSR_CSTAR = 0xC000_0083,
        MSR_SFMASK = 0xC000_0084, MSR_KERNEL_GS_BASE = 0xC000_0102, MSR_TSC_AUX = 0xC000_0103,
        MSR_KVM_WALL_CLOCK_NEW = 0x4B56_4D00, MSR_KVM_SYSTEM_TIME_NEW = 0x4B56_4D01, MSR_KVM_ASYNC_PF_EN = 0x4B56_4D02,
        MSR_KVM_STEAL_TIME = 0x4B56_4D03, MSR_KVM_PV_EOI_EN = 0x4B56_4D04;

    public VcpuState {
        gprs = List.copyOf(gprs);
        debugRegisters = List.copyOf(debugRegisters);
        msrs = List.copyOf(msrs);
    }

    @Override
    public int version() {
        return VERSION;
    }

    /**
     * The state of register file {@code s} plus what the engine keeps elsewhere: {@code engineMsrs}
     * (TSC, MTRRs, kvmclock...; the MSRs {@link X86State} holds are added here), XCR0, the MP state,
     * the events in flight and kvmclock.
     */
    public static VcpuState of(X86State s, List<Msr> engineMsrs, long xcr0, MpState mpState, Events events,
                               long kvmClockNs) {
        TreeMap<Integer, Long> msrs = new TreeMap<>(Integer::compareUnsigned);
        msrs.put(MSR_APIC_BASE, s.apicBase);
        msrs.put(MSR_SYSENTER_CS, s.sysenterCs);
        msrs.put(MSR_SYSENTER_ESP, s.sysenterEsp);
        msrs.put(MSR_SYSENTER_EIP, s.sysenterEip);
        msrs.put(MSR_PAT, s.pat);
        msrs.put(MSR_STAR, s.star);
        msrs.put(MSR_LSTAR, s.lstar);
        msrs.put(MSR_CSTAR, s.cstar);
        msrs.put(MSR_SFMASK, s.sfmask);
        msrs.put(MSR_KERNEL_GS_BASE, s.kernelGsBase);
        msrs.put(MSR_TSC_AUX, s.tscAux);
        for (Msr m : engineMsrs) {
            msrs.put(m.index(), m.value());
        }
        byte[] st = new byte[Fpu.REGISTER_BYTES];
        for (int i = 0; i < 8; i++) {
            for (int b = 0; b < 8; b++) {
                st[10 * i + b] = (byte) (s.fpMantissa[i] >>> (8 * b));
            }
            st[10 * i + 8] = (byte) s.fpExponent[i];
            st[10 * i + 9] = (byte) (s.fpExponent[i] >>> 8);
        }
        Fpu fpu = new Fpu(s.fcw, s.fsw, s.ftw, s.fop, s.fip, s.fdp, Bytes.copyOf(st), s.mxcsr, Bytes.ofLongs(s.xmm));
        List<Long> gprs = Arrays.stream(s.gpr).boxed().toList();
        List<Long> dr = List.of(s.dr[0], s.dr[1], s.dr[2], s.dr[3], s.dr[6], s.dr[7]);
        return new VcpuState(gprs, s.rip, s.rflags, Segment.of(s.cs), Segment.of(s.ds), Segment.of(s.es),
            Segment.of(s.fs), Segment.of(s.gs), Segment.of(s.ss), Segment.of(s.tr), Segment.of(s.ldtr),
            Table.of(s.gdtr), Table.of(s.idtr), s.cr0, s.cr2, s.cr3, s.cr4, s.cr8, s.efer, xcr0, dr,
            msrs.entrySet().stream().map(e -> new Msr(e.getKey(), e.getValue())).toList(), fpu, mpState, events,
            kvmClockNs);
    }

    /**
     * Writes the register-file part into {@code s}: registers, segments, control and debug
     * registers, x87/SSE and the MSRs {@link X86State} holds. Lengths must have been checked
     * ({@link #checkShape}).
     */
    public void into(X86State s) {
        for (int i = 0; i < 16; i++) {
            s.gpr[i] = gprs.get(i);
        }
        s.rip = rip;
        s.rflags = rflags;
        cs.into(s.cs);
        ds.into(s.ds);
        es.into(s.es);
        fs.into(s.fs);
        gs.into(s.gs);
        ss.into(s.ss);
        tr.into(s.tr);
        ldtr.into(s.ldtr);
        gdtr.into(s.gdtr);
        idtr.into(s.idtr);
        s.cr0 = cr0;
        s.cr2 = cr2;
        s.cr3 = cr3;
        s.cr4 = cr4;
        s.cr8 = cr8;
        s.efer = efer;
        Arrays.fill(s.dr, 0);
        s.dr[0] = debugRegisters.get(0);
        s.dr[1] = debugRegisters.get(1);
        s.dr[2] = debugRegisters.get(2);
        s.dr[3] = debugRegisters.get(3);
        s.dr[6] = debugRegisters.get(4);
        s.dr[7] = debugRegisters.get(5);
        s.apicBase = msr(MSR_APIC_BASE, s.apicBase);
        s.sysenterCs = msr(MSR_SYSENTER_CS, 0);
        s.sysenterEsp = msr(MSR_SYSENTER_ESP, 0);
        s.sysenterEip = msr(MSR_SYSENTER_EIP, 0);
        s.pat = msr(MSR_PAT, new X86State().pat);
        s.star = msr(MSR_STAR, 0);
        s.lstar = msr(MSR_LSTAR, 0);
        s.cstar = msr(MSR_CSTAR, 0);
        s.sfmask = msr(MSR_SFMASK, 0);
        s.kernelGsBase = msr(MSR_KERNEL_GS_BASE, 0);
        s.tscAux = msr(MSR_TSC_AUX, 0);
        s.fcw = fpu.fcw();
        s.fsw = fpu.fsw();
        s.ftw = fpu.ftw();
        s.fop = fpu.fop();
        s.fip = fpu.fip();
        s.fdp = fpu.fdp();
        for (int i = 0; i < 8; i++) {
            long mant = 0;
            for (int b = 0; b < 8; b++) {
                mant |= (long) fpu.registers().get(10 * i + b) << (8 * b);
            }
            s.fpMantissa[i] = mant;
            s.fpExponent[i] = (short) (fpu.registers().get(10 * i + 8) | fpu.registers().get(10 * i + 9) << 8);
        }
        fpu.xmm().longsInto(s.xmm);
        s.mxcsr = fpu.mxcsr();
    }

    /**
     * Refuses a state whose sequences have the wrong lengths or whose values no x86-64 CPU can
     * hold (reserved bits, paging without protection, long mode without PAE); the message names
     * the field. Engines add their own checks (which MSRs they know).
     */
    public void checkShape() throws DeviceStateException {
        String me = "vCPU";
        DeviceStateException.checkLength(me, "gprs", gprs.size(), 16);
        DeviceStateException.checkLength(me, "debugRegisters", debugRegisters.size(), 6);
        DeviceStateException.checkLength(me, "fpu registers", fpu.registers().length(),
            Fpu.REGISTER_BYTES);
        DeviceStateException.checkLength(me, "xmm", fpu.xmm().length(), Fpu.XMM_BYTES);
        DeviceStateException.checkRange(me, "cr0", cr0, 0, 0xFFFF_FFFFL);
        DeviceStateException.checkRange(me, "cr8", cr8, 0, 15);
        DeviceStateException.checkRange(me, "mxcsr", fpu.mxcsr(), 0, 0xFFFF);
        DeviceStateException.checkBits(me, "efer", efer,
            X86State.EFER_SCE | X86State.EFER_LME | X86State.EFER_LMA | X86State.EFER_NXE);
        if ((cr0 & X86State.CR0_PG) != 0 && (cr0 & X86State.CR0_PE) == 0) {
            throw new DeviceStateException(me + ": cr0 has PG without PE");
        }
        if ((efer & X86State.EFER_LMA) != 0 && ((cr4 & X86State.CR4_PAE) == 0 || (cr0 & X86State.CR0_PG) == 0)) {
            throw new DeviceStateException(me + ": efer has LMA without paging and PAE");
        }
        if ((rflags & X86State.FIXED1) == 0) {
            throw new DeviceStateException(me + ": rflags bit 1 is clear");
        }
        for (int i = 1; i < msrs.size(); i++) {
            if (Integer.compareUnsigned(msrs.get(i - 1).index(), msrs.get(i).index()) >= 0) {
                throw new DeviceStateException(String.format(
                    "%s: msrs are not in ascending order at %#x", me, msrs.get(i).index()));
            }
        }
    }

    /** The value of MSR {@code index}, or {@code otherwise} when the state has none. */
    public long msr(int index, long otherwise) {
        for (Msr m : msrs) {
            if (m.index() == index) {
                return m.value();
            }
        }
        return otherwise;
    }

    /**
     * A segment register with its hidden part, as kvm_segment holds it (SDM vol. 3, 3.4.5).
     *
     * @param selector the visible selector
     * @param base     the base address
     * @param limit    the limit in bytes, already scaled by G
     * @param type     the descriptor type field
     * @param s        code/data (true) or system segment
     * @param dpl      descriptor privilege level
     * @param present  P
     * @param avl      AVL
     * @param l        64-bit code
     * @param db       D/B
     * @param g        granularity
     * @param unusable null or otherwise unusable
     */
    public record Segment(int selector, long base, int limit, int type, boolean s, int dpl, boolean present,
                          boolean avl, boolean l, boolean db, boolean g, boolean unusable) {
        public static Segment of(SegmentRegister r) {
            return new Segment(r.selector, r.base, r.limit, r.type, r.s, r.dpl, r.present, r.avl, r.l, r.db, r.g,
                r.unusable);
        }

        public void into(SegmentRegister r) {
            r.selector = selector;
            r.base = base;
            r.limit = limit;
            r.type = type;
            r.s = s;
            r.dpl = dpl;
            r.present = present;
            r.avl = avl;
            r.l = l;
            r.db = db;
            r.g = g;
            r.unusable = unusable;
        }
    }

    /** GDTR or IDTR. */
    public record Table(long base, int limit) {
        public static Table of(DescriptorTable t) {
            return new Table(t.base, t.limit);
        }

        public void into(DescriptorTable t) {
            t.base = base;
            t.limit = limit;
        }
    }

    /** One model-specific register: its index (ECX of RDMSR) and value. */
    public record Msr(int index, long value) {
    }

    /**
     * The x87 and SSE state, as the FXSAVE image holds it (SDM vol. 1, 10.5.1).
     *
     * @param fcw       control word
     * @param fsw       status word (TOP in bits 13:11)
     * @param ftw       abridged tag word: bit i set = physical register i is valid
     * @param fop       last opcode
     * @param fip       last instruction pointer
     * @param fdp       last data pointer
     * @param registers R0..R7 in physical order, 10 bytes each (64-bit mantissa, then sign and exponent), little-endian
     * @param mxcsr     MXCSR
     * @param xmm       XMM0..XMM15, 16 bytes each, little-endian
     */
    public record Fpu(int fcw, int fsw, int ftw, int fop, long fip, long fdp, Bytes registers, int mxcsr, Bytes xmm) {
        public static final int REGISTER_BYTES = 80;
        public static final int XMM_BYTES = 256;
    }

    /** SIPI-related run states (KVM's kvm_mp_state subset for x86). */
    public enum MpState {
        /** Runs guest code. */
        RUNNABLE,
        /** Executed HLT: waits for an interrupt. */
        HALTED,
        /** An application processor after INIT, waiting for a startup IPI. */
        INIT_RECEIVED
    }

    /**
     * What is in flight between instructions (KVM's kvm_vcpu_events).
     *
     * @param interruptShadow interrupts are inhibited for one instruction (after STI or MOV SS)
     * @param nmiMasked       an NMI handler runs: further NMIs wait for IRET
     * @param nmiPending      an NMI was accepted and is not yet delivered
     * @param exception       an exception not yet delivered, or -1
     * @param errorCode       its error code, or -1 for none
     * @param interrupt       an external interrupt acknowledged but not yet delivered, or -1
     */
    public record Events(boolean interruptShadow, boolean nmiMasked, boolean nmiPending, int exception, int errorCode,
                         int interrupt) {
    }
}
