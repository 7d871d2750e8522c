package org.jvisor.machine;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jvisor.cpu.CpuFeatureCheck;
import org.jvisor.cpu.CpuidModel;
import org.jvisor.cpu.VcpuState;
import org.jvisor.devices.intc.IoApicState;
import org.jvisor.devices.intc.LocalApicState;
import org.jvisor.devices.legacy.PicState;
import org.jvisor.devices.legacy.PitState;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.kvm.KvmClockState;
import org.jvisor.kvm.KvmIrqchipState;
import org.jvisor.kvm.KvmPitState;
import org.jvisor.kvm.KvmVcpuState;

/**
 * A snapshot taken on one engine restored on the other. The x86 state is the same: the vCPUs are
 * engine-neutral records ({@link VcpuState}) either way, and so are the devices around the
 * interrupt controllers. What differs is who models the PC's interrupt controllers and PIT:
 * jvisor's own devices on tcg ("pic", "ioapic", "lapicN", "pit", whose records are the
 * engine-neutral form), KVM's kernel on kvm ("kvm-pic-master", "kvm-pic-slave", "kvm-ioapic",
 * "kvm-pit", "kvm-clock" and per vCPU "kvm-vcpuN", KVM's structs). At the restore, those records
 * of the saving engine are converted to the restoring engine's, in its registry order, and the
 * vCPUs are checked against the restoring engine's CPUID; what cannot cross is refused, naming
 * the vCPU and what it uses (a CPU feature, AVX state...). A local APIC in x2APIC mode crosses
 * ({@link KvmLapicConversion}) to a tcg machine whose vCPUs offer x2APIC ({@code -cpu max} or
 * {@code +x2apic}); to one without, the CPUID check refuses it.
 */
final class EngineCrossing {
    static final String TCG = "tcg", KVM = "kvm";

    private final String from;
    private final String to;
    private final int cpus;

    private EngineCrossing(String from, String to, int cpus) {
        this.from = from;
        this.to = to;
        this.cpus = cpus;
    }

    /** The crossing from engine {@code from} to {@code to} for a machine of {@code cpus} vCPUs, or null when they are one engine or one jvisor cannot cross. */
    static EngineCrossing between(String from, String to, int cpus) {
        boolean known = (from.equals(TCG) || from.equals(KVM)) && (to.equals(TCG) || to.equals(KVM));
        return known && !from.equals(to) ? new EngineCrossing(from, to, cpus) : null;
    }

    /** The records each engine keeps of the PC's controllers, in its registry order. */
    private List<String> controllerIds(String engine) {
        List<String> ids = new ArrayList<>();
        if (engine.equals(TCG)) {
            ids.add("pic");
            ids.add("ioapic");
            for (int i = 0; i < cpus; i++) {
                ids.add("lapic" + i);
            }
            ids.add("pit");
        } else {
            ids.addAll(List.of("kvm-pic-master", "kvm-pic-slave", "kvm-ioapic", "kvm-pit", "kvm-clock"));
            for (int i = 0; i < cpus; i++) {
                ids.add("kvm-vcpu" + i);
            }
        }
        return ids;
    }

    /** The saved configuration as the restoring engine would have written it (its device ids). */
    SnapshotConfig config(SnapshotConfig saved) {
        List<String> mine = controllerIds(from);
        if (!saved.devices().containsAll(mine)) {
            return saved;   // not a machine this engine built (-M none): the check names the difference
        }
        List<String> ids = new ArrayList<>(controllerIds(to));
        saved.devices().stream().filter(d -> !mine.contains(d)).forEach(ids::add);
        return new SnapshotConfig(saved.machineType(), saved.ramBytes(), saved.cpus(), to, ids, saved.runState());
    }

    /** KVM's paravirtual MSRs that tcg does not implement (Documentation/virt/kvm/x86/msr.rst). */
    private static final Map<Integer, String> KVM_ONLY_MSRS = Map.of(VcpuState.MSR_KVM_ASYNC_PF_EN,
        "async page faults", VcpuState.MSR_KVM_STEAL_TIME, "steal time", VcpuState.MSR_KVM_PV_EOI_EN, "PV EOI");

    /**
     * The vCPU states as the restoring engine takes them, given the saved device records: from kvm
     * to tcg, KVM's paravirtual MSRs that tcg lacks go when the guest left them off (0) and are
     * refused, by name, when it uses them; from tcg to kvm, IA32_TSC_DEADLINE is 0 unless the
     * LAPIC's deadline is armed (KVM arms its timer from the MSR).
     */
    List<VcpuState> vcpus(List<VcpuState> states, List<DeviceRegistry.Saved> saved) throws DeviceStateException {
        List<VcpuState> out = new ArrayList<>();
        for (int i = 0; i < states.size(); i++) {
            VcpuState s = states.get(i);
            List<VcpuState.Msr> kept;
            if (to.equals(TCG)) {
                for (VcpuState.Msr m : s.msrs()) {
                    if (KVM_ONLY_MSRS.containsKey(m.index()) && m.value() != 0) {
                        throw new DeviceStateException(String.format("vCPU %d was saved on kvm using KVM %s (MSR %#x ="
                            + " %#x), which tcg does not provide", i, KVM_ONLY_MSRS.get(m.index()), m.index(), m.value()));
                    }
                }
                kept = s.msrs().stream().filter(m -> !KVM_ONLY_MSRS.containsKey(m.index())).toList();
            } else {
                // tcg keeps the last IA32_TSC_DEADLINE written; its LAPIC says whether it is still armed, KVM the MSR
                String lapic = "lapic" + i;
                boolean armed = saved.stream().anyMatch(d -> d.id().equals(lapic)
                    && d.state() instanceof LocalApicState l && l.tscDeadlineSet());
                kept = s.msrs().stream().map(m -> m.index() == VcpuState.MSR_TSC_DEADLINE && !armed
                    ? new VcpuState.Msr(m.index(), 0) : m).toList();
            }
            out.add(new VcpuState(s.gprs(), s.rip(), s.rflags(), s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(),
                s.ldtr(), s.gdtr(), s.idtr(), s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.xcr0(),
                s.debugRegisters(), kept, s.fpu(), s.mpState(), s.events(), s.kvmClockNs()));
        }
        return out;
    }

    /** Refuses vCPU states the restoring engine cannot run, naming the vCPU and the feature. */
    void checkCpus(List<VcpuState> states, CpuidModel target) throws DeviceStateException {
        for (int i = 0; i < states.size(); i++) {
            String why = CpuFeatureCheck.missing(states.get(i), target);
            if (why != null) {
                throw new DeviceStateException("vCPU " + i + " was saved on " + from + " and cannot run on " + to + ": "
                    + why);
            }
        }
    }

    /** The saved device records with the saving engine's controllers converted to the restoring engine's. */
    List<DeviceRegistry.Saved> devices(List<DeviceRegistry.Saved> saved, List<VcpuState> states)
            throws DeviceStateException {
        Map<String, DeviceState> byId = new LinkedHashMap<>();
        for (DeviceRegistry.Saved s : saved) {
            byId.put(s.id(), s.state());
        }
        List<String> mine = controllerIds(from);
        for (String id : mine) {
            if (!byId.containsKey(id)) {
                throw new DeviceStateException("the " + from + " snapshot holds no " + id + " record to convert for " + to);
            }
        }
        List<DeviceRegistry.Saved> out = new ArrayList<>(to.equals(TCG) ? toTcg(byId, states) : toKvm(byId, states));
        for (DeviceRegistry.Saved s : saved) {
            if (!mine.contains(s.id())) {
                out.add(s);
            }
        }
        return out;
    }

    private static <T> T record(Map<String, DeviceState> byId, String id, Class<T> type) throws DeviceStateException {
        DeviceState s = byId.get(id);
        if (!type.isInstance(s)) {
            throw DeviceStateException.wrongKind(id, type.asSubclass(DeviceState.class), s);
        }
        return type.cast(s);
    }

    private List<DeviceRegistry.Saved> toTcg(Map<String, DeviceState> byId, List<VcpuState> states)
            throws DeviceStateException {
        List<DeviceRegistry.Saved> out = new ArrayList<>();
        out.add(new DeviceRegistry.Saved("pic", KvmControllerConversion.pic(
            record(byId, "kvm-pic-master", KvmIrqchipState.class), record(byId, "kvm-pic-slave", KvmIrqchipState.class))));
        out.add(new DeviceRegistry.Saved("ioapic", KvmControllerConversion.ioapic(
            record(byId, "kvm-ioapic", KvmIrqchipState.class))));
        for (int i = 0; i < cpus; i++) {
            KvmVcpuState k = record(byId, "kvm-vcpu" + i, KvmVcpuState.class);
            VcpuState v = states.get(i);
            if (v.xcr0() != 1) {
                throw new DeviceStateException(String.format("vCPU %d was saved on kvm with XCR0 %#x: its XSAVE state"
                    + " (AVX and beyond) cannot cross to tcg, which has x87 and SSE only", i, v.xcr0()));
            }
            out.add(new DeviceRegistry.Saved("lapic" + i, KvmLapicConversion.fromKvm(k.lapic(),
                v.msr(VcpuState.MSR_APIC_BASE, 0), v.msr(VcpuState.MSR_TSC_DEADLINE, 0), v.msr(VcpuState.MSR_TSC, 0))));
        }
        out.add(new DeviceRegistry.Saved("pit", KvmControllerConversion.pit(record(byId, "kvm-pit", KvmPitState.class))));
        return out;
    }

    private List<DeviceRegistry.Saved> toKvm(Map<String, DeviceState> byId, List<VcpuState> states)
            throws DeviceStateException {
        List<DeviceRegistry.Saved> out = new ArrayList<>();
        PicState pic = record(byId, "pic", PicState.class);
        out.add(new DeviceRegistry.Saved("kvm-pic-master", KvmControllerConversion.picChip(pic.master(), true)));
        out.add(new DeviceRegistry.Saved("kvm-pic-slave", KvmControllerConversion.picChip(pic.slave(), false)));
        out.add(new DeviceRegistry.Saved("kvm-ioapic", KvmControllerConversion.ioapic(record(byId, "ioapic",
            IoApicState.class))));
        out.add(new DeviceRegistry.Saved("kvm-pit", KvmControllerConversion.pit(record(byId, "pit", PitState.class))));
        // kvmclock is the VM's on kvm, each vCPU's on tcg: they agree, vCPU 0 sets it
        out.add(new DeviceRegistry.Saved("kvm-clock", new KvmClockState(states.isEmpty() ? 0 : states.get(0).kvmClockNs())));
        for (int i = 0; i < cpus; i++) {
            LocalApicState lapic = record(byId, "lapic" + i, LocalApicState.class);
            out.add(new DeviceRegistry.Saved("kvm-vcpu" + i, KvmVcpuConversion.toKvm(states.get(i),
                KvmLapicConversion.toKvm(lapic))));
        }
        return out;
    }
}
