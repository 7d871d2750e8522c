package org.jvisor.api;

/**
 * Why a machine shut down or reset, with QEMU's ShutdownCause names (qapi/run-state.json), as
 * the SHUTDOWN and RESET events report them.
 */
public enum ShutdownCause {
    /** jvisor itself failed (an engine failure the embedding program ends the machine for). */
    HOST_ERROR("host-error"),
    /** The host asked to quit ({@link VirtualMachine#quit()}, QMP "quit"). */
    HOST_QMP_QUIT("host-qmp-quit"),
    /** The host asked for a reset ({@link VirtualMachine#reset()}, QMP "system_reset"). */
    HOST_QMP_SYSTEM_RESET("host-qmp-system-reset"),
    /** A signal (SIGTERM, SIGINT, SIGHUP) ended jvisor. */
    HOST_SIGNAL("host-signal"),
    /** The user quit on the console (Ctrl-A x). */
    HOST_UI("host-ui"),
    /** The guest powered the machine off (ACPI S5, KVM system event). */
    GUEST_SHUTDOWN("guest-shutdown"),
    /** The guest reset the machine (reset register, keyboard controller, triple fault). */
    GUEST_RESET("guest-reset"),
    /** The guest declared a crash. */
    GUEST_PANIC("guest-panic");

    private final String qemuName;

    ShutdownCause(String qemuName) {
        this.qemuName = qemuName;
    }

    /** The name QEMU gives this cause: "guest-shutdown", "host-qmp-quit", ... */
    public String qemuName() {
        return qemuName;
    }

    /** Whether the guest caused it (the events' "guest" field). */
    public boolean guest() {
        return this == GUEST_SHUTDOWN || this == GUEST_RESET || this == GUEST_PANIC;
    }
}
