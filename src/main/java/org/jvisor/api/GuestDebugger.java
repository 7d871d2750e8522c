package org.jvisor.api;

import java.util.List;
import java.util.function.IntConsumer;

import org.jvisor.cpu.DebugControl;
import org.jvisor.cpu.X86State;
import org.jvisor.machine.MachineDebug;

/**
 * A debugger's hold on a machine (what the gdbstub drives): stop it, let it run with breakpoints
 * or single steps, look at and change the stopped vCPUs' registers and the guest's memory. All
 * work runs on the machine's lifecycle thread, between its other commands, so a debugger and a
 * QMP client never act on the machine at the same time. A stop for the debugger is run state
 * {@link RunState#DEBUG}, with a STOP event, as in QEMU.
 */
public final class GuestDebugger {
    private final Lifecycle lifecycle;

    GuestDebugger(Lifecycle lifecycle) {
        this.lifecycle = lifecycle;
    }

    /** Whether this machine's engine takes breakpoints and single steps (tcg; kvm does not). */
    public boolean supported() {
        return debug().supported();
    }

    public int vcpuCount() {
        return debug().vcpuCount();
    }

    /**
     * Where breakpoint and single-step stops are reported, with the index of the vCPU that
     * stopped (on the lifecycle thread: the listener must not wait for the machine); null: none.
     */
    public void onStop(IntConsumer listener) {
        lifecycle.debugStops(listener);
    }

    /** Stops a running machine (status debug); does nothing to a machine that is not running. */
    public void stop() {
        run(() -> {
            lifecycle.debugStop();
            return null;
        });
    }

    /**
     * Lets the machine run, each vCPU under {@code controls} (by index), those {@code hold} marks
     * (by index; null: none) staying stopped; a machine that has not started yet (-S) starts.
     */
    public void resume(List<DebugControl> controls, boolean[] hold) {
        run(() -> {
            MachineDebug d = debug();
            if (controls.size() != d.vcpuCount() || hold != null && hold.length != d.vcpuCount()) {
                throw new IllegalArgumentException("one debug control per vCPU (" + d.vcpuCount() + ")");
            }
            lifecycle.requireStopped();
            for (int i = 0; i < controls.size(); i++) {
                d.setControl(i, controls.get(i));
            }
            lifecycle.debugResume(hold);
            return null;
        });
    }

    /** The debugger lets go: no breakpoint or step is left on any vCPU (the machine stays as it is). */
    public void clearControls() {
        run(() -> {
            MachineDebug d = debug();
            for (int i = 0; i < d.vcpuCount(); i++) {
                d.setControl(i, DebugControl.NONE);
            }
            return null;
        });
    }

    /** A copy of vCPU {@code vcpu}'s registers; the machine must be stopped. */
    public X86State readRegisters(int vcpu) {
        return (X86State) run(() -> {
            lifecycle.requireStopped();
            return debug().readState(vcpu);
        });
    }

    /** Writes registers changed from a {@link #readRegisters} copy; the machine must be stopped. */
    public void writeRegisters(int vcpu, X86State state) {
        run(() -> {
            lifecycle.requireStopped();
            debug().writeState(vcpu, state);
            return null;
        });
    }

    /** Whether vCPU {@code vcpu} waits in HLT; the machine must be stopped. */
    public boolean halted(int vcpu) {
        return (Boolean) run(() -> {
            lifecycle.requireStopped();
            return debug().halted(vcpu);
        });
    }

    /**
     * Reads guest memory at linear {@code address} as vCPU {@code vcpu} maps it; returns how many
     * bytes were readable (all, or up to the first unmapped one). The machine must be stopped.
     */
    public int readMemory(int vcpu, long address, byte[] into) {
        return (Integer) run(() -> {
            lifecycle.requireStopped();
            return debug().readMemory(vcpu, address, into);
        });
    }

    /** Writes guest memory as {@link #readMemory} reads it; returns how many bytes were written. */
    public int writeMemory(int vcpu, long address, byte[] data) {
        return (Integer) run(() -> {
            lifecycle.requireStopped();
            return debug().writeMemory(vcpu, address, data);
        });
    }

    /** Whether vCPU work is possible now: the machine is stopped (not running, and built). */
    public RunState status() {
        return lifecycle.state();
    }

    private MachineDebug debug() {
        return lifecycle.machine().debug();
    }

    private Object run(Lifecycle.Work work) {
        return VirtualMachine.unchecked(() -> lifecycle.call(work));
    }
}
