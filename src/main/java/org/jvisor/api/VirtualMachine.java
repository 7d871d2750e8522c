package org.jvisor.api;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

import org.jvisor.devices.virtio.VirtioBalloon;
import org.jvisor.config.HotplugDevice;
import org.jvisor.config.MachineConfig;
import org.jvisor.cpu.X86State;
import org.jvisor.machine.Machine;
import org.jvisor.machine.MigrationEndpoint;
import org.jvisor.machine.MachineException;

/**
 * A jvisor virtual machine: the handle through which a Java program (and jvisor's own command
 * line) builds, runs, pauses, resets, powers down and ends a machine, watches its lifecycle events
 * and asks about its vCPUs and disks. Each lifecycle method is one QMP command:
 *
 * <table>
 *   <caption>Methods and the QMP commands they implement</caption>
 *   <tr><th>method</th><th>QMP</th></tr>
 *   <tr><td>{@link #start()}, {@link #resume()}</td><td>cont</td></tr>
 *   <tr><td>{@link #pause()}</td><td>stop</td></tr>
 *   <tr><td>{@link #reset()}</td><td>system_reset</td></tr>
 *   <tr><td>{@link #powerDown()}</td><td>system_powerdown</td></tr>
 *   <tr><td>{@link #quit()}</td><td>quit</td></tr>
 *   <tr><td>{@link #status()}</td><td>query-status</td></tr>
 *   <tr><td>{@link #vcpus()}</td><td>query-cpus-fast</td></tr>
 *   <tr><td>{@link #blockDevices()}</td><td>query-block</td></tr>
 *   <tr><td>{@link #startMigration(String)}, {@link #migrate(String)}</td><td>migrate</td></tr>
 *   <tr><td>{@link #cancelMigration()}</td><td>migrate_cancel</td></tr>
 *   <tr><td>{@link #queryMigrate()}</td><td>query-migrate</td></tr>
 *   <tr><td>{@link #restore(MachineConfig, Path)}</td><td>-incoming file:PATH</td></tr>
 *   <tr><td>{@link #createIncoming}, {@link #migrateIncoming}</td><td>-incoming defer, migrate-incoming</td></tr>
 *   <tr><td>{@link #chardevs()}</td><td>query-chardev</td></tr>
 *   <tr><td>{@link #name()}</td><td>query-name</td></tr>
 *   <tr><td>{@link #ioThreads()}</td><td>query-iothreads</td></tr>
 * </table>
 *
 * <p>A machine is created in {@link RunState#PRELAUNCH} (QEMU's -S): built, the kernel in RAM,
 * the vCPU threads waiting; {@link #start()} runs it. It ends when the guest powers off (unless
 * {@link MachineConfig#noShutdown()}), a reset meets {@link MachineConfig#noReboot()}, the guest
 * writes to isa-debug-exit, or the host quits it; {@link #awaitExit()} then tells how. An ended
 * machine has released everything (threads, guest RAM, open images, the engine).
 *
 * <p>Thread safety: every method may be called from any thread. Lifecycle methods are carried
 * out one at a time, in call order, on the machine's own lifecycle thread, and return when done,
 * after the events they caused have reached the listeners (called from a listener, they do not
 * wait for that).
 * Events go to listeners in the order they happened, on the machine's event thread
 * ("jvisor-events"), which may call the lifecycle methods but not wait for the end.
 *
 * <pre>{@code
 * MachineConfig config = MachineConfig.builder()
 *     .kernel(Path.of("vmlinuz")).initrd(Path.of("initramfs.cpio.gz"))
 *     .append("console=ttyS0").memory(512L << 20)
 *     .serial(new MachineConfig.SerialConfig.Streams(System.out, null))
 *     .build();
 * try (VirtualMachine vm = VirtualMachine.create(config)) {
 *     vm.addListener(event -> System.err.println(event));
 *     vm.start();
 *     // ... later: ask the guest to shut down, as a power button would
 *     vm.powerDown();
 *     VmExit exit = vm.awaitExit();
 * }
 * }</pre>
 */
public final class VirtualMachine implements AutoCloseable {

    /** A listener's registration: {@link #close()} removes the listener. */
    public interface Subscription extends AutoCloseable {
        @Override
        void close();
    }

    private final Lifecycle lifecycle;
    private final MachineConfig config;
    private final String engine;

    private VirtualMachine(Lifecycle lifecycle, MachineConfig config) {
        this.lifecycle = lifecycle;
        this.config = config;
        this.engine = lifecycle.machine().acceleratorName();
    }

    /**
     * Builds a machine from {@code config}, in {@link RunState#PRELAUNCH}; jvisor's messages go
     * to {@code System.err}.
     *
     * @throws VmException if the machine cannot be built (the message names the option at fault)
     */
    public static VirtualMachine create(MachineConfig config) throws VmException {
        return create(config, System.err);
    }

    /**
     * Builds a machine from {@code config}, in {@link RunState#PRELAUNCH}. jvisor's own messages
     * (which engine runs and why, guest resets, errors, -trace reports) go to {@code log}, one
     * line each, starting with "jvisor: ".
     *
     * @throws VmException if the machine cannot be built (the message names the option at fault)
     */
    public static VirtualMachine create(MachineConfig config, PrintStream log) throws VmException {
        return create(config, log, TranslationCache.forOneMachine());
    }

    /**
     * {@link #create(MachineConfig, PrintStream)} for a machine that shares translated guest code
     * with the other machines created with the same {@code translations} (tcg only): guests that
     * run the same kernel reuse each other's compiled code and skip most of the warm-up.
     *
     * @throws VmException if the machine cannot be built (the message names the option at fault)
     */
    public static VirtualMachine create(MachineConfig config, PrintStream log, TranslationCache translations)
            throws VmException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(log, "log");
        Objects.requireNonNull(translations, "translations");
        return new VirtualMachine(new Lifecycle(config, log, translations, null, false), config);
    }

    /**
     * Builds a machine from {@code config} and restores it from the snapshot {@code snapshot}
     * (QEMU's -incoming file:PATH), in {@link RunState#PAUSED}: {@link #resume()} runs the guest
     * from where it was saved. The configuration must be the one the snapshot was saved with
     * (machine type, RAM, vCPUs, devices; the same kernel for later resets); the disk images must
     * be the ones the guest had, unchanged since (they are not in the snapshot).
     *
     * @throws VmException if the machine cannot be built, or the file is missing, truncated,
     *                     corrupt, or was saved from another configuration (the message names the
     *                     file and what differs); nothing is left running
     */
    public static VirtualMachine restore(MachineConfig config, Path snapshot, PrintStream log)
            throws VmException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(log, "log");
        return new VirtualMachine(new Lifecycle(config, log, TranslationCache.forOneMachine(),
            new MigrationEndpoint.File(snapshot),
            false), config);
    }

    /**
     * Builds a machine from {@code config} that waits for a snapshot (QEMU's -incoming defer), in
     * {@link RunState#INMIGRATE}: no kernel loaded, no vCPU yet ({@link #vcpus()} is empty);
     * {@link #migrateIncoming} restores it. Until then start, resume and reset are refused.
     *
     * @throws VmException if the machine cannot be built
     */
    public static VirtualMachine createIncoming(MachineConfig config, PrintStream log) throws VmException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(log, "log");
        return new VirtualMachine(new Lifecycle(config, log, TranslationCache.forOneMachine(), null, true), config);
    }

    /**
     * QMP {@code migrate-incoming}: restores a machine built by {@link #createIncoming} from
     * {@code uri} ({@code file:PATH}; {@code unix:PATH} or {@code tcp:HOST:PORT}, where it listens
     * for the source and waits for it; {@code exec:CMD}, the command's standard output), into {@link RunState#PAUSED}; {@link #resume()} runs it, and
     * {@link #incomingRunState()} tells whether the source was running (QEMU then runs on at once
     * unless -S). A failed restore ends the machine (exit status 1, host-error), as QEMU exits when
     * an incoming migration fails.
     *
     * @throws IllegalArgumentException if the URI is not one jvisor takes
     * @throws IllegalStateException    if the machine is not waiting for a migration, or has ended, or
     *                                  {@link #quit} ended the wait (the machine then ends as the quit asked)
     * @throws VmException              if the snapshot cannot be restored (the message says why)
     */
    public void migrateIncoming(String uri) throws VmException {
        migrateIncoming(uri, false);
    }

    /**
     * {@link #migrateIncoming(String)}, and with {@code autostart} (no -S) a guest that was
     * running when saved runs on at once, on the machine's own thread right after the restore, as
     * QEMU's process_incoming_migration_bh starts it: no round trip to the caller lengthens the
     * guest's pause.
     */
    public void migrateIncoming(String uri, boolean autostart) throws VmException {
        MigrationEndpoint from = MigrationEndpoint.parse(Objects.requireNonNull(uri, "uri"));
        try {
            lifecycle.restore(from, autostart);
        } catch (IllegalStateException e) {
            throw e;
        } catch (MachineException e) {
            throw new VmException(e.getMessage(), e);
        } catch (Exception e) {
            throw new VmException("restoring from " + uri + " failed: " + e, e);
        }
    }

    /**
     * The run state the machine's snapshot was saved in ({@link RunState#RUNNING} when QMP
     * {@code migrate} took a running machine, {@link RunState#PAUSED} otherwise), for a machine
     * restored from one; empty for a booted machine. QEMU runs a restored machine on at once only
     * when this is running and -S was not given.
     */
    public Optional<RunState> incomingRunState() {
        return lifecycle.incomingRunState();
    }

    /** {@link #restore(MachineConfig, Path, PrintStream)} with messages on {@code System.err}. */
    public static VirtualMachine restore(MachineConfig config, Path snapshot) throws VmException {
        return restore(config, snapshot, System.err);
    }

    /**
     * Saves the whole machine into {@code file}: vCPUs, devices and RAM (zero pages skipped), in
     * jvisor's snapshot format. The machine must be paused ({@link #pause()}) and stays paused.
     * The file appears whole or not at all. Disk images are not copied: keep them unchanged for a
     * restore, as with QEMU and Firecracker.
     *
     * @return what was written and how long it took
     * @throws IllegalStateException if the machine is not paused, or has ended
     * @throws VmException           if the file cannot be written (or this engine cannot save
     *                               vCPU state: kvm, for now)
     */
    public MigrationStatus saveSnapshot(Path file) throws VmException {
        return finish(new MigrationEndpoint.File(Objects.requireNonNull(file, "file")), true);
    }

    /**
     * Sends the machine to the destination {@code uri} and waits for the end:
     * {@link #startMigration} then the result. Returns what {@link #queryMigrate()} then reports.
     *
     * @throws IllegalArgumentException if the URI is not one jvisor takes
     * @throws IllegalStateException    if the machine is neither running nor paused, has ended, or
     *                                  a migration is in progress
     * @throws VmException              if the migration failed or was cancelled (query-migrate says
     *                                  which, with the reason)
     */
    public MigrationStatus migrate(String uri) throws VmException {
        return finish(MigrationEndpoint.parse(Objects.requireNonNull(uri, "uri")), false);
    }

    /**
     * QMP {@code migrate}: starts sending the machine to the destination {@code uri} and returns
     * once it is under way; the migration runs beside the machine's other commands. {@code uri}
     * is {@code file:PATH} (a snapshot file, as {@link #saveSnapshot}), {@code unix:PATH} or
     * {@code tcp:HOST:PORT} (another jvisor's -incoming, listening there) or {@code exec:CMD} (the
     * stream on the command's standard input). A running guest migrates live, on either engine:
     * RAM goes in passes while it runs, and it stops only for the last pages (see
     * {@link #setMigrationDowntimeLimit}); a paused one is sent as it is.
     * It ends in {@link RunState#POSTMIGRATE} when it worked, as QEMU's source does
     * ({@link #resume()} runs it on); a failed or cancelled migration leaves it running.
     * {@link #queryMigrate()} follows it; {@link #cancelMigration()} stops it.
     *
     * @return completes with the final status, or exceptionally with why it failed
     * @throws IllegalArgumentException if the URI is not one jvisor takes
     * @throws IllegalStateException    if the machine is neither running nor paused, has ended, or
     *                                  a migration is in progress
     */
    public CompletableFuture<MigrationStatus> startMigration(String uri) {
        MigrationEndpoint to = MigrationEndpoint.parse(Objects.requireNonNull(uri, "uri"));
        try {
            return lifecycle.startMigration(to, false);
        } catch (IllegalStateException e) {
            throw e;
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * QMP {@code migrate_cancel}: the migration in progress stops (status cancelling, then
     * cancelled); nothing reaches the destination's commit and a guest that ran runs on. Does
     * nothing when no migration is in progress.
     *
     * @throws IllegalStateException if the machine has ended
     */
    public void cancelMigration() {
        try {
            lifecycle.cancelMigration();
        } catch (IllegalStateException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("migrate_cancel failed: " + e, e);
        }
    }

    /**
     * QMP {@code migrate-set-parameters downtime-limit}: how long a live migration may stop the
     * guest, in ms (QEMU's default 300; 0 to 2000000): passes over RAM go on while the guest runs
     * until the rest would take less than this to send at the rate measured.
     *
     * @throws IllegalArgumentException outside QEMU's range, with QEMU's words
     */
    public void setMigrationDowntimeLimit(long millis) {
        if (millis < 0 || millis > 2_000_000) {
            throw new IllegalArgumentException("Parameter 'downtime_limit' expects an integer in the range of 0 to 2000000 milliseconds");
        }
        lifecycle.setDowntimeLimit(millis);
    }

    /** The downtime limit of live migrations, in ms ({@link #setMigrationDowntimeLimit}). */
    public long migrationDowntimeLimit() {
        return lifecycle.downtimeLimit();
    }

    /** QMP {@code query-migrate}: the state of the last migration ({@link MigrationStatus#NONE} before any). */
    public MigrationStatus queryMigrate() {
        return lifecycle.migration();
    }

    /**
     * Checks a migration URI as QEMU spells it: {@code file:PATH}, {@code unix:PATH},
     * {@code tcp:HOST:PORT} or {@code exec:CMD}; returns it.
     *
     * @throws IllegalArgumentException for any other URI, naming what jvisor takes
     */
    public static String checkMigrationUri(String uri) {
        MigrationEndpoint.parse(Objects.requireNonNull(uri, "uri"));
        return uri;
    }

    private MigrationStatus finish(MigrationEndpoint to, boolean stayPaused) throws VmException {
        CompletableFuture<MigrationStatus> done;
        try {
            done = lifecycle.startMigration(to, stayPaused);
        } catch (IllegalStateException e) {
            throw e;
        } catch (Exception e) {
            throw new VmException("saving to " + to.uri() + " failed: " + e, e);
        }
        try {
            return done.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof MachineException) {
                throw new VmException(c.getMessage(), c);
            }
            throw new VmException("saving to " + to.uri() + " failed: " + c, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmException("interrupted while saving to " + to.uri(), e);
        }
    }

    /** The configuration the machine was built from. */
    public MachineConfig config() {
        return config;
    }

    /** The CPU engine: "kvm" or "tcg". */
    public String accelerator() {
        return engine;
    }

    /** Which engine was chosen and why, in one line (e.g. "-accel auto: tcg, because ..."). */
    public String acceleratorExplanation() {
        return lifecycle.machine().acceleratorExplanation();
    }

    /**
     * Runs a machine in {@link RunState#PRELAUNCH}: the boot vCPU starts at the kernel's entry.
     * RESUME follows.
     *
     * @throws IllegalStateException if it has already started, or has ended
     */
    public void start() {
        lifecycle.execute(Lifecycle.Op.START, null);
    }

    /**
     * Pauses a running machine: returns once every vCPU has stopped at an instruction boundary.
     * STOP follows. Does nothing in any other state (as QMP "stop").
     *
     * @throws IllegalStateException if the machine has ended
     */
    public void pause() {
        lifecycle.execute(Lifecycle.Op.PAUSE, null);
    }

    /**
     * Runs a paused machine, or starts one in {@link RunState#PRELAUNCH} (QMP "cont"); RESUME
     * follows. Does nothing if it runs already.
     *
     * @throws IllegalStateException in {@link RunState#SHUTDOWN} or {@link RunState#INTERNAL_ERROR}
     *         ("Resetting the Virtual Machine is required"), or if the machine has ended
     */
    public void resume() {
        lifecycle.execute(Lifecycle.Op.RESUME, null);
    }

    /**
     * Resets the machine, as the reset button of a PC: devices and vCPUs back to power-on, the
     * kernel loaded again (RAM keeps its contents). RESET follows (reason host-qmp-system-reset);
     * a running machine boots again at once, any other goes to {@link RunState#PRELAUNCH}. With
     * {@link MachineConfig#noReboot()} it is a shutdown instead (SHUTDOWN, reason
     * host-qmp-system-reset), as in QEMU.
     *
     * @throws IllegalStateException if the machine has ended
     */
    public void reset() {
        lifecycle.execute(Lifecycle.Op.RESET, null);
    }

    /**
     * Presses the ACPI power button (POWERDOWN follows). The guest decides what to do: a guest
     * that listens to the button (an ACPI daemon, systemd-logind) shuts down, and its power-off
     * ends the machine with SHUTDOWN, reason guest-shutdown. Returns at once; a guest that does
     * not listen ignores it. A machine without ACPI (not a Linux guest) has no button.
     *
     * @throws IllegalStateException if the machine has ended
     */
    public void powerDown() {
        lifecycle.execute(Lifecycle.Op.POWER_DOWN, null);
    }

    /**
     * Ends the machine at once (QMP "quit"): SHUTDOWN (reason host-qmp-quit), then everything is
     * released; even with {@link MachineConfig#noShutdown()}. Returns when the machine has ended.
     *
     * @throws IllegalStateException if the machine has ended already
     */
    public void quit() {
        quit(ShutdownCause.HOST_QMP_QUIT);
    }

    /**
     * Ends the machine at once, for {@code cause}: {@link ShutdownCause#HOST_QMP_QUIT},
     * {@link ShutdownCause#HOST_SIGNAL} (the embedding program got a signal),
     * {@link ShutdownCause#HOST_UI} or {@link ShutdownCause#HOST_ERROR} (exit status 1).
     *
     * @throws IllegalArgumentException if {@code cause} is not a host's reason to quit
     * @throws IllegalStateException    if the machine has ended already
     */
    public void quit(ShutdownCause cause) {
        Objects.requireNonNull(cause, "cause");
        if (cause.guest() || cause == ShutdownCause.HOST_QMP_SYSTEM_RESET) {
            throw new IllegalArgumentException(cause.qemuName() + " is not a reason for the host to quit");
        }
        lifecycle.execute(Lifecycle.Op.QUIT, cause);
    }

    /** The debugger's access to this machine (the gdbstub's): stop, step, breakpoints, registers, memory. */
    public GuestDebugger debugger() {
        return new GuestDebugger(lifecycle);
    }

    /** Where the machine is in its lifecycle now ({@link RunState#SHUTDOWN} once it has ended). */
    public RunState status() {
        return lifecycle.state();
    }

    /**
     * Waits until the machine has ended and its events have reached the listeners; returns how
     * it ended.
     *
     * @throws IllegalStateException if called on the event thread (a listener), which would wait
     *                               for itself
     * @throws InterruptedException  if the calling thread is interrupted while it waits
     */
    public VmExit awaitExit() throws InterruptedException {
        checkNotEventThread();
        try {
            return lifecycle.exit().get();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /**
     * As {@link #awaitExit()}, waiting at most {@code timeout}: empty if the machine still runs.
     *
     * @throws InterruptedException if the calling thread is interrupted while it waits
     */
    public Optional<VmExit> awaitExit(Duration timeout) throws InterruptedException {
        checkNotEventThread();
        try {
            return Optional.of(lifecycle.exit().get(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** How the machine ended, or empty while it has not (does not wait). */
    public Optional<VmExit> exit() {
        return Optional.ofNullable(lifecycle.exit().getNow(null));
    }

    /**
     * Adds a listener for the machine's {@link VmEvent}s from now on. Listeners are called on the
     * machine's event thread, one event at a time, in order; one that throws is reported on the
     * log and does not stop the others.
     */
    public Subscription addListener(Consumer<? super VmEvent> listener) {
        return lifecycle.events().add(Objects.requireNonNull(listener, "listener"));
    }

    /** The vCPUs, by index, with their host threads (which exist from {@link #create} on). */
    public List<VcpuInfo> vcpus() {
        return lifecycle.machine().vcpuThreads().stream()
            .map(t -> new VcpuInfo(t.index(), t.hostThreadId(), engine)).toList();
    }

    /** The -object iothread threads, in command-line order, with their host threads. */
    public List<IoThreadInfo> ioThreads() {
        return lifecycle.machine().ioThreadInfo().stream()
            .map(t -> new IoThreadInfo(t.config().id(), t.hostThreadId(), t.config().pollMaxNs(), t.config().pollGrow(),
                t.config().pollShrink())).toList();
    }

    /**
     * Keeps the machine's -kernel and -initrd in memory for every later reset. By default a Linux
     * machine lets them go once loaded and a reset reads the files again; call this before the
     * process loses access to them (a chroot, a change of user), as the command line does for
     * -run-with.
     *
     * @throws VmException if the files cannot be read now
     */
    public void holdBootImages() throws VmException {
        try {
            lifecycle.machine().holdBootImages();
        } catch (MachineException e) {
            throw new VmException(e.getMessage(), e);
        }
    }

    /**
     * What this machine costs the host now: its threads' CPU time and its guest RAM in host
     * memory (see {@link ResourceUsage} for what is not counted).
     */
    public ResourceUsage usage() {
        return lifecycle.usage();
    }

    /**
     * Asks the guest's balloon driver to leave the guest {@code bytes} of its RAM (QMP's
     * balloon): it inflates or deflates towards that; {@link #balloonActual()} and
     * {@link VmEvent.BalloonChange} follow what it does. False when the machine has no balloon.
     */
    public boolean setBalloonTarget(long bytes) {
        var b = lifecycle.machine().balloon();
        b.ifPresent(d -> d.setTarget(bytes));
        return b.isPresent();
    }

    /** The guest's RAM less what its balloon holds (QMP's query-balloon), or empty without a balloon. */
    public java.util.OptionalLong balloonActual() {
        var b = lifecycle.machine().balloon();
        return b.isPresent() ? java.util.OptionalLong.of(b.get().actualBytes()) : java.util.OptionalLong.empty();
    }

    /**
     * The balloon driver's last memory figures by QEMU's names (-1: not reported) and when they
     * came (epoch milliseconds, 0: never), or empty without a balloon.
     */
    public Optional<BalloonStats> balloonStats() {
        return lifecycle.machine().balloon().map(b -> {
            VirtioBalloon.GuestStats g = b.guestStats();
            return new BalloonStats(g.stats(), g.updatedMillis());
        });
    }

    /** How often, in seconds, the balloon driver is asked for new figures (0: never); false without a balloon. */
    public boolean setBalloonStatsInterval(int seconds) {
        var b = lifecycle.machine().balloon();
        b.ifPresent(d -> d.setStatsPollingInterval(seconds));
        return b.isPresent();
    }

    /** The balloon's statistics interval in seconds, or empty without a balloon. */
    public java.util.OptionalInt balloonStatsInterval() {
        var b = lifecycle.machine().balloon();
        return b.isPresent() ? java.util.OptionalInt.of(b.get().statsPollingInterval()) : java.util.OptionalInt.empty();
    }

    /** The disks the machine's devices use, in the order they were attached. */
    public List<BlockDeviceInfo> blockDevices() {
        return lifecycle.machine().drives().stream().map(this::blockDevice).toList();
    }

    /** What each disk's device has done, in the order of {@link #blockDevices()}. */
    public List<BlockDeviceStats> blockStats() {
        return lifecycle.machine().drives().stream().map(d -> {
            var c = d.stats().counters();
            return new BlockDeviceStats(d.config().id(), c.readBytes(), c.writtenBytes(), c.readOps(), c.writeOps(),
                c.flushOps(), c.readNanos(), c.writeNanos(), c.flushNanos(), c.failedOps(), c.highestWriteOffset());
        }).toList();
    }

    private BlockDeviceInfo blockDevice(Machine.AttachedDrive d) {
        var cd = lifecycle.machine().cdrom(d.config().id());
        return new BlockDeviceInfo(d.config().id(), d.config().file(), d.config().readOnly(), d.format(), d.size(),
            d.config().cache(), cd.isPresent(), cd.map(c -> c.cdrom().trayOpen()).orElse(false),
            cd.map(c -> c.cdrom().trayLocked()).orElse(false));
    }

    // ---- hot-plug (QMP device_add, device_del) ----------------------------------------------------

    /**
     * QMP {@code device_add}: plugs {@code device} into the running machine, behind a
     * pcie-root-port (q35) or into a free slot of the root bus (pc, ACPI hot-plug); the guest finds
     * it as a PCI hot-plug. A machine in {@link RunState#PRELAUNCH} takes it too.
     *
     * @throws VmException with QEMU's words where it has them (a bus that is not there or takes no
     *                     hot-plug, a taken id, a drive or netdev that cannot be had)
     */
    public void plugDevice(HotplugDevice device) throws VmException {
        try {
            lifecycle.machine().hotplug(Objects.requireNonNull(device, "device"));
        } catch (MachineException e) {
            throw new VmException(e.getMessage(), e);
        }
    }

    /**
     * QMP {@code device_del}: asks the guest to let go of device {@code id}, which
     * {@link #plugDevice} plugged; {@link VmEvent.DeviceDeleted} follows once it has (a guest
     * without hot-plug support never does, as on QEMU).
     *
     * @throws VmException if there is no such device or its unplug is under way
     */
    public void unplugDevice(String id) throws VmException {
        try {
            lifecycle.machine().unplug(Objects.requireNonNull(id, "id"));
        } catch (MachineException e) {
            throw new VmException(e.getMessage(), e);
        }
    }

    /**
     * QMP {@code netdev_add}: opens network backend {@code netdev} in the running machine, for a
     * NIC {@link #plugDevice} plugs next.
     *
     * @throws VmException if its id is taken or it cannot be opened
     */
    public void addNetdev(MachineConfig.NetdevConfig netdev) throws VmException {
        try {
            lifecycle.machine().addNetdev(Objects.requireNonNull(netdev, "netdev"));
        } catch (MachineException e) {
            throw new VmException(e.getMessage(), e);
        }
    }

    /** Whether network backend {@code id} is open (netdev_add's duplicate check comes before it takes any descriptor). */
    public boolean hasNetdev(String id) {
        return lifecycle.machine().hasNetdev(Objects.requireNonNull(id, "id"));
    }

    /**
     * QMP {@code netdev_del}: closes network backend {@code id}, which no NIC may use.
     *
     * @throws VmException if there is none, or a NIC uses it
     */
    public void removeNetdev(String id) throws VmException {
        try {
            lifecycle.machine().removeNetdev(Objects.requireNonNull(id, "id"));
        } catch (MachineException e) {
            throw new VmException(e.getMessage(), e);
        }
    }

    // ---- removable media (QMP eject, blockdev-open-tray ...) -------------------------------------

    /**
     * QMP {@code eject}: opens the tray of the CD-ROM on drive {@code drive} (DEVICE_TRAY_MOVED)
     * and takes the medium out. A tray the guest locked is not opened: the guest gets an eject
     * request and this fails with {@link MediaException.Reason#LOCKED}, unless {@code force}.
     *
     * @throws MediaException NO_SUCH_DRIVE, NOT_REMOVABLE (a disk) or LOCKED
     */
    public void ejectMedium(String drive, boolean force) throws MediaException {
        media().eject(Objects.requireNonNull(drive, "drive"), force);
    }

    /**
     * QMP {@code blockdev-open-tray}: opens the tray (DEVICE_TRAY_MOVED), the medium stays in it.
     * A tray the guest locked stays closed unless {@code force}; the guest gets an eject request
     * (no error: the guest may open it itself).
     *
     * @throws MediaException NO_SUCH_DRIVE or NOT_REMOVABLE
     */
    public void openTray(String drive, boolean force) throws MediaException {
        media().openTray(Objects.requireNonNull(drive, "drive"), force);
    }

    /**
     * QMP {@code blockdev-close-tray}: closes the tray (DEVICE_TRAY_MOVED); the guest sees the
     * medium in it, if any, as a new one.
     *
     * @throws MediaException NO_SUCH_DRIVE or NOT_REMOVABLE
     */
    public void closeTray(String drive) throws MediaException {
        media().closeTray(Objects.requireNonNull(drive, "drive"));
    }

    /**
     * QMP {@code blockdev-remove-medium}: takes the medium out of the open tray and closes its
     * image (nothing happens to an empty drive).
     *
     * @throws MediaException NO_SUCH_DRIVE, NOT_REMOVABLE or TRAY_CLOSED
     */
    public void removeMedium(String drive) throws MediaException {
        media().removeMedium(Objects.requireNonNull(drive, "drive"));
    }

    /**
     * QMP {@code blockdev-change-medium}: opens {@code file} ({@code format} "raw", "qcow2", or
     * null to probe), then opens the tray, replaces the medium and closes the tray (two
     * DEVICE_TRAY_MOVED; one if the tray was open). A file that cannot be opened changes nothing.
     *
     * @param readOnly the new medium read-only or not; empty keeps the drive's mode
     * @throws MediaException NO_SUCH_DRIVE, CANNOT_OPEN, NOT_REMOVABLE or LOCKED
     */
    public void changeMedium(String drive, Path file, String format, Optional<Boolean> readOnly) throws MediaException {
        media().changeMedium(Objects.requireNonNull(drive, "drive"), Objects.requireNonNull(file, "file"), format,
            Objects.requireNonNull(readOnly, "readOnly"));
    }

    /**
     * QMP {@code blockdev-insert-medium}: opens {@code file} ({@code format} "raw", "qcow2", or
     * null to probe) and puts it into the drive's open, empty tray; the tray stays open. A file
     * that cannot be opened changes nothing.
     *
     * @throws MediaException NO_SUCH_DRIVE, NOT_REMOVABLE, TRAY_CLOSED, MEDIUM_PRESENT or CANNOT_OPEN
     */
    public void insertMedium(String drive, Path file, String format, boolean readOnly) throws MediaException {
        media().insertMedium(Objects.requireNonNull(drive, "drive"), Objects.requireNonNull(file, "file"), format, readOnly);
    }

    private RemovableMedia media() {
        return new RemovableMedia(lifecycle.machine(), lifecycle.events());
    }

    /** The guest's name (-name, {@link MachineConfig#name()}), if it was given one. */
    public Optional<String> name() {
        return Optional.ofNullable(config.name());
    }

    /**
     * Each vCPU's registers as they are now, by index (HMP's info registers); a running guest is
     * held only for the moment the reads take.
     *
     * @throws IllegalStateException if the vCPUs cannot be read now (the machine has ended, or
     *                               waits for an incoming snapshot)
     */
    public List<X86State> vcpuRegisters() {
        return unchecked(lifecycle::vcpuRegisters);
    }

    /**
     * Reads guest memory at linear {@code address} as vCPU {@code vcpu} maps it now (HMP's x;
     * its page tables walked without setting accessed bits); returns how many bytes were
     * readable (all, or up to the first unmapped one). A running guest is held for the moment.
     *
     * @throws IllegalStateException as {@link #vcpuRegisters}
     * @throws IllegalArgumentException if there is no such vCPU
     */
    public int readLinear(int vcpu, long address, byte[] into) {
        return unchecked(() -> lifecycle.readLinear(vcpu, address, into));
    }

    /** Work on the lifecycle thread whose failures the API turns into unchecked exceptions ({@link #unchecked}). */
    interface CheckedCall<T> {
        T call() throws Exception;
    }

    /**
     * Runs {@code call}: its IllegalStateException and IllegalArgumentException as they are, an
     * interruption (the flag kept) and any other failure as IllegalStateException with its cause.
     */
    static <T> T unchecked(CheckedCall<T> call) {
        try {
            return call.call();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (Exception e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /**
     * Copies {@code length} bytes of guest-physical memory at {@code gpa} into {@code into}
     * (HMP's xp); false, and nothing copied, if not all of them are RAM.
     */
    public boolean readPhysical(long gpa, byte[] into, int length) {
        return lifecycle.machine().readPhysical(gpa, into, length);
    }

    /**
     * The human monitor's side of a -serial mon:stdio console (shared with the serial port,
     * Ctrl-A c switching), if the machine has one.
     */
    public Optional<org.jvisor.backend.chr.CharBackend> monitorConsole() {
        return lifecycle.machine().monitorConsole();
    }

    /** The -chardev character devices, in the order they were given. */
    public List<ChardevInfo> chardevs() {
        Set<String> used = new HashSet<>();
        if (config.serial() instanceof MachineConfig.SerialConfig.Chardev c) {
            used.add(c.id());
        }
        for (MachineConfig.VirtioDeviceConfig d : config.virtioDevices()) {
            if (d instanceof MachineConfig.VirtioDeviceConfig.VirtioSerial s) {
                s.ports().forEach(p -> used.add(p.chardev()));
            }
        }
        return lifecycle.machine().chardevStates().stream()
            .map(c -> new ChardevInfo(c.id(), c.filename(), used.contains(c.id()))).toList();
    }

    /**
     * Ends the machine if it has not ended ({@link #quit()}) and waits for the end. On the event
     * thread it only asks for the end.
     */
    @Override
    public void close() {
        if (exit().isEmpty()) {
            try {
                quit();
            } catch (IllegalStateException e) {
                // it ended meanwhile
            }
        }
        if (!lifecycle.events().isDispatchThread()) {
            lifecycle.exit().join();
        }
    }

    private void checkNotEventThread() {
        if (lifecycle.events().isDispatchThread()) {
            throw new IllegalStateException("awaitExit on the event thread would wait for itself; listen for SHUTDOWN instead");
        }
    }
}
