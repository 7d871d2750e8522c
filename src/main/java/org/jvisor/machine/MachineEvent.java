package org.jvisor.machine;

import org.jvisor.cpu.X86State;

/** Something that ends or restarts the machine, posted by a device or a vCPU thread. */
sealed interface MachineEvent {
    /** End jvisor with this status (isa-debug-exit). */
    record Exit(int status, String reason) implements MachineEvent {
    }

    /** A platform reset (i8042 0xFE, ACPI reset, KVM system event). */
    record Reset(String reason) implements MachineEvent {
    }

    /** The guest powered the machine off. */
    record PowerOff(String reason) implements MachineEvent {
    }

    /** A vCPU triple faulted: on a PC, a reset. */
    record TripleFault(int vcpu, String detail, X86State state) implements MachineEvent {
    }

    /** The engine failed; the VM cannot continue. */
    record Failure(int vcpu, String description, X86State state) implements MachineEvent {
    }
}
