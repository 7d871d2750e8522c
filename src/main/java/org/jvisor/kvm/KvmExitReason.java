package org.jvisor.kvm;

/** kvm_run.exit_reason values (linux/kvm.h, KVM_EXIT_*) that an x86 VMM can meet. */
public enum KvmExitReason {
    UNKNOWN(0), EXCEPTION(1), IO(2), HYPERCALL(3), DEBUG(4), HLT(5), MMIO(6), IRQ_WINDOW_OPEN(7),
    SHUTDOWN(8), FAIL_ENTRY(9), INTR(10), SET_TPR(11), TPR_ACCESS(12), NMI(16), INTERNAL_ERROR(17),
    SYSTEM_EVENT(24), IOAPIC_EOI(26), HYPERV(27), X86_RDMSR(29), X86_WRMSR(30), DIRTY_RING_FULL(31),
    AP_RESET_HOLD(32), X86_BUS_LOCK(33), XEN(34), NOTIFY(37), MEMORY_FAULT(39);

    public static final int IO_IN = 0;
    public static final int IO_OUT = 1;
    public static final int SYSTEM_EVENT_SHUTDOWN = 1;
    public static final int SYSTEM_EVENT_RESET = 2;
    public static final int SYSTEM_EVENT_CRASH = 3;

    private static final KvmExitReason[] BY_CODE = new KvmExitReason[64];

    static {
        for (KvmExitReason r : values()) {
            BY_CODE[r.code] = r;
        }
    }

    public final int code;

    KvmExitReason(int code) {
        this.code = code;
    }

    /** The reason for a code, or null for one this table does not know. */
    public static KvmExitReason of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /** KVM_INTERNAL_ERROR_* suberrors, for the error report. */
    public static String internalSuberror(int suberror) {
        return switch (suberror) {
            case 1 -> "EMULATION (KVM could not emulate an instruction)";
            case 2 -> "SIMUL_EX (exception while delivering an exception)";
            case 3 -> "DELIVERY_EV (event delivery failed)";
            case 4 -> "UNEXPECTED_EXIT_REASON";
            default -> "suberror " + suberror;
        };
    }
}
