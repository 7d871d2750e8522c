package org.jvisor.tcg;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.cpu.VcpuState;
import org.jvisor.cpu.X86State;

/**
 * Model-specific registers tcg implements (SDM vol. 4, table 2-2, and Linux
 * Documentation/virt/kvm/x86/msr.rst for kvmclock). Architectural ones live in {@link X86State};
 * the rest are plain fields here. Any other index raises #GP(0).
 */
final class Msrs {
    static final int TSC = 0x10, APIC_BASE = 0x1B, BIOS_SIGN_ID = 0x8B, MTRRCAP = 0xFE,
        SYSENTER_CS = 0x174, SYSENTER_ESP = 0x175, SYSENTER_EIP = 0x176, MCG_CAP = 0x179, MCG_STATUS = 0x17A,
        ARCH_CAPABILITIES = 0x10A, MISC_ENABLE = 0x1A0, PAT = 0x277, MTRR_DEF_TYPE = 0x2FF, TSC_DEADLINE = 0x6E0,
        EFER = 0xC000_0080, STAR = 0xC000_0081, LSTAR = 0xC000_0082, CSTAR = 0xC000_0083, SFMASK = 0xC000_0084,
        FS_BASE = 0xC000_0100, GS_BASE = 0xC000_0101, KERNEL_GS_BASE = 0xC000_0102, TSC_AUX = 0xC000_0103,
        KVM_WALL_CLOCK_NEW = 0x4b56_4d00, KVM_SYSTEM_TIME_NEW = 0x4b56_4d01;

    /**
     * IA32_ARCH_CAPABILITIES (SDM vol. 4, table 2-2; Linux arch/x86/include/asm/msr-index.h): this
     * CPU executes nothing speculatively, so it reports itself not affected by the side channels
     * whose mitigations cost an emulated guest most (Meltdown: RDCL_NO, so no page-table
     * isolation; SSB, MDS, TAA, MMIO stale data, BHI, PBRSB, GDS, RFDS, ITS), as a CPU that
     * fixes them in hardware does. QEMU's default CPU model (AMD) avoids the same mitigations.
     */
    static final long ARCH_CAPABILITIES_VALUE = 1L // RDCL_NO
        | 1L << 4   // SSB_NO
        | 1L << 5   // MDS_NO
        | 1L << 6   // IF_PSCHANGE_MC_NO
        | 1L << 8   // TAA_NO
        | 1L << 13  // SBDR_SSDP_NO
        | 1L << 14  // FBSDP_NO
        | 1L << 15  // PSDP_NO
        | 1L << 20  // BHI_NO
        | 1L << 24  // PBRSB_NO
        | 1L << 26  // GDS_NO
        | 1L << 27  // RFDS_NO
        | 1L << 62; // ITS_NO

    /** Number of variable-range MTRRs we report in MTRRcap. */
    static final int MTRR_VAR_COUNT = 8;

    private final TcgCpu cpu;
    private final X86State s;
    private final long[] mtrrVar = new long[MTRR_VAR_COUNT * 2];
    private final long[] mtrrFixed = new long[11];
    private long mtrrDefType;
    private long miscEnable = 1; // fast strings
    private long tscDeadline;
    private long tscOffset;
    long kvmWallClock;
    long kvmSystemTime;
    /** Host time at kvmclock 0 (system_time counts guest nanoseconds from here). */
    private long kvmClockOrigin = System.nanoTime();

    /** pvclock_vcpu_time_info.flags: the TSC is the same on every vCPU and never goes back. */
    static final int PVCLOCK_TSC_STABLE_BIT = 1;
    /** TSC to ns: ns = ((tsc << 1) * 0x8000_0000) >> 32 = tsc, for the 1 GHz TSC. */
    static final int KVMCLOCK_MUL = 0x8000_0000;
    static final int KVMCLOCK_SHIFT = 1;

    Msrs(TcgCpu cpu) {
        this.cpu = cpu;
        this.s = cpu.s;
    }

    /**
     * Power-on values of the MSRs kept here (SDM vol. 3, table 9-1; INIT keeps them): MTRRs off,
     * fast strings, no TSC deadline, kvmclock off, so a rebooted guest finds no stale pvclock
     * page being written. The TSC keeps counting (as KVM's does across a reset, it only moves on).
     */
    void powerOnReset() {
        java.util.Arrays.fill(mtrrVar, 0);
        java.util.Arrays.fill(mtrrFixed, 0);
        mtrrDefType = 0;
        miscEnable = 1;
        tscDeadline = 0;
        kvmWallClock = 0;
        kvmSystemTime = 0;
    }

    /**
     * The MSRs kept here, for a snapshot: the TSC as its value now, MISC_ENABLE, the MTRRs, the
     * TSC deadline and the kvmclock MSRs (the architectural ones are in {@link X86State}).
     */
    List<VcpuState.Msr> save() {
        List<VcpuState.Msr> out = new ArrayList<>();
        out.add(new VcpuState.Msr(TSC, tsc()));
        out.add(new VcpuState.Msr(MISC_ENABLE, miscEnable));
        for (int i = 0; i < mtrrVar.length; i++) {
            out.add(new VcpuState.Msr(0x200 + i, mtrrVar[i]));
        }
        int[] fixedMsrs = {0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F};
        for (int i = 0; i < fixedMsrs.length; i++) {
            out.add(new VcpuState.Msr(fixedMsrs[i], mtrrFixed[i]));
        }
        out.add(new VcpuState.Msr(MTRR_DEF_TYPE, mtrrDefType));
        out.add(new VcpuState.Msr(TSC_DEADLINE, tscDeadline));
        out.add(new VcpuState.Msr(KVM_WALL_CLOCK_NEW, kvmWallClock));
        out.add(new VcpuState.Msr(KVM_SYSTEM_TIME_NEW, kvmSystemTime));
        return out;
    }

    /** kvmclock now, in guest ns (what system_time plus the TSC delta gives the guest). */
    long kvmClockNs() {
        return System.nanoTime() - kvmClockOrigin;
    }

    /** Whether {@link #restore} takes MSR {@code index} (the ones {@link #save} gives, and those X86State holds). */
    static boolean restorable(int index) {
        return index == TSC || index == MISC_ENABLE || index == MTRR_DEF_TYPE || index == TSC_DEADLINE
            || index == KVM_WALL_CLOCK_NEW || index == KVM_SYSTEM_TIME_NEW || fixedIndex(index) >= 0
            || (index >= 0x200 && index < 0x200 + MTRR_VAR_COUNT * 2)
            || index == APIC_BASE || index == SYSENTER_CS || index == SYSENTER_ESP || index == SYSENTER_EIP
            || index == PAT || index == STAR || index == LSTAR || index == CSTAR || index == SFMASK
            || index == KERNEL_GS_BASE || index == TSC_AUX;
    }

    /**
     * Restores the MSRs kept here from {@code state}: the TSC and kvmclock continue from their
     * values at the save (offset and origin recomputed on this host's clock), the kvmclock page is
     * published again for the new origin. The TSC deadline's timer is the local APIC's, restored
     * with it, so it is not armed again here.
     */
    void restore(VcpuState state) {
        long now = System.nanoTime();
        tscOffset = state.msr(TSC, now) - now;
        kvmClockOrigin = now - state.kvmClockNs();
        miscEnable = state.msr(MISC_ENABLE, 1);
        for (int i = 0; i < mtrrVar.length; i++) {
            mtrrVar[i] = state.msr(0x200 + i, 0);
        }
        int[] fixedMsrs = {0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F};
        for (int i = 0; i < fixedMsrs.length; i++) {
            mtrrFixed[i] = state.msr(fixedMsrs[i], 0);
        }
        mtrrDefType = state.msr(MTRR_DEF_TYPE, 0);
        tscDeadline = state.msr(TSC_DEADLINE, 0);
        kvmWallClock = state.msr(KVM_WALL_CLOCK_NEW, 0);
        kvmSystemTime = state.msr(KVM_SYSTEM_TIME_NEW, 0);
        publishKvmClock();
    }

    private LocalApicPort apic() {
        return cpu.irq.localApic();
    }

    /** The time-stamp counter: a 1 GHz count of host nanoseconds plus the guest's offset. */
    long tsc() {
        return System.nanoTime() + tscOffset;
    }

    long tscDeadline() {
        return tscDeadline;
    }

    long read(int index) {
        if (index >= 0x800 && index <= 0x8FF) {
            LocalApicPort a = apic();
            if (a == null || !a.x2ApicMsrAccessible(index, false)) {
                throw CpuFault.gp0();
            }
            return a.readX2ApicMsr(index);
        }
        if (index >= 0x200 && index < 0x200 + MTRR_VAR_COUNT * 2) {
            return mtrrVar[index - 0x200];
        }
        int fixed = fixedIndex(index);
        if (fixed >= 0) {
            return mtrrFixed[fixed];
        }
        return switch (index) {
            case TSC -> tsc();
            case APIC_BASE -> apic() != null ? apic().apicBase() : s.apicBase;
            case BIOS_SIGN_ID, MCG_CAP, MCG_STATUS -> 0;
            case ARCH_CAPABILITIES -> ARCH_CAPABILITIES_VALUE;
            case MTRRCAP -> MTRR_VAR_COUNT | (1 << 8) | (1 << 10); // fixed ranges, write-combining
            case SYSENTER_CS -> s.sysenterCs;
            case SYSENTER_ESP -> s.sysenterEsp;
            case SYSENTER_EIP -> s.sysenterEip;
            case MISC_ENABLE -> miscEnable;
            case PAT -> s.pat;
            case MTRR_DEF_TYPE -> mtrrDefType;
            case TSC_DEADLINE -> apic() != null && !apic().tscDeadlineArmed() ? 0 : tscDeadline;
            case EFER -> s.efer;
            case STAR -> s.star;
            case LSTAR -> s.lstar;
            case CSTAR -> s.cstar;
            case SFMASK -> s.sfmask;
            case FS_BASE -> s.fs.base;
            case GS_BASE -> s.gs.base;
            case KERNEL_GS_BASE -> s.kernelGsBase;
            case TSC_AUX -> s.tscAux;
            case KVM_WALL_CLOCK_NEW -> kvmWallClock;
            case KVM_SYSTEM_TIME_NEW -> kvmSystemTime;
            default -> throw CpuFault.gp0();
        };
    }

    void write(int index, long v) {
        if (index >= 0x800 && index <= 0x8FF) {
            LocalApicPort a = apic();
            if (a == null || !a.x2ApicMsrAccessible(index, true)) {
                throw CpuFault.gp0();
            }
            a.writeX2ApicMsr(index, v);
            return;
        }
        if (index >= 0x200 && index < 0x200 + MTRR_VAR_COUNT * 2) {
            mtrrVar[index - 0x200] = v;
            return;
        }
        int fixed = fixedIndex(index);
        if (fixed >= 0) {
            mtrrFixed[fixed] = v;
            return;
        }
        switch (index) {
            case TSC -> {
                tscOffset = v - System.nanoTime();
                LocalApicPort a = apic();
                if (a != null && a.tscDeadlineArmed()) {
                    armTscDeadline(); // an armed deadline is a TSC value: it moves with the TSC
                }
                publishKvmClock();
            }
            case APIC_BASE -> {
                LocalApicPort a = apic();
                if (a != null) {
                    if (!a.setApicBase(v)) {
                        throw CpuFault.gp0();
                    }
                    s.apicBase = a.apicBase();
                } else {
                    s.apicBase = v;
                }
            }
            case BIOS_SIGN_ID, MCG_STATUS -> { }
            case SYSENTER_CS -> s.sysenterCs = v & 0xFFFF;
            case SYSENTER_ESP -> s.sysenterEsp = canonical(v);
            case SYSENTER_EIP -> s.sysenterEip = canonical(v);
            case MISC_ENABLE -> miscEnable = v;
            case PAT -> {
                for (int i = 0; i < 8; i++) {
                    long t = (v >>> (8 * i)) & 0xFF;
                    if (t == 2 || t == 3 || t > 7) {
                        throw CpuFault.gp0();
                    }
                }
                s.pat = v;
            }
            case MTRR_DEF_TYPE -> mtrrDefType = v;
            case TSC_DEADLINE -> {
                tscDeadline = v;
                armTscDeadline();
            }
            case EFER -> writeEfer(v);
            case STAR -> s.star = v;
            case LSTAR -> s.lstar = canonical(v);
            case CSTAR -> s.cstar = canonical(v);
            case SFMASK -> s.sfmask = v & 0xFFFF_FFFFL;
            case FS_BASE -> s.fs.base = canonical(v);
            case GS_BASE -> s.gs.base = canonical(v);
            case KERNEL_GS_BASE -> s.kernelGsBase = canonical(v);
            case TSC_AUX -> s.tscAux = v & 0xFFFF_FFFFL;
            case KVM_WALL_CLOCK_NEW -> {
                kvmWallClock = v;
                writeWallClock(v);
            }
            case KVM_SYSTEM_TIME_NEW -> {
                kvmSystemTime = v;
                publishKvmClock();
            }
            default -> throw CpuFault.gp0();
        }
    }

    /** Hands IA32_TSC_DEADLINE to the LAPIC timer, converted from TSC to host time (TSC = nanoTime + offset). */
    private void armTscDeadline() {
        LocalApicPort a = apic();
        if (a != null) {
            a.setTscDeadline(tscDeadline != 0, tscDeadline - tscOffset);
        }
    }

    // ---- kvmclock (Linux Documentation/virt/kvm/x86/msr.rst) ----

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;

    /** Host offset of guest-physical [gpa, gpa + size) in RAM, or -1. */
    private long ramOffset(long gpa, int size) {
        return cpu.bus.ram().offsetOf(gpa, size);
    }

    /**
     * MSR_KVM_WALL_CLOCK_NEW: struct pvclock_wall_clock {u32 version; u32 sec; u32 nsec;} at the
     * written address gets the wall-clock time at kvmclock 0 (boot), version even when done.
     */
    private void writeWallClock(long gpa) {
        long off = ramOffset(gpa, 12);
        if (off < 0) {
            return;
        }
        MemorySegment mem = cpu.bus.ram().segment();
        int version = (mem.get(I32, off) + 1) | 1;
        mem.set(I32, off, version);
        Instant now = Instant.now();
        long sinceOrigin = System.nanoTime() - kvmClockOrigin;
        long wallNs = now.getEpochSecond() * 1_000_000_000L + now.getNano() - sinceOrigin;
        mem.set(I32, off + 4, (int) (wallNs / 1_000_000_000L));
        mem.set(I32, off + 8, (int) (wallNs % 1_000_000_000L));
        mem.set(I32, off, version + 1);
        cpu.invalidateCode(gpa, 12);
    }

    /**
     * MSR_KVM_SYSTEM_TIME_NEW with bit 0 set: struct pvclock_vcpu_time_info {u32 version; u32 pad0;
     * u64 tsc_timestamp; u64 system_time; u32 tsc_to_system_mul; s8 tsc_shift; u8 flags; u8 pad[2];}
     * at the address (4-byte aligned) describes kvmclock as a linear function of the TSC. Rewritten
     * whenever the TSC is set; the TSC rate never changes, so nothing else needs updates.
     */
    void publishKvmClock() {
        if ((kvmSystemTime & 1) == 0) {
            return;
        }
        long gpa = kvmSystemTime & ~1L;
        long off = ramOffset(gpa, 32);
        if (off < 0) {
            return;
        }
        MemorySegment mem = cpu.bus.ram().segment();
        int version = (mem.get(I32, off) + 1) | 1;
        mem.set(I32, off, version);
        long host = System.nanoTime();
        mem.set(I64, off + 8, host + tscOffset);
        mem.set(I64, off + 16, host - kvmClockOrigin);
        mem.set(I32, off + 24, KVMCLOCK_MUL);
        mem.set(ValueLayout.JAVA_BYTE, off + 28, (byte) KVMCLOCK_SHIFT);
        mem.set(ValueLayout.JAVA_BYTE, off + 29, (byte) PVCLOCK_TSC_STABLE_BIT);
        mem.set(I32, off, version + 1);
        cpu.invalidateCode(gpa, 32);
    }

    private static long canonical(long v) {
        if ((v << 16) >> 16 != v) {
            throw CpuFault.gp0();
        }
        return v;
    }

    private void writeEfer(long v) {
        long allowed = X86State.EFER_SCE | X86State.EFER_LME | X86State.EFER_LMA | X86State.EFER_NXE;
        if ((v & ~allowed) != 0) {
            throw CpuFault.gp0();
        }
        boolean paging = (s.cr0 & X86State.CR0_PG) != 0;
        if (paging && ((v ^ s.efer) & X86State.EFER_LME) != 0) {
            throw CpuFault.gp0();
        }
        long nv = (v & ~X86State.EFER_LMA) | (s.efer & X86State.EFER_LMA);
        if (((nv ^ s.efer) & X86State.EFER_NXE) != 0) {
            cpu.mmu.flushAll();
        }
        s.efer = nv;
    }

    private static int fixedIndex(int index) {
        return switch (index) {
            case 0x250 -> 0;
            case 0x258 -> 1;
            case 0x259 -> 2;
            default -> index >= 0x268 && index <= 0x26F ? 3 + index - 0x268 : -1;
        };
    }
}
