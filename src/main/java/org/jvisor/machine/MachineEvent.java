package org.jvisor.machine;

import org.jvisor.cpu.X86State;

/**
 * What a device or a vCPU thread asks of the machine's lifecycle: end, power off, reset, or stop
 * after a failure. Posted on the asking thread; the lifecycle acts on its own thread.
 */
public sealed interface MachineEvent {
    /** The guest ends jvisor with this status (isa-debug-exit). */
    record Exit(int status, String reason) implements MachineEvent {
    }

    /** The user asked to quit on the console (Ctrl-A x). */
    record ConsoleQuit(String reason) implements MachineEvent {
    }

    /** A platform reset (i8042 0xFE, ACPI reset, KVM system event). */
    record Reset(String reason) implements MachineEvent {
    }

    /**
     * A debugger's breakpoint or single step stopped vCPU {@code vcpu} (VcpuExit.DebugStop): the
     * whole machine stops for the debugger (QEMU's all-stop gdbstub, run state "debug").
     */
    record DebugStop(int vcpu) implements MachineEvent {
    }

    /** The guest powered the machine off. */
    record PowerOff(String reason) implements MachineEvent {
    }

    /** A vCPU triple faulted: on a PC, a reset. */
    record TripleFault(int vcpu, String detail, X86State state) implements MachineEvent {
    }

    /** The guest declared a crash (KVM_SYSTEM_EVENT_CRASH): QEMU's guest-panicked. */
    record GuestPanic(int vcpu, X86State state) implements MachineEvent {
    }

    /** The guest opened ({@code open}) or closed the tray of the CD-ROM on -drive {@code driveId}. */
    record TrayMoved(String driveId, boolean open) implements MachineEvent {
    }

    /**
     * A PCI device with an id the guest let go of (after device_del, or its own eject) has been
     * taken out and closed (QMP's DEVICE_DELETED).
     */
    record DeviceDeleted(String id) implements MachineEvent {
    }

    /** The guest's balloon driver now holds so much that the guest has {@code actualBytes} of RAM (QEMU's BALLOON_CHANGE). */
    record BalloonChanged(long actualBytes) implements MachineEvent {
    }

    /** The engine failed; the VM cannot continue. */
    record Failure(int vcpu, String description, X86State state) implements MachineEvent {
    }
}
