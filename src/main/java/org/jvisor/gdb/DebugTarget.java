package org.jvisor.gdb;

import java.util.List;
import java.util.function.IntConsumer;

import org.jvisor.cpu.DebugControl;
import org.jvisor.cpu.X86State;

/**
 * What a gdb session drives: a machine's vCPUs (gdb's threads 1..N are vCPUs 0..N-1), stopped
 * and resumed as a whole (all-stop mode). {@link VmDebugTarget} is the real one; tests use fakes.
 */
public interface DebugTarget {
    int vcpuCount();

    /** Where breakpoint and single-step stops go (the vCPU index); called on another thread. */
    void onStop(IntConsumer listener);

    /** Stops the machine if it runs; returns once every vCPU is stopped. */
    void stop();

    /** Runs the machine, vCPU i under {@code controls.get(i)}, those {@code hold} marks (null: none) staying stopped. */
    void resume(List<DebugControl> controls, boolean[] hold);

    /** No breakpoint or step left on any vCPU (the debugger lets go). */
    void clearControls();

    X86State readRegisters(int vcpu);

    void writeRegisters(int vcpu, X86State state);

    /** Bytes read at linear {@code address} through vCPU {@code vcpu}'s paging: all, or up to the first unmapped one. */
    int readMemory(int vcpu, long address, byte[] into);

    /** Bytes written as {@link #readMemory} reads. */
    int writeMemory(int vcpu, long address, byte[] data);

    /** Whether vCPU {@code vcpu} waits in HLT (qThreadExtraInfo). */
    boolean halted(int vcpu);

    /** gdb's "kill": the VMM ends (QEMU exits with status 0). */
    void kill();
}
