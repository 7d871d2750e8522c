package org.jvisor.tcg;

/**
 * MSRs the platform implements rather than the core, such as the LAPIC's IA32_APIC_BASE,
 * IA32_TSC_DEADLINE and the x2APIC range 0x800-0x8FF (SDM vol. 3, 10.12). RDMSR/WRMSR ask
 * {@link #owns} first; everything else stays with the core's own MSRs. Called on the vCPU thread.
 */
public interface PlatformMsrs {

    /** Whether RDMSR/WRMSR of {@code msr} goes to the platform. */
    boolean owns(int msr, boolean write);

    /** The value of an owned MSR. Throw nothing: return 0 for write-only registers. */
    long read(int msr);

    /** Writes an owned MSR; false makes the WRMSR raise #GP(0). */
    boolean write(int msr, long value);
}
