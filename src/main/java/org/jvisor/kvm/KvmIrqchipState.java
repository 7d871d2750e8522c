package org.jvisor.kvm;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * One chip of KVM's in-kernel irqchip (KVM_GET/SET_IRQCHIP): the master or slave 8259 PIC
 * (struct kvm_pic_state) or the IOAPIC (struct kvm_ioapic_state), as KVM's 512-byte union.
 *
 * @param chip  KVM_IRQCHIP_PIC_MASTER 0, KVM_IRQCHIP_PIC_SLAVE 1, KVM_IRQCHIP_IOAPIC 2
 * @param state the union kvm_irqchip.chip, 512 bytes
 */
public record KvmIrqchipState(int chip, Bytes state) implements DeviceState {
    public static final int VERSION = 1;
    public static final int PIC_MASTER = 0, PIC_SLAVE = 1, IOAPIC = 2;

    @Override
    public int version() {
        return VERSION;
    }

    void check(String me, int expectedChip) throws DeviceStateException {
        if (chip != expectedChip) {
            throw new DeviceStateException(me + ": the record is of irqchip " + chip + ", not " + expectedChip);
        }
        if (state == null || state.length() != KvmStructs.KVM_IRQCHIP_CHIP_BYTES) {
            throw new DeviceStateException(String.format("%s: state has %d bytes, not %d (KVM's struct size)", me,
                state == null ? 0 : state.length(), KvmStructs.KVM_IRQCHIP_CHIP_BYTES));
        }
    }
}
