package org.jvisor.kvm;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * KVM's in-kernel 8254 PIT (KVM_GET/SET_PIT2, struct kvm_pit_state2, 112 bytes). Its
 * count_load_time fields are the kernel's clock of the saving host; KVM_SET_PIT2 re-arms the
 * channels from the counts and modes, as QEMU's kvm-pit does.
 *
 * @param state struct kvm_pit_state2
 */
public record KvmPitState(Bytes state) implements DeviceState {
    public static final int VERSION = 1;
    /** kvm_pit_state2.flags bits: KVM_PIT_FLAGS_HPET_LEGACY, KVM_PIT_FLAGS_SPEAKER_DATA_ON. */
    static final int FLAGS = 0x3;
    static final int FLAGS_AT = 72;

    @Override
    public int version() {
        return VERSION;
    }

    void check(String me) throws DeviceStateException {
        if (state == null || state.length() != KvmStructs.KVM_PIT_STATE2_BYTES) {
            throw new DeviceStateException(String.format("%s: state has %d bytes, not %d (KVM's struct size)", me,
                state == null ? 0 : state.length(), KvmStructs.KVM_PIT_STATE2_BYTES));
        }
        DeviceStateException.checkBits(me, "flags", Integer.toUnsignedLong(KvmVcpuState.u32(state, FLAGS_AT)), FLAGS);
        for (int ch = 0; ch < 3; ch++) {
            // kvm_pit_channel_state: count u32, latched_count u16, then u8s ... mode at 13: 0-5, or 0xff
            // for a channel never programmed (KVM's reset value)
            int mode = state.get(24 * ch + 13) & 0xFF;
            if (mode > 5 && mode != 0xFF) {
                throw new DeviceStateException(String.format("%s: channel %d mode %#x is not 0-5 (or 0xff, unprogrammed)",
                    me, ch, mode));
            }
        }
    }
}
