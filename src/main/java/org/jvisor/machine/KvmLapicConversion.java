package org.jvisor.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.devices.intc.LocalApic;
import org.jvisor.devices.intc.LocalApicState;
import org.jvisor.devices.state.Bytes;
import org.jvisor.kvm.KvmStructs;

/**
 * KVM's local APIC page (struct kvm_lapic_state: the xAPIC register page at the offsets of Intel
 * SDM vol. 3, table 10-1) to and from jvisor's {@link LocalApicState}. Both count the timer at
 * one bus cycle per ns. KVM restarts the timer from the current count it is given (TMCCT,
 * lapic.c kvm_apic_set_state) and recomputes the version and PPR, so those are derived here
 * too. x2APIC mode crosses as it is: without KVM_CAP_X2APIC_API (jvisor does not enable it) KVM
 * gives and takes the page of an x2APIC-mode LAPIC in the xAPIC layout (lapic.c,
 * kvm_apic_state_fixup): the ID shifted to bits 31:24, the 64-bit ICR split into ICR and ICR2
 * with the full 32-bit destination in ICR2, and the LDR, fixed in x2APIC mode, recomputed from
 * the ID on the way in. jvisor's record keeps the ID unshifted and the 32-bit destination in
 * icrHigh in x2APIC mode, so the same conversion serves both modes; KVM_SET_SREGS puts
 * IA32_APIC_BASE (the mode) before KVM_SET_LAPIC, as the fix-up needs.
 */
final class KvmLapicConversion {
    private static final int ID = 0x20, VERSION = 0x30, TPR = 0x80, LDR = 0xD0, DFR = 0xE0, SVR = 0xF0, ISR = 0x100,
        TMR = 0x180, IRR = 0x200, ESR = 0x280, LVT_CMCI = 0x2F0, ICR_LOW = 0x300, ICR_HIGH = 0x310, LVT_TIMER = 0x320,
        TMICT = 0x380, TMCCT = 0x390, TDCR = 0x3E0;
    /** Writable bits of the LVT entries, timer to error (SDM vol. 3, figure 10-8), and the mask bit. */
    private static final int[] LVT_BITS = {0x000700FF, 0x000107FF, 0x000107FF, 0x0001A7FF, 0x0001A7FF, 0x000100FF};
    private static final int LVT_MASKED = 1 << 16;
    private static final int TIMER_PERIODIC = 1, TIMER_TSC_DEADLINE = 2;

    private KvmLapicConversion() {
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The timer's divisor from the divide configuration register (SDM vol. 3, figure 10-10). */
    private static int divisor(int tdcr) {
        int code = (tdcr & 3) | (tdcr >> 1 & 4);
        return code == 7 ? 1 : 2 << code;
    }

    /**
     * The page of a vCPU's in-kernel LAPIC as jvisor's record; {@code apicBase},
     * {@code tscDeadline} and {@code tsc} are that vCPU's MSRs. An armed TSC deadline becomes one
     * as far ahead in ns as it was in TSC ticks: tcg's TSC counts ns and goes on from the saved
     * value, so the deadline comes when the guest's TSC reaches it.
     */
    static LocalApicState fromKvm(Bytes page, long apicBase, long tscDeadline, long tsc) {
        ByteBuffer k = le(page.toArray());
        List<Integer> lvt = new ArrayList<>(LVT_BITS.length);
        for (int i = 0; i < LVT_BITS.length; i++) {
            lvt.add(k.getInt(LVT_TIMER + 16 * i) & (LVT_BITS[i] | LVT_MASKED));
        }
        int timerMode = lvt.get(0) >> 17 & 3;
        int tdcr = k.getInt(TDCR) & 0xB;
        long initial = Integer.toUnsignedLong(k.getInt(TMICT));
        long current = Integer.toUnsignedLong(k.getInt(TMCCT));
        long tick = (long) divisor(tdcr) * LocalApic.BUS_CYCLE_NS;
        int id = k.getInt(ID) >>> 24;
        if (timerMode == TIMER_TSC_DEADLINE) {
            boolean set = tscDeadline != 0;       // KVM zeroes the MSR when the deadline fires
            long in = set ? tscDeadline - tsc : 0;
            return new LocalApicState(id, apicBase, k.getInt(TPR) & 0xFF, k.getInt(LDR), k.getInt(DFR),
                k.getInt(SVR) & 0x3FF, k.getInt(ESR), 0, k.getInt(ICR_LOW) & ~(1 << 12), k.getInt(ICR_HIGH), lvt,
                bits(k, IRR), bits(k, ISR), bits(k, TMR), tdcr, (int) initial, set, 0, in, set, in, false, false, false,
                false);
        }
        // A periodic timer never stops, but KVM reads its TMCCT as 0 when a period has ended and
        // the hrtimer has not yet moved the target on (lapic.c apic_get_tmcct clamps the remaining
        // time at 0 before taking it modulo the period): that tick is due now, and the timer goes
        // on. A one-shot timer at 0 has expired.
        boolean armed = initial != 0 && (current != 0 || timerMode == TIMER_PERIODIC);
        return new LocalApicState(id, apicBase, k.getInt(TPR) & 0xFF, k.getInt(LDR), k.getInt(DFR),
            k.getInt(SVR) & 0x3FF, k.getInt(ESR), 0, k.getInt(ICR_LOW) & ~(1 << 12), k.getInt(ICR_HIGH), lvt,
            bits(k, IRR), bits(k, ISR), bits(k, TMR), tdcr, (int) initial, armed,
            armed ? -(initial - current) * tick : 0, armed ? current * tick : 0, false, 0, false, false, false, false);
    }

    /**
     * jvisor's record as KVM's page. A TSC deadline is
     * not in the page: KVM arms it from IA32_TSC_DEADLINE, which the vCPU record carries and KVM
     * takes after the page ({@link EngineCrossing#vcpus} clears it when the deadline is not armed).
     */
    static Bytes toKvm(LocalApicState s) {
        boolean deadlineMode = (s.lvt().get(0) >> 17 & 3) == TIMER_TSC_DEADLINE;
        byte[] b = new byte[(int) KvmStructs.KVM_LAPIC_STATE_BYTES];
        ByteBuffer k = le(b);
        k.putInt(ID, s.apicId() << 24);
        k.putInt(VERSION, 0x50014);       // KVM recomputes it: version 0x14, 6 LVT entries
        k.putInt(TPR, s.tpr());
        k.putInt(LDR, s.ldr());
        k.putInt(DFR, s.dfr());
        k.putInt(SVR, s.svr());
        putBits(k, ISR, s.isr());
        putBits(k, TMR, s.tmr());
        putBits(k, IRR, s.irr());
        k.putInt(ESR, s.esr());
        k.putInt(LVT_CMCI, LVT_MASKED);
        k.putInt(ICR_LOW, s.icrLow());
        k.putInt(ICR_HIGH, s.icrHigh());
        for (int i = 0; i < LVT_BITS.length; i++) {
            k.putInt(LVT_TIMER + 16 * i, s.lvt().get(i));
        }
        k.putInt(TMICT, s.initialCount());
        long tick = (long) divisor(s.divideConfig()) * LocalApic.BUS_CYCLE_NS;
        long current = s.timerArmed() && !deadlineMode ? Math.min(Integer.toUnsignedLong(s.initialCount()),
            Math.max(1, (s.timerDeadlineNs() + tick - 1) / tick)) : 0;
        k.putInt(TMCCT, (int) current);
        k.putInt(TDCR, s.divideConfig());
        return Bytes.copyOf(b);
    }

    /** IRR, ISR or TMR: eight 32-bit registers 16 bytes apart, as 32 little-endian bytes (bit v = vector v). */
    private static Bytes bits(ByteBuffer k, int at) {
        int[] regs = new int[8];
        for (int i = 0; i < 8; i++) {
            regs[i] = k.getInt(at + 16 * i);
        }
        return Bytes.ofInts(regs);
    }

    private static void putBits(ByteBuffer k, int at, Bytes bits) {
        int[] regs = new int[8];
        bits.intsInto(regs);
        for (int i = 0; i < 8; i++) {
            k.putInt(at + 16 * i, regs[i]);
        }
    }
}
