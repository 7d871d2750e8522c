package org.jvisor.tcg;

/**
 * The seam between the vCPU and its interrupt controller (a PIC or LAPIC in a later issue). The
 * vCPU asks at instruction boundaries, only when RFLAGS.IF = 1 and no interrupt shadow is active
 * (SDM vol. 3, 6.8.3), whether an external vector is pending, and acknowledges it (INTA) just
 * before delivering it through the IDT.
 */
public interface InterruptSource {

    /** Whether an external interrupt is ready for delivery. Called often: keep it cheap. */
    boolean hasPendingInterrupt();

    /** Acknowledges the highest-priority pending interrupt and returns its vector, or -1 if it vanished. */
    int acknowledgeInterrupt();

    /**
     * Takes a pending NMI, if any (SDM vol. 3, 6.7.1). Asked at instruction boundaries while no
     * NMI handler is running (NMIs stay blocked until the next IRET); independent of RFLAGS.IF.
     */
    default boolean takeNmi() {
        return false;
    }

    /** Registers something to run (from any thread) when an interrupt may have become pending. */
    default void onPending(Runnable wake) {
    }

    /** The local APIC behind this source, for its MSRs and CR8; null when there is none. */
    default LocalApicPort localApic() {
        return null;
    }

    /** A source with nothing ever pending. */
    InterruptSource NONE = new InterruptSource() {
        @Override
        public boolean hasPendingInterrupt() {
            return false;
        }

        @Override
        public int acknowledgeInterrupt() {
            return -1;
        }
    };
}
