package org.jvisor.cpu;

/**
 * Why {@link Vcpu#run()} returned: the events the VMM must act on. Port and MMIO accesses are not
 * here: an engine hands them to the bus itself and carries on.
 */
public sealed interface VcpuExit {

    /** Another thread kicked the vCPU (pause, stop, reset); the VMM looks at its own state. */
    record Kicked() implements VcpuExit {
    }

    /**
     * A debugger's {@link DebugControl} stopped the vCPU: before an instruction at a breakpoint,
     * or after the one instruction of a single step. The state is exact at that boundary.
     */
    record DebugStop() implements VcpuExit {
    }

    /** The guest executed HLT and the engine cannot wait for an interrupt itself. */
    record Halted() implements VcpuExit {
    }

    /** Triple fault (or the engine's equivalent): on a PC this resets the machine. */
    record TripleFault(String detail) implements VcpuExit {
    }

    /** The guest asked the platform to power off, reset, or declared a crash (KVM_EXIT_SYSTEM_EVENT). */
    record SystemEvent(Kind kind) implements VcpuExit {
        public enum Kind { SHUTDOWN, RESET, CRASH }
    }

    /**
     * The engine met something it cannot handle (FAIL_ENTRY, INTERNAL_ERROR, an unknown exit): the VM
     * stops. {@code description} names the exit and its details; {@code state} is the vCPU at that point.
     */
    record Failed(String description, X86State state) implements VcpuExit {
    }
}
