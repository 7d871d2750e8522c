package org.jvisor.kvm;

import org.jvisor.devices.state.DeviceState;

/**
 * The VM's kvmclock (KVM_GET/SET_CLOCK): guest nanoseconds at the save, from which it goes on
 * after a restore (the time the machine was saved does not pass for the guest, as with QEMU's
 * kvmclock device).
 *
 * @param clockNs kvm_clock_data.clock
 */
public record KvmClockState(long clockNs) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
