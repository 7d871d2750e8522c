package org.jvisor.api;

/**
 * Where a virtual machine is in its lifecycle, with QEMU's RunState names (qapi/run-state.json)
 * for the states jvisor has. QMP's {@code query-status} reports {@link #qemuName()} as "status"
 * and {@link #isRunning()} as "running".
 */
public enum RunState {
    /** Built, the kernel loaded, no vCPU has run yet (QEMU's -S); also after a reset of a stopped machine. */
    PRELAUNCH("prelaunch"),
    /** The vCPUs run guest code. */
    RUNNING("running"),
    /** Paused by the host ({@link VirtualMachine#pause()}, QMP "stop"). */
    PAUSED("paused"),
    /** Stopped for a debugger (the gdbstub: a breakpoint, a single step, its interrupt), as QEMU's "debug". */
    DEBUG("debug"),
    /**
     * The guest powered off (or a reset was turned into a shutdown by -no-reboot) and -no-shutdown
     * kept the machine: the vCPUs are stopped until a reset. Also the final state of an ended machine.
     */
    SHUTDOWN("shutdown"),
    /** Waiting for an incoming migration: built by {@link VirtualMachine#createIncoming} (QEMU's -incoming defer) until migrate-incoming. */
    INMIGRATE("inmigrate"),
    /** A migration (snapshot) of this machine completed: the vCPUs stay stopped until "cont". */
    POSTMIGRATE("postmigrate"),
    /** The guest declared a crash and -no-shutdown kept the machine. */
    GUEST_PANICKED("guest-panicked"),
    /** The CPU engine failed; the vCPUs are stopped until a reset. */
    INTERNAL_ERROR("internal-error");

    private final String qemuName;

    RunState(String qemuName) {
        this.qemuName = qemuName;
    }

    /** The name QEMU gives this state: "prelaunch", "running", "paused", ... */
    public String qemuName() {
        return qemuName;
    }

    /** Whether the vCPUs run (query-status "running"). */
    public boolean isRunning() {
        return this == RUNNING;
    }

    /**
     * Whether only a reset leaves this state: {@link VirtualMachine#resume()} refuses it, as QEMU's
     * "cont" answers "Resetting the Virtual Machine is required".
     */
    public boolean needsReset() {
        return this == SHUTDOWN || this == INTERNAL_ERROR;
    }
}
