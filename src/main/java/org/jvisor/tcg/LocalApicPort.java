package org.jvisor.tcg;

/**
 * The CPU-side registers of a vCPU's local APIC that are not on the memory bus (SDM vol. 3,
 * 10.4.4, 10.5.4.1, 10.8.6.1, 10.12): IA32_APIC_BASE, IA32_TSC_DEADLINE, CR8 and the x2APIC MSRs
 * 0x800-0x8FF. The machine implements it over its LAPIC model, so tcg needs no device classes.
 * Times are in {@link System#nanoTime()} units; the implementation converts them to its clock.
 */
public interface LocalApicPort {

    /** IA32_APIC_BASE as RDMSR returns it. */
    long apicBase();

    /** WRMSR to IA32_APIC_BASE; false for an illegal value or transition (the CPU raises #GP). */
    boolean setApicBase(long value);

    /**
     * IA32_TSC_DEADLINE was written: arm the TSC-deadline timer for host time {@code hostNanos}, or
     * disarm it when {@code armed} is false. A deadline already past fires before this returns.
     */
    void setTscDeadline(boolean armed, long hostNanos);

    /** Whether the TSC-deadline timer is armed (it disarms itself when it fires). */
    boolean tscDeadlineArmed();

    /** Whether x2APIC MSR {@code msr} may be read (or written) now; otherwise the CPU raises #GP. */
    boolean x2ApicMsrAccessible(int msr, boolean write);

    long readX2ApicMsr(int msr);

    void writeX2ApicMsr(int msr, long value);

    /** CR8, the task-priority class (TPR[7:4]). */
    long cr8();

    void setCr8(long value);
}
