package org.jvisor.kvm;

import java.lang.foreign.MemoryLayout;

import org.jvisor.sys.Ioctl;

/**
 * KVM ioctl request numbers, encoded as the kernel's _IO/_IOR/_IOW/_IOWR macros do
 * (include/uapi/asm-generic/ioctl.h) from the struct layouts in {@link KvmStructs}, so a layout
 * and the request that carries it cannot disagree.
 */
public enum KvmIoctl {
    GET_API_VERSION(Dir.NONE, 0x00, 0),
    CREATE_VM(Dir.NONE, 0x01, 0),
    GET_MSR_INDEX_LIST(Dir.READ_WRITE, 0x02, KvmStructs.KVM_MSR_LIST),
    CHECK_EXTENSION(Dir.NONE, 0x03, 0),
    GET_VCPU_MMAP_SIZE(Dir.NONE, 0x04, 0),
    GET_SUPPORTED_CPUID(Dir.READ_WRITE, 0x05, KvmStructs.KVM_CPUID2),
    CREATE_VCPU(Dir.NONE, 0x41, 0),
    GET_DIRTY_LOG(Dir.WRITE, 0x42, KvmStructs.KVM_DIRTY_LOG),
    SET_USER_MEMORY_REGION(Dir.WRITE, 0x46, KvmStructs.KVM_USERSPACE_MEMORY_REGION),
    SET_TSS_ADDR(Dir.NONE, 0x47, 0),
    SET_IDENTITY_MAP_ADDR(Dir.WRITE, 0x48, 8),
    CREATE_IRQCHIP(Dir.NONE, 0x60, 0),
    GET_IRQCHIP(Dir.READ_WRITE, 0x62, KvmStructs.KVM_IRQCHIP_BYTES),
    // _IOR in the kernel's header although userspace writes it (a historical slip kept for ABI)
    SET_IRQCHIP(Dir.READ, 0x63, KvmStructs.KVM_IRQCHIP_BYTES),
    IRQ_LINE(Dir.WRITE, 0x61, KvmStructs.KVM_IRQ_LEVEL),
    SET_GSI_ROUTING(Dir.WRITE, 0x6a, KvmStructs.KVM_IRQ_ROUTING),
    IRQFD(Dir.WRITE, 0x76, KvmStructs.KVM_IRQFD),
    CREATE_PIT2(Dir.WRITE, 0x77, KvmStructs.KVM_PIT_CONFIG),
    IOEVENTFD(Dir.WRITE, 0x79, KvmStructs.KVM_IOEVENTFD),
    SET_CLOCK(Dir.WRITE, 0x7b, KvmStructs.KVM_CLOCK_DATA_BYTES),
    GET_CLOCK(Dir.READ, 0x7c, KvmStructs.KVM_CLOCK_DATA_BYTES),
    RUN(Dir.NONE, 0x80, 0),
    GET_REGS(Dir.READ, 0x81, KvmStructs.KVM_REGS),
    SET_REGS(Dir.WRITE, 0x82, KvmStructs.KVM_REGS),
    GET_SREGS(Dir.READ, 0x83, KvmStructs.KVM_SREGS),
    SET_SREGS(Dir.WRITE, 0x84, KvmStructs.KVM_SREGS),
    GET_MSRS(Dir.READ_WRITE, 0x88, KvmStructs.KVM_MSRS),
    SET_MSRS(Dir.WRITE, 0x89, KvmStructs.KVM_MSRS),
    SET_SIGNAL_MASK(Dir.WRITE, 0x8b, KvmStructs.KVM_SIGNAL_MASK),
    GET_FPU(Dir.READ, 0x8c, KvmStructs.KVM_FPU),
    SET_FPU(Dir.WRITE, 0x8d, KvmStructs.KVM_FPU),
    GET_LAPIC(Dir.READ, 0x8e, KvmStructs.KVM_LAPIC_STATE_BYTES),
    SET_LAPIC(Dir.WRITE, 0x8f, KvmStructs.KVM_LAPIC_STATE_BYTES),
    SET_CPUID2(Dir.WRITE, 0x90, KvmStructs.KVM_CPUID2),
    GET_MP_STATE(Dir.READ, 0x98, 4),
    SET_MP_STATE(Dir.WRITE, 0x99, 4),
    /** On the VM fd; 0x9f/0xa0 on a vCPU fd are the vCPU events. */
    GET_PIT2(Dir.READ, 0x9f, KvmStructs.KVM_PIT_STATE2_BYTES),
    SET_PIT2(Dir.WRITE, 0xa0, KvmStructs.KVM_PIT_STATE2_BYTES),
    GET_VCPU_EVENTS(Dir.READ, 0x9f, KvmStructs.KVM_VCPU_EVENTS_BYTES),
    SET_VCPU_EVENTS(Dir.WRITE, 0xa0, KvmStructs.KVM_VCPU_EVENTS_BYTES),
    GET_DEBUGREGS(Dir.READ, 0xa1, KvmStructs.KVM_DEBUGREGS_BYTES),
    SET_DEBUGREGS(Dir.WRITE, 0xa2, KvmStructs.KVM_DEBUGREGS_BYTES),
    GET_XSAVE(Dir.READ, 0xa4, KvmStructs.KVM_XSAVE_BYTES),
    SET_XSAVE(Dir.WRITE, 0xa5, KvmStructs.KVM_XSAVE_BYTES),
    SIGNAL_MSI(Dir.WRITE, 0xa5, KvmStructs.KVM_MSI),
    ENABLE_CAP(Dir.WRITE, 0xa3, KvmStructs.KVM_ENABLE_CAP),
    CLEAR_DIRTY_LOG(Dir.READ_WRITE, 0xc0, KvmStructs.KVM_CLEAR_DIRTY_LOG),
    GET_XCRS(Dir.READ, 0xa6, KvmStructs.KVM_XCRS_BYTES),
    SET_XCRS(Dir.WRITE, 0xa7, KvmStructs.KVM_XCRS_BYTES);

    private enum Dir {
        NONE(Ioctl.NONE), WRITE(Ioctl.WRITE), READ(Ioctl.READ), READ_WRITE(Ioctl.READ | Ioctl.WRITE);
        final int bits;

        Dir(int bits) {
            this.bits = bits;
        }
    }

    private static final int KVMIO = 0xAE;

    private final long request;

    KvmIoctl(Dir dir, int nr, MemoryLayout arg) {
        this(dir, nr, arg.byteSize());
    }

    KvmIoctl(Dir dir, int nr, long argSize) {
        this.request = Ioctl.request(dir.bits, KVMIO, nr, argSize);
    }

    /** The request number as the kernel expects it in ioctl's second argument. */
    public long request() {
        return request;
    }
}
