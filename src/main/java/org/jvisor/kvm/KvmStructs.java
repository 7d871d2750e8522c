package org.jvisor.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The KVM structures we pass through ioctls, declared once, as in linux/kvm.h and
 * arch/x86/include/uapi/asm/kvm.h. A test compiles a C program against the kernel headers and
 * checks every size and offset here.
 */
public final class KvmStructs {
    private KvmStructs() {
    }

    public static final StructLayout KVM_REGS = structLayout(
        JAVA_LONG.withName("rax"), JAVA_LONG.withName("rbx"), JAVA_LONG.withName("rcx"), JAVA_LONG.withName("rdx"),
        JAVA_LONG.withName("rsi"), JAVA_LONG.withName("rdi"), JAVA_LONG.withName("rsp"), JAVA_LONG.withName("rbp"),
        JAVA_LONG.withName("r8"), JAVA_LONG.withName("r9"), JAVA_LONG.withName("r10"), JAVA_LONG.withName("r11"),
        JAVA_LONG.withName("r12"), JAVA_LONG.withName("r13"), JAVA_LONG.withName("r14"), JAVA_LONG.withName("r15"),
        JAVA_LONG.withName("rip"), JAVA_LONG.withName("rflags")).withName("kvm_regs");

    public static final StructLayout KVM_SEGMENT = structLayout(
        JAVA_LONG.withName("base"), JAVA_INT.withName("limit"), JAVA_SHORT.withName("selector"),
        JAVA_BYTE.withName("type"), JAVA_BYTE.withName("present"), JAVA_BYTE.withName("dpl"),
        JAVA_BYTE.withName("db"), JAVA_BYTE.withName("s"), JAVA_BYTE.withName("l"), JAVA_BYTE.withName("g"),
        JAVA_BYTE.withName("avl"), JAVA_BYTE.withName("unusable"), JAVA_BYTE.withName("padding")).withName("kvm_segment");

    public static final StructLayout KVM_DTABLE = structLayout(
        JAVA_LONG.withName("base"), JAVA_SHORT.withName("limit"), sequenceLayout(3, JAVA_SHORT).withName("padding"))
        .withName("kvm_dtable");

    public static final StructLayout KVM_SREGS = structLayout(
        KVM_SEGMENT.withName("cs"), KVM_SEGMENT.withName("ds"), KVM_SEGMENT.withName("es"), KVM_SEGMENT.withName("fs"),
        KVM_SEGMENT.withName("gs"), KVM_SEGMENT.withName("ss"), KVM_SEGMENT.withName("tr"), KVM_SEGMENT.withName("ldt"),
        KVM_DTABLE.withName("gdt"), KVM_DTABLE.withName("idt"),
        JAVA_LONG.withName("cr0"), JAVA_LONG.withName("cr2"), JAVA_LONG.withName("cr3"), JAVA_LONG.withName("cr4"),
        JAVA_LONG.withName("cr8"), JAVA_LONG.withName("efer"), JAVA_LONG.withName("apic_base"),
        sequenceLayout(4, JAVA_LONG).withName("interrupt_bitmap")).withName("kvm_sregs");

    public static final StructLayout KVM_FPU = structLayout(
        sequenceLayout(8, sequenceLayout(16, JAVA_BYTE)).withName("fpr"),
        JAVA_SHORT.withName("fcw"), JAVA_SHORT.withName("fsw"), JAVA_BYTE.withName("ftwx"), JAVA_BYTE.withName("pad1"),
        JAVA_SHORT.withName("last_opcode"), JAVA_LONG.withName("last_ip"), JAVA_LONG.withName("last_dp"),
        sequenceLayout(16, sequenceLayout(16, JAVA_BYTE)).withName("xmm"),
        JAVA_INT.withName("mxcsr"), JAVA_INT.withName("pad2")).withName("kvm_fpu");

    public static final StructLayout KVM_USERSPACE_MEMORY_REGION = structLayout(
        JAVA_INT.withName("slot"), JAVA_INT.withName("flags"), JAVA_LONG.withName("guest_phys_addr"),
        JAVA_LONG.withName("memory_size"), JAVA_LONG.withName("userspace_addr")).withName("kvm_userspace_memory_region");

    /** kvm_dirty_log: slot, padding, then the bitmap's address (a union with a u64 pad). */
    public static final StructLayout KVM_DIRTY_LOG = structLayout(
        JAVA_INT.withName("slot"), JAVA_INT.withName("padding1"), JAVA_LONG.withName("dirty_bitmap"))
        .withName("kvm_dirty_log");

    /** kvm_clear_dirty_log: which pages of a slot to clear (and re-protect), as bitmap says. */
    public static final StructLayout KVM_CLEAR_DIRTY_LOG = structLayout(
        JAVA_INT.withName("slot"), JAVA_INT.withName("num_pages"), JAVA_LONG.withName("first_page"),
        JAVA_LONG.withName("dirty_bitmap")).withName("kvm_clear_dirty_log");

    /** kvm_enable_cap: cap, flags, args[4], pad[64]. */
    public static final StructLayout KVM_ENABLE_CAP = structLayout(
        JAVA_INT.withName("cap"), JAVA_INT.withName("flags"), sequenceLayout(4, JAVA_LONG).withName("args"),
        sequenceLayout(64, JAVA_BYTE).withName("pad")).withName("kvm_enable_cap");

    public static final StructLayout KVM_CPUID_ENTRY2 = structLayout(
        JAVA_INT.withName("function"), JAVA_INT.withName("index"), JAVA_INT.withName("flags"),
        JAVA_INT.withName("eax"), JAVA_INT.withName("ebx"), JAVA_INT.withName("ecx"), JAVA_INT.withName("edx"),
        sequenceLayout(3, JAVA_INT).withName("padding")).withName("kvm_cpuid_entry2");

    /** The fixed header of kvm_cpuid2; entries follow. */
    public static final StructLayout KVM_CPUID2 = structLayout(
        JAVA_INT.withName("nent"), JAVA_INT.withName("padding")).withName("kvm_cpuid2");

    public static final StructLayout KVM_MSR_ENTRY = structLayout(
        JAVA_INT.withName("index"), JAVA_INT.withName("reserved"), JAVA_LONG.withName("data")).withName("kvm_msr_entry");

    /** The fixed header of kvm_msr_list: nmsrs; that many u32 indices follow. */
    public static final StructLayout KVM_MSR_LIST = structLayout(JAVA_INT.withName("nmsrs")).withName("kvm_msr_list");

    /** The fixed header of kvm_msrs; entries follow. */
    public static final StructLayout KVM_MSRS = structLayout(
        JAVA_INT.withName("nmsrs"), JAVA_INT.withName("pad")).withName("kvm_msrs");

    public static final StructLayout KVM_IRQ_LEVEL = structLayout(
        JAVA_INT.withName("irq"), JAVA_INT.withName("level")).withName("kvm_irq_level");

    public static final StructLayout KVM_IRQFD = structLayout(
        JAVA_INT.withName("fd"), JAVA_INT.withName("gsi"), JAVA_INT.withName("flags"), JAVA_INT.withName("resamplefd"),
        sequenceLayout(16, JAVA_BYTE).withName("pad")).withName("kvm_irqfd");

    public static final StructLayout KVM_IOEVENTFD = structLayout(
        JAVA_LONG.withName("datamatch"), JAVA_LONG.withName("addr"), JAVA_INT.withName("len"), JAVA_INT.withName("fd"),
        JAVA_INT.withName("flags"), sequenceLayout(36, JAVA_BYTE).withName("pad")).withName("kvm_ioeventfd");

    public static final StructLayout KVM_PIT_CONFIG = structLayout(
        JAVA_INT.withName("flags"), sequenceLayout(15, JAVA_INT).withName("pad")).withName("kvm_pit_config");

    public static final StructLayout KVM_MSI = structLayout(
        JAVA_INT.withName("address_lo"), JAVA_INT.withName("address_hi"), JAVA_INT.withName("data"),
        JAVA_INT.withName("flags"), JAVA_INT.withName("devid"), sequenceLayout(12, JAVA_BYTE).withName("pad"))
        .withName("kvm_msi");

    /** kvm_irq_routing_entry: gsi, type, flags, pad, then a 32-byte union (irqchip: irqchip, pin; msi: address_lo, address_hi, data, devid). */
    public static final StructLayout KVM_IRQ_ROUTING_ENTRY = structLayout(
        JAVA_INT.withName("gsi"), JAVA_INT.withName("type"), JAVA_INT.withName("flags"), JAVA_INT.withName("pad"),
        sequenceLayout(32, JAVA_BYTE).withName("u")).withName("kvm_irq_routing_entry");

    /** The fixed header of kvm_irq_routing; entries follow. */
    public static final StructLayout KVM_IRQ_ROUTING = structLayout(
        JAVA_INT.withName("nr"), JAVA_INT.withName("flags")).withName("kvm_irq_routing");

    /** The fixed part of kvm_signal_mask; the kernel sigset (8 bytes on x86-64) follows. */
    public static final StructLayout KVM_SIGNAL_MASK = structLayout(JAVA_INT.withName("len")).withName("kvm_signal_mask");

    /** kvm_run up to and including the exit union we read (the union is 256 bytes). */
    public static final StructLayout KVM_RUN = structLayout(
        JAVA_BYTE.withName("request_interrupt_window"), JAVA_BYTE.withName("immediate_exit"),
        paddingLayout(6),
        JAVA_INT.withName("exit_reason"), JAVA_BYTE.withName("ready_for_interrupt_injection"),
        JAVA_BYTE.withName("if_flag"), JAVA_SHORT.withName("flags"),
        JAVA_LONG.withName("cr8"), JAVA_LONG.withName("apic_base"),
        sequenceLayout(256, JAVA_BYTE).withName("exit")).withName("kvm_run");

    /** kvm_run.io (KVM_EXIT_IO), at the union's offset. */
    public static final StructLayout KVM_RUN_IO = structLayout(
        JAVA_BYTE.withName("direction"), JAVA_BYTE.withName("size"), JAVA_SHORT.withName("port"),
        JAVA_INT.withName("count"), JAVA_LONG.withName("data_offset")).withName("io");

    /** kvm_run.mmio (KVM_EXIT_MMIO). */
    public static final StructLayout KVM_RUN_MMIO = structLayout(
        JAVA_LONG.withName("phys_addr"), sequenceLayout(8, JAVA_BYTE).withName("data"),
        JAVA_INT.withName("len"), JAVA_BYTE.withName("is_write"), paddingLayout(3)).withName("mmio");

    public static long offset(StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    public static final long RUN_EXIT = offset(KVM_RUN, "exit");

    // State structs moved whole between KVM and a snapshot (Documentation/virt/kvm/api.rst and
    // arch/x86/include/uapi/asm/kvm.h): only their sizes and the few fields jvisor reads matter.
    /** struct kvm_xsave: the XSAVE image of 4 KiB (the legacy region first, then the header). */
    public static final long KVM_XSAVE_BYTES = 4096;
    /** struct kvm_xcrs: nr_xcrs, flags, then 16 {u32 xcr, u32 reserved, u64 value}, then 16 u64 of padding. */
    public static final long KVM_XCRS_BYTES = 392;
    /** struct kvm_debugregs: db[4], dr6, dr7, flags, reserved[9]. */
    public static final long KVM_DEBUGREGS_BYTES = 128;
    /** struct kvm_vcpu_events. */
    public static final long KVM_VCPU_EVENTS_BYTES = 64;
    /** struct kvm_lapic_state: the 1 KiB APIC register page. */
    public static final long KVM_LAPIC_STATE_BYTES = 1024;
    /** struct kvm_irqchip: chip_id, pad, then a 512-byte union (kvm_pic_state or kvm_ioapic_state). */
    public static final long KVM_IRQCHIP_BYTES = 520;
    /** Where kvm_irqchip's union starts, and its size. */
    public static final long KVM_IRQCHIP_CHIP = 8, KVM_IRQCHIP_CHIP_BYTES = 512;
    /** struct kvm_pit_state2: three kvm_pit_channel_state of 24 bytes, flags, reserved[9]. */
    public static final long KVM_PIT_STATE2_BYTES = 112;
    /** struct kvm_clock_data: clock (ns), flags, pad0, realtime, host_tsc, pad[4]. */
    public static final long KVM_CLOCK_DATA_BYTES = 48;

    // Fields of the in-kernel controllers' structs that a snapshot crossing engines converts
    // (arch/x86/include/uapi/asm/kvm.h; KvmStructsTest checks each against the header).
    /** struct kvm_pic_state: one byte each. */
    public static final int PIC_LAST_IRR = 0, PIC_IRR = 1, PIC_IMR = 2, PIC_ISR = 3, PIC_PRIORITY_ADD = 4,
        PIC_IRQ_BASE = 5, PIC_READ_REG_SELECT = 6, PIC_POLL = 7, PIC_SPECIAL_MASK = 8, PIC_INIT_STATE = 9,
        PIC_AUTO_EOI = 10, PIC_ROTATE_ON_AUTO_EOI = 11, PIC_SPECIAL_FULLY_NESTED = 12, PIC_INIT4 = 13, PIC_ELCR = 14,
        PIC_ELCR_MASK = 15;
    /** struct kvm_ioapic_state: base_address u64, ioregsel u32, id u32, irr u32, pad, redirtbl[24] u64. */
    public static final int IOAPIC_BASE_ADDRESS = 0, IOAPIC_IOREGSEL = 8, IOAPIC_ID = 12, IOAPIC_IRR = 16,
        IOAPIC_REDIRTBL = 24;
    /** struct kvm_pit_channel_state (24 bytes, three in kvm_pit_state2, then its flags). */
    public static final int PIT_CHANNEL_BYTES = 24, PIT_COUNT = 0, PIT_LATCHED_COUNT = 4, PIT_COUNT_LATCHED = 6,
        PIT_STATUS_LATCHED = 7, PIT_STATUS = 8, PIT_READ_STATE = 9, PIT_WRITE_STATE = 10, PIT_WRITE_LATCH = 11,
        PIT_RW_MODE = 12, PIT_MODE = 13, PIT_BCD = 14, PIT_GATE = 15, PIT_FLAGS = 72;
    /** struct kvm_debugregs: db[4], dr6, dr7, flags. */
    public static final int DEBUGREGS_DR6 = 32, DEBUGREGS_DR7 = 40;
    /** struct kvm_xcrs: the first {xcr, reserved, value} entry. */
    public static final int XCRS_NR = 0, XCRS_FIRST = 8;
    /** struct kvm_vcpu_events: exception, interrupt, nmi, sipi_vector, flags. */
    public static final int EVENTS_EXCEPTION_INJECTED = 0, EVENTS_EXCEPTION_NR = 1, EVENTS_EXCEPTION_HAS_ERROR = 2,
        EVENTS_EXCEPTION_PENDING = 3, EVENTS_ERROR_CODE = 4, EVENTS_INTERRUPT_INJECTED = 8, EVENTS_INTERRUPT_NR = 9,
        EVENTS_INTERRUPT_SHADOW = 11, EVENTS_NMI_INJECTED = 12, EVENTS_NMI_PENDING = 13, EVENTS_NMI_MASKED = 14,
        EVENTS_FLAGS = 20;
    /** KVM_VCPUEVENT_VALID_SHADOW: KVM_SET_VCPU_EVENTS takes interrupt.shadow; KVM_X86_SHADOW_INT_STI. */
    public static final int EVENTS_VALID_SHADOW = 0x4, SHADOW_INT_STI = 0x2;
    /** kvm_mp_state values (api.rst, KVM_GET_MP_STATE). */
    public static final int MP_STATE_RUNNABLE = 0, MP_STATE_INIT_RECEIVED = 2, MP_STATE_HALTED = 3;
}
