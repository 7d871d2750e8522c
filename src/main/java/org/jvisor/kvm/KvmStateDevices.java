package org.jvisor.kvm;

import java.util.ArrayList;
import java.util.List;

import org.jvisor.cpu.Accelerator.EngineState;
import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;

/**
 * KVM's in-kernel state as device records for a snapshot's DEVS section, in the order a restore
 * needs: the PICs and the IOAPIC (KVM_SET_IRQCHIP), the PIT (KVM_SET_PIT2), kvmclock
 * (KVM_SET_CLOCK), then each vCPU's KVM-only state, which is only checked and held here and goes
 * into the vCPU after its registers ({@link KvmVcpu#restoreVcpuState}).
 */
final class KvmStateDevices {
    private KvmStateDevices() {
    }

    static List<EngineState> of(KvmVm vm, int vcpus) {
        List<EngineState> all = new ArrayList<>();
        all.add(new EngineState("kvm-pic-master", new Irqchip(vm, KvmIrqchipState.PIC_MASTER, "kvm_pic_state")));
        all.add(new EngineState("kvm-pic-slave", new Irqchip(vm, KvmIrqchipState.PIC_SLAVE, "kvm_pic_state")));
        all.add(new EngineState("kvm-ioapic", new Irqchip(vm, KvmIrqchipState.IOAPIC, "kvm_ioapic_state")));
        all.add(new EngineState("kvm-pit", new Pit(vm)));
        all.add(new EngineState("kvm-clock", new Clock(vm)));
        for (int i = 0; i < vcpus; i++) {
            all.add(new EngineState("kvm-vcpu" + i, new VcpuExtra(vm, i)));
        }
        return all;
    }

    /** A refusal of KVM's own (EINVAL on a value it checks) as a restore error naming the record. */
    private static DeviceStateException refused(String me, KvmException e) {
        return new DeviceStateException(me + ": KVM refused the state: " + e.getMessage(), e);
    }

    private record Irqchip(KvmVm vm, int chip, String me) implements StatefulDevice<KvmIrqchipState> {
        @Override
        public KvmIrqchipState saveState() {
            return new KvmIrqchipState(chip, Bytes.copyOf(vm.irqchip(chip)));
        }

        @Override
        public void restoreState(KvmIrqchipState s) throws DeviceStateException {
            s.check(me, chip);
            try {
                vm.setIrqchip(chip, s.state().toArray());
            } catch (KvmException e) {
                throw refused(me, e);
            }
        }

        @Override
        public Class<KvmIrqchipState> stateType() {
            return KvmIrqchipState.class;
        }
    }

    private record Pit(KvmVm vm) implements StatefulDevice<KvmPitState> {
        @Override
        public KvmPitState saveState() {
            return new KvmPitState(Bytes.copyOf(vm.pit()));
        }

        @Override
        public void restoreState(KvmPitState s) throws DeviceStateException {
            s.check("kvm_pit_state2");
            try {
                vm.setPit(s.state().toArray());
            } catch (KvmException e) {
                throw refused("kvm_pit_state2", e);
            }
        }

        @Override
        public Class<KvmPitState> stateType() {
            return KvmPitState.class;
        }
    }

    private record Clock(KvmVm vm) implements StatefulDevice<KvmClockState> {
        @Override
        public KvmClockState saveState() {
            return new KvmClockState(vm.clockNs());
        }

        @Override
        public void restoreState(KvmClockState s) throws DeviceStateException {
            DeviceStateException.checkRange("kvm_clock_data", "clock", s.clockNs(), 0, Long.MAX_VALUE);
            try {
                vm.setClockNs(s.clockNs());
            } catch (KvmException e) {
                throw refused("kvm_clock_data", e);
            }
        }

        @Override
        public Class<KvmClockState> stateType() {
            return KvmClockState.class;
        }
    }

    private record VcpuExtra(KvmVm vm, int index) implements StatefulDevice<KvmVcpuState> {
        private KvmVcpu vcpu() {
            KvmVcpu v = vm.vcpu(index);
            if (v == null) {
                throw new IllegalStateException("kvm-vcpu" + index + ": the vCPU is not created yet");
            }
            return v;
        }

        @Override
        public KvmVcpuState saveState() {
            return vcpu().saveKvmState();
        }

        @Override
        public void restoreState(KvmVcpuState s) throws DeviceStateException {
            s.check("KVM vCPU state");
            vm.stage(index, s);
        }

        @Override
        public Class<KvmVcpuState> stateType() {
            return KvmVcpuState.class;
        }
    }
}
