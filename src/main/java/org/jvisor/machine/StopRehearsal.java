package org.jvisor.machine;

import java.util.ArrayList;
import java.util.List;

import org.jvisor.cpu.CpuFeatureCheck;
import org.jvisor.cpu.VcpuState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StateDecoder;
import org.jvisor.devices.state.StateEncoder;

/**
 * A live migration's stop-and-copy, run once through during the pre-copy on states that are
 * thrown away, so that the real one runs warm. On the JVM the first save, encoding, decoding and
 * restore of the vCPU and device records loads and links their classes, spins the reflection
 * that the record encoding uses and starts the destination's vCPU threads: 100-400 ms on a
 * fresh VMM (measured with -trace migration), which would otherwise all fall inside the guest's
 * pause. The source saves its states (with the vCPUs stopped for a moment) and encodes them; the
 * destination, a fresh machine of the same configuration, starts its vCPU threads, and saves,
 * encodes, decodes and restores its own states, which the real restore overwrites.
 *
 * <p>Nothing here changes what is sent or restored: a rehearsal that fails only leaves the stop
 * cold (the real save or restore then reports the problem, if it is one).
 */
final class StopRehearsal {
    private StopRehearsal() {
    }

    /**
     * On the source, during the pre-copy: saves every vCPU and device with no vCPU running (a
     * moment, as a round of the dirty log), then encodes them as the stop will.
     */
    static void source(Machine m, Machine.LiveMigrationControl control) throws InterruptedException {
        List<VcpuState> cpus = new ArrayList<>();
        List<List<DeviceRegistry.Saved>> devs = new ArrayList<>();
        control.quiesce(() -> {
            try {
                cpus.addAll(MachineSnapshot.vcpuStates(m));
                devs.add(m.devices().save());
            } catch (DeviceStateException | RuntimeException e) {
                // the stop stays cold; the real save reports what is wrong, if anything
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        if (cpus.size() == m.runners().size() && !devs.isEmpty()) {
            encodeVcpus(cpus);
            MachineSnapshot.devicesPayload(devs.getFirst());
        }
    }

    /**
     * On the destination, once the stream's configuration is checked: starts the vCPU threads
     * and rehearses the restore on a thread of its own, beside the passes being read.
     * {@link Destination#await()} waits for it before the real restore.
     */
    static Destination destination(Machine m) {
        Destination d = new Destination(m);
        d.thread = Thread.ofPlatform().name("jvisor-migration-rehearsal").start(d::run);
        return d;
    }

    /** The destination's rehearsal in progress. */
    static final class Destination {
        private final Machine m;
        private Thread thread;
        private volatile boolean vcpuThreadsStarted;

        private Destination(Machine m) {
            this.m = m;
        }

        private void run() {
            m.startVcpuThreads();
            vcpuThreadsStarted = true;
            try {
                List<?> cpus = (List<?>) new StateDecoder(encodeVcpus(MachineSnapshot.vcpuStates(m)), "rehearsal")
                    .read(StateEncoder.listOf(VcpuState.class));
                for (VcpuRunner r : m.runners()) {
                    VcpuState st = (VcpuState) cpus.get(r.vcpu().index());
                    CpuFeatureCheck.missing(st, m.accelerator().cpuid());
                    m.runControl().callOnVcpu(r.vcpu().index(), () -> {
                        r.vcpu().restoreVcpuState(st);
                        return null;
                    });
                }
                StateDecoder devs = new StateDecoder(MachineSnapshot.devicesPayload(m.devices().save()), "rehearsal");
                m.devices().restore(MachineSnapshot.readDevices(devs, DeviceStateException::new));
            } catch (DeviceStateException | RuntimeException e) {
                // the restore stays cold; the real one reports what is wrong, if anything
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** Waits for the rehearsal; returns whether it started the vCPU threads (else the restore must). */
        boolean await() throws InterruptedException {
            thread.join();
            return vcpuThreadsStarted;
        }

        /** Waits for the rehearsal through interrupts (bounded work: no I/O), keeping the interrupt status. */
        void finish() {
            boolean interrupted = false;
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static byte[] encodeVcpus(List<VcpuState> cpus) {
        return new StateEncoder().write(StateEncoder.listOf(VcpuState.class), cpus).toByteArray();
    }
}
