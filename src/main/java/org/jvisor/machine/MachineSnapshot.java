package org.jvisor.machine;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import org.jvisor.cpu.CpuFeatureCheck;
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
 * only then, so host input and queued virtio work meet a restored machine. A snapshot of the
 * other engine is converted on the way in ({@link EngineCrossing}).
 */
final class MachineSnapshot {
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

    Machine.SnapshotSaved save(MigrationEndpoint to, String runState, java.util.function.BooleanSupplier cancelled)
            throws MachineException, InterruptedException {
        long start = System.nanoTime();
        if (m.runControl().phase() != RunControl.Phase.PAUSED) {
            throw new MachineException("a snapshot needs a paused machine");
        }
        checkSavable();
        drainIo();
        List<VcpuState> cpus = saveCpus();
        byte[] devs = devices();
        try (SnapshotFile.Writer w = new SnapshotFile.Writer(to.openOutgoing())) {
            w.cancelWhen(cancelled);
            w.section(SnapshotFile.CONF, new StateEncoder().writeState(config(runState)).toByteArray());
            w.section(SnapshotFile.CPUS, new StateEncoder().write(StateEncoder.listOf(VcpuState.class), cpus).toByteArray());
            w.section(SnapshotFile.DEVS, devs);
            long ramWritten = w.ram(m.ram().segment());
            w.end();
            long sentAt = System.nanoTime();
            w.commit();
            return new Machine.SnapshotSaved(to.uri(), w.written(), ramWritten, System.nanoTime() - start, 1, sentAt);
        } catch (IOException e) {
            throw new MachineException("snapshot " + describe(to) + ": " + e.getMessage(), e);
        }
    }

    /**
     * The vCPUs' states taken by each vCPU thread on itself as it stops for a live migration's
     * end ({@link Machine#pause(Runnable[])}): no wake-up of the vCPU threads after the pause.
     */
    private static final class StoppedVcpus {
        private final VcpuState[] states;
        private final RuntimeException[] failures;
        private final Runnable[] onStop;

        StoppedVcpus(List<VcpuRunner> runners) {
            states = new VcpuState[runners.size()];
            failures = new RuntimeException[runners.size()];
            onStop = new Runnable[runners.size()];
            for (VcpuRunner r : runners) {
                int i = r.vcpu().index();
                onStop[i] = () -> {
                    try {
                        states[i] = r.vcpu().saveVcpuState();
                    } catch (RuntimeException e) {
                        failures[i] = e;
                    }
                };
            }
        }

        Runnable[] onStop() {
            return onStop;
        }

        /**
         * Every vCPU's state, or null if some vCPU did not save at the stop (the guest was not
         * running then); a vCPU whose save failed rethrows its failure here.
         */
        List<VcpuState> states() {
            for (RuntimeException e : failures) {
                if (e != null) {
                    throw e;
                }
            }
            for (VcpuState st : states) {
                if (st == null) {
                    return null;
                }
            }
            return List.of(states);
        }
    }

    /** Devices whose state lives outside jvisor cannot be saved or migrated. */
    private void checkSavable() throws MachineException {
        if (!m.snapshotBlockers().isEmpty()) {
            throw new MachineException("snapshot: " + String.join(", ", m.snapshotBlockers())
                + " cannot be saved: a vhost-user device's ring state lives in its backend");
        }
    }

    /** Queue work the guest asked for before the pause must be done: a half-processed queue cannot be saved. */
    private void drainIo() throws MachineException, InterruptedException {
        for (VirtioIoThread t : m.ioThreads()) {
            if (!t.drain(DRAIN_MILLIS)) {
                throw new MachineException("snapshot: the I/O thread of " + t.name() + " is still busy after "
                    + DRAIN_MILLIS / 1000 + " s (a chardev or backend that does not take its output?); nothing was saved");
            }
        }
    }

    /** Each vCPU's state, taken on its own thread (the machine is paused). */
    private List<VcpuState> saveCpus() throws MachineException, InterruptedException {
        try {
            return vcpuStates(m);
        } catch (DeviceStateException e) {
            throw new MachineException("snapshot: " + e.getMessage(), e);
        }
    }

    /** Each vCPU's state of {@code m}, taken on its own thread (no vCPU may be running). */
    static List<VcpuState> vcpuStates(Machine m) throws DeviceStateException, InterruptedException {
        List<VcpuState> cpus = new ArrayList<>();
        for (VcpuRunner r : m.runners()) {
            cpus.add(m.runControl().callOnVcpu(r.vcpu().index(), () -> r.vcpu().saveVcpuState()));
        }
        return cpus;
    }

    /** The DEVS section: each device's id and state record, in the registry's order. */
    private byte[] devices() {
        return devicesPayload(m.devices().save());
    }

    /**
     * The device records a DEVS section's payload holds ({@link #devicesPayload}'s reverse); an
     * entry without its id or state is refused through {@code fail}.
     */
    static <E extends Exception> List<DeviceRegistry.Saved> readDevices(StateDecoder devs, Function<String, E> fail)
            throws E, DeviceStateException {
        int n = devs.readInt();
        List<DeviceRegistry.Saved> states = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String id = devs.readString();
            org.jvisor.devices.state.DeviceState state = devs.readState();
            if (id == null || state == null) {
                throw fail.apply("holds device " + (i + 1) + " of " + n + " without " + (id == null ? "its id" : "a state (" + id + ")"));
            }
            states.add(new DeviceRegistry.Saved(id, state));
        }
        return states;
    }

    /** The DEVS section's payload of {@code saved}. */
    static byte[] devicesPayload(List<DeviceRegistry.Saved> saved) {
        StateEncoder devs = new StateEncoder();
        devs.writeInt(saved.size());
        for (DeviceRegistry.Saved d : saved) {
            devs.writeString(d.id()).writeState(d.state());
        }
        return devs.toByteArray();
    }

    /**
     * The smallest pass whose throughput replaces the estimate: a smaller one fits in the
     * socket's buffer and would seem to go at memory speed.
     */
    private static final long BANDWIDTH_SAMPLE_BYTES = 4L << 20;

    /** Passes over RAM at most, before the guest is stopped whatever is left (QEMU has no fixed limit; it throttles). */
    static final int MAX_PASSES = 30;

    /**
     * A live migration (pre-copy, as QEMU's): RAM is sent while the guest runs, in passes, each
     * pass the pages written during the one before, found through the {@link
     * org.jvisor.memory.DirtyLog}; when what is left would take less than the downtime limit to
     * send (or after {@link #MAX_PASSES}), {@code control} stops the guest and the vCPUs,
     * devices and the last dirty pages follow. The machine is left paused. Each new round of the
     * log is taken with no vCPU running (no store is in flight), through {@code control}, which
     * owns the run state: the migration runs beside the commands, not between them.
     */
    Machine.SnapshotSaved saveLive(MigrationEndpoint to, String runState, Machine.LiveMigrationControl control,
                                   long downtimeMillis) throws MachineException, InterruptedException {
        long downtimeNanos = downtimeMillis * 1_000_000L;
        long start = System.nanoTime();
        if (!m.accelerator().logsDirtyPages()) {
            throw new MachineException("live migration: the " + m.accelerator().name() + " engine does not log the"
                + " pages the guest writes; a stop-the-world snapshot (migrate while paused) works");
        }
        checkSavable();
        org.jvisor.memory.DirtyLog log = m.ram().dirtyLog();
        MemorySegment ram = m.ram().segment();
        MigrationTrace trace = MigrationTrace.of(m.config().traceMigration(), m.log(), "source");
        try (SnapshotFile.Writer w = new SnapshotFile.Writer(to.openOutgoing())) {
            w.cancelWhen(control::cancelled);
            w.section(SnapshotFile.CONF, new StateEncoder().writeState(config(runState)).toByteArray());
            beginRound(log, control, true);
            StopRehearsal.source(m, control);
            trace.phase("rehearsal");
            long[] nonZero = SnapshotFile.nonZeroPages(ram);
            trace.phase("scan");
            long passStart = System.nanoTime();
            long sent = w.pages(SnapshotFile.RAMP, ram, nonZero);
            long passNanos = System.nanoTime() - passStart;
            // QEMU's bandwidth (migration_update_counters): what the stream took over the last pass
            double bytesPerNano = sent / (double) Math.max(1, passNanos);
            trace.phase("pass-1", sent / SnapshotFile.PAGE + " pages");
            int passes = 1;
            long[] dirty;
            long roundStart = start;
            while (true) {
                long t0 = System.nanoTime();
                dirty = beginRound(log, control, false);
                long pages = count(dirty);
                control.progress(new MigrationProgress(passes, sent, pages,
                    pages * 1_000_000_000L / Math.max(1, t0 - roundStart), (long) (bytesPerNano * 1e9)));
                roundStart = t0;
                boolean fits = pages * SnapshotFile.PAGE <= bytesPerNano * downtimeNanos;
                if (fits || passes >= MAX_PASSES) {
                    break;
                }
                passStart = System.nanoTime();
                long bytes = w.pages(SnapshotFile.RAMP, ram, dirty);
                passNanos = System.nanoTime() - passStart;
                if (bytes >= BANDWIDTH_SAMPLE_BYTES) {
                    bytesPerNano = bytes / (double) Math.max(1, passNanos);
                }
                sent += bytes;
                passes++;
                trace.phase("pass-" + passes, bytes / SnapshotFile.PAGE + " pages");
            }
            trace.phase("last-sync", String.format("%.0f MB/s", bytesPerNano * 1e3));
            trace.moment("stop");
            long allocatedBefore = allocatedBytes();
            StoppedVcpus stopped = new StoppedVcpus(m.runners());
            control.stopGuest(stopped.onStop());
            trace.phase("stop-vcpus", String.format("pause %.1f ms", m.lastPauseNanos() / 1e6));
            drainIo();
            trace.phase("drain-io");
            long[] last = log.fetchAndClear();
            log.stop();
            for (int i = 0; i < last.length; i++) {
                last[i] |= dirty[i];
            }
            trace.phase("dirty-sync");
            List<VcpuState> cpus = stopped.states();
            if (cpus == null) {
                cpus = saveCpus();   // the guest was not running at the stop: saved now, on each vCPU's thread
            }
            trace.phase("save-vcpus", stopped.states() != null ? "as they stopped" : "after the stop");
            w.section(SnapshotFile.CPUS, new StateEncoder().write(StateEncoder.listOf(VcpuState.class), cpus).toByteArray());
            trace.phase("send-vcpus");
            byte[] devs = devices();
            trace.phase("save-devices");
            w.section(SnapshotFile.DEVS, devs);
            trace.phase("send-devices", devs.length + " bytes");
            long finalBytes = w.pages(SnapshotFile.RAM, ram, last);
            trace.phase("send-ram", finalBytes / SnapshotFile.PAGE + " pages");
            w.end();
            long sentAt = System.nanoTime();
            trace.phase("send-end", (allocatedBytes() - allocatedBefore) / 1024 + " KiB allocated since the stop");
            w.commit();
            trace.phase("confirmed");
            trace.print();
            return new Machine.SnapshotSaved(to.uri(), w.written(), sent + finalBytes, System.nanoTime() - start,
                passes + 1, sentAt);
        } catch (IOException e) {
            if (control.cancelled()) {
                throw new MachineException("migration to " + describe(to) + " cancelled", e);
            }
            throw new MachineException("migration to " + describe(to) + ": " + e.getMessage(), e);
        } finally {
            if (log.active()) {
                log.stop();
                m.accelerator().dropWriteMappings();  // harmless: mappings come back on the next stores
            }
        }
    }

    /**
     * A new round of the dirty log, taken with no vCPU running (no store is in flight): the pages
     * written so far (or, with {@code first}, none: logging starts), and no vCPU keeps a mapping
     * that would let its next store to a clean page go unmarked.
     */
    private long[] beginRound(org.jvisor.memory.DirtyLog log, Machine.LiveMigrationControl control, boolean first)
            throws InterruptedException {
        long[][] dirty = new long[1][];
        control.quiesce(() -> {
            if (first) {
                log.start();
            } else {
                dirty[0] = log.fetchAndClear();
            }
            m.accelerator().dropWriteMappings();
        });
        return dirty[0];
    }

    /** Heap bytes this thread has allocated so far (-trace migration: a collection inside the stop would pause it). */
    private static long allocatedBytes() {
        return java.lang.management.ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t
            ? t.getCurrentThreadAllocatedBytes() : 0;
    }

    private static long count(long[] set) {
        long n = 0;
        for (long w : set) {
            n += Long.bitCount(w);
        }
        return n;
    }

    /** A file by its path (as messages always named it), a stream by its URI. */
    static String describe(MigrationEndpoint e) {
        return e instanceof MigrationEndpoint.File f ? f.path().toString() : e.uri();
    }

    /** Restores the machine from {@code from}; returns the run state it was saved in. */
    String restore(MigrationEndpoint from) throws MachineException {
        String runState;
        String name = describe(from);
        MigrationEndpoint.Incoming in;
        try {
            in = from.openIncoming();
        } catch (IOException e) {
            throw new MachineException("-incoming: " + name + ": cannot open: " + e.getMessage(), e);
        }
        MigrationTrace trace = MigrationTrace.of(m.config().traceMigration(), m.log(), "destination");
        StopRehearsal.Destination rehearsal = null;
        try (SnapshotFile.Reader r = new SnapshotFile.Reader(in, name)) {
            trace.skip();   // the wait for the source to connect
            SnapshotConfig saved = decoder(r, SnapshotFile.CONF).read(SnapshotConfig.class);
            if (saved == null) {
                throw r.fail("holds no machine configuration");
            }
            // a snapshot of the other engine: compared (and later converted) as this engine would have saved it
            EngineCrossing crossing = EngineCrossing.between(saved.accelerator(), m.accelerator().name(), m.config().cpus());
            String why = (crossing == null ? saved : crossing.config(saved)).mismatch(config(saved.runState()));
            if (why != null) {
                throw r.fail(why);
            }
            if (!(from instanceof MigrationEndpoint.File) && saved.runState().equals("running")) {
                // a guest that runs on the source (a live migration, as a rule): its pause is what
                // the source sends from now on, so the stop's work is rehearsed meanwhile
                rehearsal = StopRehearsal.destination(m);
            }
            int passes = 0;
            while (r.nextIs(SnapshotFile.RAMP)) {
                if (passes++ == 0) {
                    trace.skip();
                }
                r.ram(SnapshotFile.RAMP, m.ram().segment());   // a live migration's passes, then the final state
                trace.phase("precopy-pass-" + passes);
            }
            trace.phase("await-stop");
            boolean vcpuThreads = rehearsal != null && rehearsal.await();
            trace.phase("await-rehearsal");
            StateDecoder cpuSection = decoder(r, SnapshotFile.CPUS);
            trace.phase("receive-vcpus");
            List<?> cpus = (List<?>) cpuSection.read(StateEncoder.listOf(VcpuState.class));
            cpuSection.expectEnd();
            trace.phase("decode-vcpus");
            if (cpus == null || cpus.size() != m.config().cpus()) {
                throw r.fail("holds " + (cpus == null ? 0 : cpus.size()) + " vCPU states for " + m.config().cpus()
                    + " vCPUs");
            }
            if (cpus.stream().anyMatch(java.util.Objects::isNull)) { // (an immutable list refuses contains(null))
                throw r.fail("holds an empty vCPU state");
            }
            StateDecoder devSection = decoder(r, SnapshotFile.DEVS);
            trace.phase("receive-devices");
            List<DeviceRegistry.Saved> states = readDevices(devSection, r::fail);
            devSection.expectEnd();
            trace.phase("decode-devices");
            if (crossing != null) {
                List<VcpuState> vcpus = crossing.vcpus(cpus.stream().map(VcpuState.class::cast).toList(), states);
                crossing.checkCpus(vcpus, m.accelerator().cpuid());
                states = crossing.devices(states, vcpus);
                cpus = vcpus;
            } else {
                // one engine, but perhaps other vCPU features (tcg's -cpu max or +x2apic)
                for (int i = 0; i < cpus.size(); i++) {
                    String missing = CpuFeatureCheck.missing((VcpuState) cpus.get(i), m.accelerator().cpuid());
                    if (missing != null) {
                        throw new DeviceStateException("vCPU " + i + " cannot run on this machine's vCPUs: " + missing);
                    }
                }
            }
            trace.phase("check-states");
            r.ram(m.ram().segment());
            trace.phase("receive-ram");
            r.section(SnapshotFile.END);
            trace.phase("receive-end");
            m.devices().restore(states);
            trace.phase("restore-devices");
            if (!vcpuThreads) {
                m.startVcpuThreads();
                trace.phase("start-vcpu-threads");
            }
            long[] onVcpus = new long[1];
            for (VcpuRunner runner : m.runners()) {
                VcpuState st = (VcpuState) cpus.get(runner.vcpu().index());
                m.runControl().callOnVcpu(runner.vcpu().index(), () -> {
                    long t = System.nanoTime();
                    runner.vcpu().restoreVcpuState(st);
                    onVcpus[0] += System.nanoTime() - t;
                    return null;
                });
            }
            trace.phase("restore-vcpus", String.format("%.1f ms on the vCPU threads", onVcpus[0] / 1e6));
            runState = saved.runState();
        } catch (SnapshotException e) {
            throw new MachineException("-incoming: " + e.getMessage(), e);
        } catch (DeviceStateException e) {
            throw new MachineException("-incoming: " + name + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MachineException("-incoming: interrupted", e);
        } finally {
            if (rehearsal != null) {
                rehearsal.finish();   // a failed restore closes the machine: not under the rehearsal's feet
            }
        }
        trace.phase("confirm");
        m.startDevices();
        trace.phase("start-devices");
        m.incomingTrace(trace);
        return runState;
    }

    private static StateDecoder decoder(SnapshotFile.Reader r, String tag) throws SnapshotException {
        return new StateDecoder(r.section(tag), "section " + tag.trim());
    }
}
