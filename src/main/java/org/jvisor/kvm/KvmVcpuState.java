package org.jvisor.kvm;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * What a KVM vCPU holds beyond the engine-neutral {@link org.jvisor.cpu.VcpuState}, as KVM's own
 * structs (Documentation/virt/kvm/api.rst): their meaning is KVM's, so they are kept whole, as
 * QEMU and Firecracker keep them. Saved as device record "kvm-vcpuN" and put back after the
 * vCPU's registers (KVM_SET_REGS drops a pending exception, so the events go last).
 *
 * @param mpState        kvm_mp_state (KVM_MP_STATE_RUNNABLE 0 ... SIPI_RECEIVED 4 on x86)
 * @param xsave          struct kvm_xsave, 4096 bytes (x87, SSE, AVX and whatever XCR0 enables)
 * @param xcrs           struct kvm_xcrs, 392 bytes (nr_xcrs, flags, 16 {xcr, reserved, value}, padding)
 * @param debugRegisters struct kvm_debugregs, 128 bytes
 * @param events         struct kvm_vcpu_events, 64 bytes
 * @param lapic          struct kvm_lapic_state, the in-kernel local APIC's 1 KiB register page
 */
public record KvmVcpuState(int mpState, Bytes xsave, Bytes xcrs, Bytes debugRegisters, Bytes events, Bytes lapic)
        implements DeviceState {
    public static final int VERSION = 1;

    /** The x86 kvm_mp_state values a vCPU can be saved in (RUNNABLE, UNINITIALIZED, INIT_RECEIVED, HALTED, SIPI_RECEIVED). */
    static final int MP_STATE_MAX = 4;
    /** Where kvm_xcrs holds nr_xcrs (then flags, then the entries from 8). */
    static final int XCRS_NR = 0;
    /** KVM_MAX_XCRS. */
    static final int MAX_XCRS = 16;
    /** kvm_vcpu_events.flags bits KVM defines (KVM_VCPUEVENT_VALID_NMI_PENDING ... VALID_TRIPLE_FAULT). */
    static final int EVENT_FLAGS = 0x3F;
    /** Offsets in kvm_vcpu_events (arch/x86/include/uapi/asm/kvm.h). */
    static final int EV_EXCEPTION_NR = 1, EV_EXCEPTION_INJECTED = 0, EV_EXCEPTION_HAS_ERROR = 2, EV_EXCEPTION_PENDING = 3,
        EV_ERROR_CODE = 4, EV_INTERRUPT_INJECTED = 8, EV_INTERRUPT_NR = 9, EV_INTERRUPT_SOFT = 10, EV_INTERRUPT_SHADOW = 11,
        EV_NMI_INJECTED = 12, EV_NMI_PENDING = 13, EV_NMI_MASKED = 14, EV_FLAGS = 20;

    @Override
    public int version() {
        return VERSION;
    }

    /** Refuses sizes that are not KVM's and values KVM would misread; the message names the field. */
    void check(String me) throws DeviceStateException {
        DeviceStateException.checkRange(me, "mpState", Integer.toUnsignedLong(mpState), 0, MP_STATE_MAX);
        checkSize(me, "xsave", xsave, KvmStructs.KVM_XSAVE_BYTES);
        checkSize(me, "xcrs", xcrs, KvmStructs.KVM_XCRS_BYTES);
        checkSize(me, "debugRegisters", debugRegisters, KvmStructs.KVM_DEBUGREGS_BYTES);
        checkSize(me, "events", events, KvmStructs.KVM_VCPU_EVENTS_BYTES);
        checkSize(me, "lapic", lapic, KvmStructs.KVM_LAPIC_STATE_BYTES);
        DeviceStateException.checkRange(me, "xcrs nr_xcrs", Integer.toUnsignedLong(u32(xcrs, XCRS_NR)), 0, MAX_XCRS);
        DeviceStateException.checkBits(me, "events flags", Integer.toUnsignedLong(u32(events, EV_FLAGS)), EVENT_FLAGS);
        DeviceStateException.checkRange(me, "events exception nr", events.get(EV_EXCEPTION_NR) & 0xFF, 0, 31);
    }

    private static void checkSize(String me, String field, Bytes b, long size) throws DeviceStateException {
        if (b == null || b.length() != size) {
            throw new DeviceStateException(String.format("%s: %s has %d bytes, not %d (KVM's struct size)", me, field,
                b == null ? 0 : b.length(), size));
        }
    }

    /** The little-endian u32 at {@code at} of {@code b}. */
    static int u32(Bytes b, int at) {
        return (b.get(at) & 0xFF) | (b.get(at + 1) & 0xFF) << 8 | (b.get(at + 2) & 0xFF) << 16 | (b.get(at + 3) & 0xFF) << 24;
    }

    /** The little-endian u64 at {@code at} of {@code b}. */
    static long u64(Bytes b, int at) {
        return Integer.toUnsignedLong(u32(b, at)) | (long) u32(b, at + 4) << 32;
    }
}
