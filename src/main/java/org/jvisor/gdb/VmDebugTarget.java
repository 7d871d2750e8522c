package org.jvisor.gdb;

import java.util.List;
import java.util.function.IntConsumer;

import org.jvisor.api.GuestDebugger;
import org.jvisor.api.ShutdownCause;
import org.jvisor.api.VirtualMachine;
import org.jvisor.cpu.DebugControl;
import org.jvisor.cpu.X86State;

/** A jvisor machine as a gdb session's target, through its {@link GuestDebugger}. */
public final class VmDebugTarget implements DebugTarget {
    private final VirtualMachine vm;
    private final GuestDebugger debugger;

    public VmDebugTarget(VirtualMachine vm) {
        this.vm = vm;
        this.debugger = vm.debugger();
    }

    @Override
    public int vcpuCount() {
        return debugger.vcpuCount();
    }

    @Override
    public void onStop(IntConsumer listener) {
        debugger.onStop(listener);
    }

    @Override
    public void stop() {
        debugger.stop();
    }

    @Override
    public void resume(List<DebugControl> controls, boolean[] hold) {
        debugger.resume(controls, hold);
    }

    @Override
    public void clearControls() {
        debugger.clearControls();
    }

    @Override
    public X86State readRegisters(int vcpu) {
        return debugger.readRegisters(vcpu);
    }

    @Override
    public void writeRegisters(int vcpu, X86State state) {
        debugger.writeRegisters(vcpu, state);
    }

    @Override
    public int readMemory(int vcpu, long address, byte[] into) {
        return debugger.readMemory(vcpu, address, into);
    }

    @Override
    public int writeMemory(int vcpu, long address, byte[] data) {
        return debugger.writeMemory(vcpu, address, data);
    }

    @Override
    public boolean halted(int vcpu) {
        return debugger.halted(vcpu);
    }

    /**
     * QEMU's "k" prints "QEMU: Terminated via GDBstub" and exits with status 0; jvisor quits the
     * machine as a host user's request (SHUTDOWN, reason host-ui), which also ends with status 0.
     */
    @Override
    public void kill() {
        vm.quit(ShutdownCause.HOST_UI);
    }
}
