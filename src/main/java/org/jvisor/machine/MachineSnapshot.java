package org.jvisor.machine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.cpu.VcpuState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StateDecoder;
import org.jvisor.devices.state.StateEncoder;
import org.jvisor.devices.virtio.VirtioIoThread;

/**
 * A machine to and from a snapshot file ({@link SnapshotFile} has the layout): what to save in
 * which order, and the restore's order, which matters. RAM first, so a device that looks at
 * guest memory while restoring (a virtqueue's rings) sees the saved contents; the devices next,
 * interrupt controllers first (the registry's order; its description says why); the vCPUs last,
 * each on its own thread, after its local APIC, whose IA32_APIC_BASE it takes. Devices start
 * only then, so host input and queued virtio work meet a restored machine.
 */
final class MachineSnapshot {
    /** Why only tcg: what jvisor's kvm engine does not read or write yet. */
    static final String ENGINE_LIMIT = "snapshots need -accel tcg for now: the kvm engine does not yet"
        + " save or restore KVM_GET/SET_MP_STATE, XSAVE, XCRS, DEBUGREGS, VCPU_EVENTS, the in-kernel LAPIC,"
        + " IRQCHIP and PIT2, KVM_GET/SET_CLOCK and its MSR list";

    /** How long a save waits for a virtio I/O thread to finish the work queued before the pause. */
    private static final long DRAIN_MILLIS = 10_000;

    private final Machine m;

    MachineSnapshot(Machine m) {
        this.m = m;
    }

    /** What the file records of the machine's configuration, with the run state at the save request. */
    private SnapshotConfig config(String runState) {
        return new SnapshotConfig(m.config().machineType().qemuName(), m.config().memoryBytes(), m.config().cpus(),
            m.accelerator().name(), m.devices().ids(), runState);
    }

    Machine.SnapshotSaved save(Path file, String runState) throws MachineException, InterruptedException {
        long start = System.nanoTime();
        if (m.runControl().phase() != RunControl.Phase.PAUSED) {
            throw new MachineException("a snapshot needs a paused machine");
        }
        if (!m.accelerator().name().equals("tcg")) {
            throw new MachineException(ENGINE_LIMIT);
        }
        if (!m.snapshotBlockers().isEmpty()) {
            throw new MachineException("snapshot: " + String.join(", ", m.snapshotBlockers())
                + " cannot be saved: a vhost-user device's ring state lives in its backend");
        }
        for (VirtioIoThread t : m.ioThreads()) {
            // queue work the guest asked for before the pause must be done: a half-processed queue cannot be saved
            if (!t.drain(DRAIN_MILLIS)) {
                throw new MachineException("snapshot: the I/O thread of " + t.name() + " is still busy after "
                    + DRAIN_MILLIS / 1000 + " s (a chardev or backend that does not take its output?); nothing was saved");
            }
        }
        List<VcpuState> cpus = new ArrayList<>();
        try {
            for (VcpuRunner r : m.runners()) {
                cpus.add(m.runControl().callOnVcpu(r.vcpu().index(), () -> r.vcpu().saveVcpuState()));
            }
        } catch (DeviceStateException e) {
            throw new MachineException("snapshot: " + e.getMessage(), e);
        }
        StateEncoder devs = new StateEncoder();
        List<DeviceRegistry.Saved> saved = m.devices().save();
        devs.writeInt(saved.size());
        for (DeviceRegistry.Saved d : saved) {
            devs.writeString(d.id()).writeState(d.state());
        }
        try (SnapshotFile.Writer w = new SnapshotFile.Writer(file)) {
            w.section(SnapshotFile.CONF, new StateEncoder().writeState(config(runState)).toByteArray());
            w.section(SnapshotFile.CPUS, new StateEncoder().write(StateEncoder.listOf(VcpuState.class), cpus).toByteArray());
            w.section(SnapshotFile.DEVS, devs.toByteArray());
            long ramWritten = w.ram(m.ram().segment());
            w.finish();
            return new Machine.SnapshotSaved(file, Files.size(file), ramWritten, System.nanoTime() - start);
        } catch (IOException e) {
            throw new MachineException("snapshot " + file + ": " + e.getMessage(), e);
        }
    }

    /** Restores the machine from {@code file}; returns the run state it was saved in. */
    String restore(Path file) throws MachineException {
        if (!m.accelerator().name().equals("tcg")) {
            throw new MachineException("-incoming: " + ENGINE_LIMIT);
        }
        String runState;
        try (SnapshotFile.Reader r = new SnapshotFile.Reader(file)) {
            SnapshotConfig saved = decoder(r, SnapshotFile.CONF).read(SnapshotConfig.class);
            String why = saved.mismatch(config(saved.runState()));
            if (why != null) {
                throw r.fail(why);
            }
            StateDecoder cpuSection = decoder(r, SnapshotFile.CPUS);
            List<?> cpus = (List<?>) cpuSection.read(StateEncoder.listOf(VcpuState.class));
            cpuSection.expectEnd();
            if (cpus == null || cpus.size() != m.config().cpus()) {
                throw r.fail("holds " + (cpus == null ? 0 : cpus.size()) + " vCPU states for " + m.config().cpus()
                    + " vCPUs");
            }
            StateDecoder devSection = decoder(r, SnapshotFile.DEVS);
            int n = devSection.readInt();
            List<DeviceRegistry.Saved> states = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                states.add(new DeviceRegistry.Saved(devSection.readString(), devSection.readState()));
            }
            devSection.expectEnd();
            r.ram(m.ram().segment());
            r.section(SnapshotFile.END);
            m.devices().restore(states);
            m.startVcpuThreads();
            for (VcpuRunner runner : m.runners()) {
                VcpuState st = (VcpuState) cpus.get(runner.vcpu().index());
                m.runControl().callOnVcpu(runner.vcpu().index(), () -> {
                    runner.vcpu().restoreVcpuState(st);
                    return null;
                });
            }
            runState = saved.runState();
        } catch (SnapshotException e) {
            throw new MachineException("-incoming: " + e.getMessage(), e);
        } catch (DeviceStateException e) {
            throw new MachineException("-incoming: " + file + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MachineException("-incoming: interrupted", e);
        }
        m.startDevices();
        return runState;
    }

    private static StateDecoder decoder(SnapshotFile.Reader r, String tag) throws SnapshotException {
        return new StateDecoder(r.section(tag), "section " + tag.trim());
    }
}
