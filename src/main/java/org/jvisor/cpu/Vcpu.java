package org.jvisor.cpu;

import org.jvisor.devices.state.DeviceStateException;

/**
 * The engine-neutral vCPU contract. One platform thread owns a vCPU and calls {@link #run()} in a
 * loop; any other thread may {@link #kick()} it.
 */
public interface Vcpu extends AutoCloseable {

    int index();

    /** Copies the vCPU's architectural state out. Only from the owning thread, between runs. */
    void saveState(X86State into);

    /** Loads architectural state into the vCPU. Only from the owning thread, between runs. */
    void loadState(X86State from);

    /**
     * Registers a debugger changed (from a {@link #saveState} copy): unlike {@link #loadState},
     * the vCPU stays as it was otherwise (halted, waiting for a startup IPI, an event in flight).
     * Only from the owning thread, between runs.
     */
    default void writeRegisters(X86State from) {
        loadState(from);
    }

    /**
     * The vCPU's architectural state as an engine-neutral record, for a snapshot. Only from the
     * owning thread, between runs (the machine paused).
     *
     * @throws UnsupportedOperationException on an engine that cannot save it yet (the message says why)
     */
    default VcpuState saveVcpuState() {
        throw new UnsupportedOperationException("the " + getClass().getSimpleName() + " engine cannot save vCPU state yet");
    }

    /**
     * Puts a saved {@link VcpuState} into this vCPU, checked first (a refusal names the field and
     * leaves the vCPU as it was). Only from the owning thread, between runs.
     *
     * @throws UnsupportedOperationException on an engine that cannot restore it yet
     */
    default void restoreVcpuState(VcpuState state) throws DeviceStateException {
        throw new UnsupportedOperationException("the " + getClass().getSimpleName() + " engine cannot restore vCPU state yet");
    }

    /**
     * A system reset (RESET#), on the owning thread between runs: the power-on state of SDM vol. 3,
     * 9.1.1 (table 9-1), MSRs included, and nothing kept that was derived from guest memory (decoded
     * code, translations). Afterwards the BSP (index 0) expects {@link #loadState} with its boot
     * state; an application processor waits for INIT/startup IPIs, as at power-on.
     */
    void reset();

    /**
     * Whether {@link #setDebugControl} works on this engine (the gdbstub's breakpoints and single
     * steps). The kvm engine would need KVM_SET_GUEST_DEBUG, which jvisor does not drive.
     */
    default boolean supportsDebugControl() {
        return false;
    }

    /**
     * What a debugger asks of the next runs; {@link DebugControl#NONE} when none is attached. Any
     * thread, while the vCPU is outside {@link #run()} (the machine stopped): a run reads it once,
     * at its start, so the engine's fast path costs nothing without a debugger.
     *
     * @throws UnsupportedOperationException unless {@link #supportsDebugControl()}
     */
    default void setDebugControl(DebugControl control) {
        throw new UnsupportedOperationException("the " + getClass().getSimpleName() + " engine has no debugger support");
    }

    /** Runs guest code until the VMM must act; handles port and MMIO accesses itself. */
    VcpuExit run();

    /** Makes the current or next {@link #run()} return {@link VcpuExit.Kicked} promptly. Any thread. */
    void kick();

    /** Called on the owning thread just before it ends; the vCPU must not signal it afterwards. */
    default void threadExiting() {
    }

    @Override
    void close();
}
