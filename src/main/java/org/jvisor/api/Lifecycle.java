package org.jvisor.api;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;

import org.jvisor.config.MachineConfig;
import org.jvisor.cpu.X86State;
import org.jvisor.machine.Machine;
import org.jvisor.machine.MigrationEndpoint;
import org.jvisor.machine.MigrationProgress;
import org.jvisor.machine.MachineEvent;
import org.jvisor.machine.MachineException;

/**
 * The run-state machine of one virtual machine, as QEMU's (softmmu/runstate.c: the requests that
 * main_loop_should_exit handles, vm_stop, vm_start). Host commands and what the guest asks for
 * (power off, reset, a failure) are handled one at a time on a thread of its own
 * ("jvisor-lifecycle"), in arrival order, so state changes never race and events come out in the
 * order things happened. QEMU's rules kept here:
 * <ul>
 *   <li>a reset request with -no-reboot becomes a shutdown request of the same cause;</li>
 *   <li>a shutdown ends the machine, except that with -no-shutdown one not asked for by a host
 *       quit (quit, a signal, the console) stops the vCPUs in {@link RunState#SHUTDOWN} (SHUTDOWN
 *       then STOP);</li>
 *   <li>a reset of a machine that is not running leaves it in {@link RunState#PRELAUNCH};</li>
 *   <li>only a reset leaves {@link RunState#SHUTDOWN} and {@link RunState#INTERNAL_ERROR}.</li>
 * </ul>
 */
final class Lifecycle {

    /** Host commands, one per QMP command of the lifecycle. */
    enum Op { START, RESUME, PAUSE, RESET, POWER_DOWN, QUIT }

    private sealed interface Input {
    }

    private record Command(Op op, ShutdownCause cause, CompletableFuture<Void> done) implements Input {
    }

    private record Posted(MachineEvent event) implements Input {
    }

    /** Work that must run between commands, on the lifecycle thread (a snapshot). */
    private record Call(Work work, CompletableFuture<Object> done) implements Input {
    }

    /** What a {@link Call} runs: it may refuse ({@link #refuse}) or fail. */
    @FunctionalInterface
    interface Work {
        Object run() throws Exception;
    }

    /** A command that the current state does not allow: the caller gets it, the machine carries on. */
    private static final class Refused extends IllegalStateException {
        Refused(String message) {
            super(message);
        }
    }

    private final MachineConfig config;
    private final PrintStream log;
    private final LinkedBlockingQueue<Input> inputs = new LinkedBlockingQueue<>();
    private final Machine machine;
    /** Every thread this machine starts. */
    private final ThreadGroup threads = new ThreadGroup("jvisor-vm");
    private static final ThreadMXBean CPU_TIME = ManagementFactory.getThreadMXBean();
    private final EventDispatcher events;
    private final CompletableFuture<VmExit> exit = new CompletableFuture<>();
    private final Object submitLock = new Object();
    private boolean ended;              // guarded by submitLock: no command is accepted once set
    private volatile RunState state = RunState.PRELAUNCH;
    private VmExit ending;              // on the lifecycle thread: set by end()

    private volatile MigrationStatus migration = MigrationStatus.NONE;
    /** How long the machine's end waits for a cancelled migration's thread to stop. */
    private static final long MIGRATION_STOP_MILLIS = 5_000;

    /**
     * Builds the machine (kernel loaded, vCPU threads waiting) in {@link RunState#PRELAUNCH}; or,
     * with {@code incoming}, restores it from that snapshot, in {@link RunState#PAUSED}; or, with
     * {@code deferIncoming}, builds it to wait for {@link #restore} (QEMU's -incoming defer), in
     * {@link RunState#INMIGRATE}. Its tcg translations come from and go to {@code translations}.
     */
    Lifecycle(MachineConfig config, PrintStream log, TranslationCache translations, MigrationEndpoint incoming,
              boolean deferIncoming)
            throws VmException {
        this.config = config;
        this.log = log;
        // built on a thread of the machine's group, so every thread the machine starts (vCPUs,
        // timers, I/O, the translator) is in it and its CPU time can be told apart from others'
        FutureTask<Machine> build = new FutureTask<>(() -> deferIncoming
            ? Machine.createIncoming(config, log, e -> inputs.add(new Posted(e)), translations.library(), translations.images())
            : Machine.create(config, log, e -> inputs.add(new Posted(e)), translations.library(), translations.images(), incoming));
        Thread.ofPlatform().group(threads).name("jvisor-build").start(build);
        try {
            this.machine = build.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof MachineException me) {
                throw new VmException(me.getMessage(), me);
            }
            throw new VmException("building the machine failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmException("interrupted while building the machine", e);
        }
        if (deferIncoming) {
            state = RunState.INMIGRATE;
        } else if (incoming != null) {
            state = RunState.PAUSED;
        }
        this.events = new EventDispatcher(log, threads);
        Thread.ofPlatform().group(threads).name("jvisor-lifecycle").start(this::loop);
    }

    /** CPU time of the machine's own threads (live ones) and its guest RAM in host memory. */
    ResourceUsage usage() {
        Thread[] all = new Thread[threads.activeCount() + 16];
        int n = threads.enumerate(all, true);
        long vcpu = 0, other = 0;
        for (int i = 0; i < n; i++) {
            long t = CPU_TIME.getThreadCpuTime(all[i].threadId());
            if (t < 0) {
                continue; // ended meanwhile
            }
            if (all[i].getName().startsWith(Machine.VCPU_THREAD_PREFIX)) {
                vcpu += t;
            } else {
                other += t;
            }
        }
        boolean mapped = !exit.isDone();
        return new ResourceUsage(Duration.ofNanos(vcpu), Duration.ofNanos(other), machine.ramBytes(),
            mapped ? machine.ramResidentBytes() : 0);
    }

    Machine machine() {
        return machine;
    }

    EventDispatcher events() {
        return events;
    }

    RunState state() {
        return state;
    }

    CompletableFuture<VmExit> exit() {
        return exit;
    }

    /**
     * Runs {@code op} on the lifecycle thread and returns when it is done and the events it
     * caused have reached the listeners.
     *
     * @throws IllegalStateException if the state does not allow it, or the machine has ended
     */
    void execute(Op op, ShutdownCause cause) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        synchronized (submitLock) {
            if (ended) {
                throw new IllegalStateException("the virtual machine has ended");
            }
            inputs.add(new Command(op, cause, done));
        }
        if (op == Op.QUIT) {
            stopWaitingForIncoming();
        }
        try {
            done.join();
        } catch (CompletionException e) {
            Throwable c = e.getCause();
            throw new IllegalStateException(c instanceof Refused ? c.getMessage() : "the virtual machine failed: " + c, c);
        }
        // the command's events (STOP, RESUME, RESET...) reach the listeners before its caller goes on
        try {
            events.awaitPublished();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A refusal of {@link #call} work: the caller gets an IllegalStateException with this message. */
    static IllegalStateException refuse(String message) {
        return new Refused(message);
    }

    /**
     * Runs {@code work} on the lifecycle thread, between commands, and returns its result.
     *
     * @throws IllegalStateException if it refused, or the machine has ended
     * @throws Exception             what the work threw otherwise
     */
    Object call(Work work) throws Exception {
        CompletableFuture<Object> done = submit(work);
        try {
            return done.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof Exception x) {
                throw x;
            }
            throw e;
        }
    }

    /**
     * Each vCPU's registers now (HMP's info registers): a running guest is held for the moment
     * the reads take, without STOP and RESUME, as QEMU's cpu_synchronize_state holds it.
     *
     * @throws IllegalStateException if the vCPUs cannot be read in this state
     */
    @SuppressWarnings("unchecked")
    java.util.List<X86State> vcpuRegisters() throws Exception {
        return (java.util.List<X86State>) held(machine::vcpuRegisters);
    }

    /**
     * Reads guest memory at linear {@code address} as vCPU {@code vcpu} maps it now (HMP's x),
     * holding a running guest as {@link #vcpuRegisters} does; returns how many bytes were readable.
     */
    int readLinear(int vcpu, long address, byte[] into) throws Exception {
        return (Integer) held(() -> machine.debug().readMemory(vcpu, address, into));
    }

    /** Runs {@code work} on the vCPUs' state with a running machine paused around it, no events sent. */
    private Object held(Work work) throws Exception {
        return call(() -> {
            boolean running = state == RunState.RUNNING;
            if (running) {
                machine.pause();
            }
            try {
                return work.run();
            } finally {
                if (running) {
                    machine.resume();
                }
            }
        });
    }

    /**
     * Starts sending the machine to {@code to} (QMP migrate; a snapshot to a file is one kind) and
     * returns once it is set up: the migration runs on a thread of its own while commands go on
     * (query-migrate, stop, migrate_cancel). A running machine on an engine that logs dirty pages
     * goes live (pre-copy, stopped only at the end); otherwise it is stopped first (STOP). The
     * source ends in {@link RunState#POSTMIGRATE}, as QEMU's; with {@code stayPaused} only a paused
     * machine is accepted and it stays paused. A failed or cancelled migration leaves a source
     * that ran running. The future completes with the final status, or with the failure.
     *
     * @throws IllegalStateException if the state does not allow it, or a migration is in progress
     */
    CompletableFuture<MigrationStatus> startMigration(MigrationEndpoint to, boolean stayPaused) throws Exception {
        CompletableFuture<MigrationStatus> result = new CompletableFuture<>();
        call(() -> {
            RunState before = state;
            if (stayPaused ? before != RunState.PAUSED
                    : !(before == RunState.RUNNING || before == RunState.PAUSED || before == RunState.POSTMIGRATE)) {
                throw refuse("a snapshot needs a " + (stayPaused ? "paused" : "running or paused")
                    + " machine, not one in status " + before.qemuName() + (before == RunState.RUNNING ? ": pause it first" : ""));
            }
            if (outgoing != null) {
                throw refuse("There's a migration process in progress"); // QEMU's words
            }
            boolean live = before == RunState.RUNNING && !stayPaused && machine.logsDirtyPages();
            OutgoingMigration o = new OutgoingMigration(to, before, stayPaused, live, result);
            migrationStartNanos = System.nanoTime();
            migrationCancelled = false;
            migrationProgress = null;
            migration = MigrationStatus.of(MigrationStatus.Status.SETUP, 0, Optional.empty());
            events.publish(new VmEvent.Migration(Instant.now(), "setup"));
            if (!live) {
                o.stopGuestNow();
            }
            migration = MigrationStatus.of(MigrationStatus.Status.ACTIVE, 0, Optional.empty());
            events.publish(new VmEvent.Migration(Instant.now(), "active"));
            outgoing = o;
            o.thread = Thread.ofPlatform().group(threads).name("jvisor-migration").start(o::run);
            return null;
        });
        return result;
    }

    /**
     * QMP migrate_cancel: the migration in progress stops at its next page run or wait (status
     * cancelling, then cancelled), nothing is committed, and a source that ran runs on. Nothing
     * happens when no migration is in progress, as in QEMU.
     */
    void cancelMigration() throws Exception {
        call(() -> {
            OutgoingMigration o = outgoing;
            if (o != null && !migrationCancelled) {
                migrationCancelled = true;
                migration = MigrationStatus.of(MigrationStatus.Status.CANCELLING, millisSince(migrationStartNanos), Optional.empty());
                events.publish(new VmEvent.Migration(Instant.now(), "cancelling"));
                o.thread.interrupt(); // a write blocked on a slow destination ends (its channel closes)
            }
            return null;
        });
    }

    /** query-migrate: the last migration's end, or where the one in progress stands now. */
    MigrationStatus migration() {
        MigrationStatus m = migration;
        if (m.status() != MigrationStatus.Status.ACTIVE) {
            return m;
        }
        long ms = millisSince(migrationStartNanos);
        MigrationProgress p = migrationProgress;
        if (p == null) {
            return MigrationStatus.of(MigrationStatus.Status.ACTIVE, ms, Optional.empty());
        }
        long remaining = p.dirtyPages() * 4096;
        long expected = p.bytesPerSecond() > 0 ? remaining * 1000 / p.bytesPerSecond() : 0;
        return new MigrationStatus(MigrationStatus.Status.ACTIVE, ms, 0, config.memoryBytes(), p.ramBytesSent(),
            p.ramBytesSent() / 4096, 0, 0, Optional.empty(), p.passes(), remaining, p.dirtyPagesPerSecond(),
            p.bytesPerSecond(), expected);
    }

    private static long millisSince(long nanos) {
        return (System.nanoTime() - nanos) / 1_000_000;
    }

    /** The outgoing migration in progress, or null; set and cleared on the lifecycle thread. */
    private OutgoingMigration outgoing;
    private volatile boolean migrationCancelled;
    private volatile long migrationStartNanos;
    private volatile MigrationProgress migrationProgress;

    /**
     * One outgoing migration: its thread sends the machine; what touches the run state (a round of
     * the dirty log with the vCPUs stopped for a moment, the final stop, the end) it hands to the
     * lifecycle thread, so it never races a command.
     */
    private final class OutgoingMigration implements Machine.LiveMigrationControl {
        private final MigrationEndpoint to;
        private final RunState before;
        private final boolean stayPaused;
        private final boolean live;
        private final CompletableFuture<MigrationStatus> result;
        Thread thread;
        /** On the lifecycle thread: when the migration stopped the guest (nanoTime), and whether it did. */
        private long stoppedAt;
        private boolean stoppedGuest;

        OutgoingMigration(MigrationEndpoint to, RunState before, boolean stayPaused, boolean live,
                          CompletableFuture<MigrationStatus> result) {
            this.to = to;
            this.before = before;
            this.stayPaused = stayPaused;
            this.live = live;
            this.result = result;
        }

        /** Whether the guest must stay stopped: the machine's state is being saved as it is. */
        boolean holdsGuest() {
            return !live || stoppedGuest;
        }

        /** On the lifecycle thread. */
        void stopGuestNow() throws InterruptedException {
            stopGuestNow(null);
        }

        /** On the lifecycle thread: the stop, each vCPU running {@code onStop} on itself as it stops (null: none). */
        void stopGuestNow(Runnable[] onStop) throws InterruptedException {
            if (state == RunState.RUNNING) {
                stoppedAt = System.nanoTime();
                stoppedGuest = true;
                vmStop(RunState.PAUSED, onStop);
            }
        }

        @Override
        public void quiesce(Runnable action) throws InterruptedException {
            onLifecycle(() -> {
                if (migrationCancelled) {
                    return null; // the migration thread has stopped waiting for this: leave the log alone
                }
                if (state == RunState.RUNNING) {
                    machine.pause();
                    try {
                        action.run();
                    } finally {
                        machine.resume();
                    }
                } else {
                    action.run(); // stopped (by a command or a guest shutdown): no vCPU runs
                }
                return null;
            });
        }

        @Override
        public void stopGuest(Runnable[] onStop) throws InterruptedException {
            onLifecycle(() -> {
                if (!migrationCancelled) {
                    stopGuestNow(onStop);
                }
                return null;
            });
        }

        @Override
        public boolean cancelled() {
            return migrationCancelled;
        }

        @Override
        public void progress(MigrationProgress p) {
            migrationProgress = p;
        }

        /** On the migration thread. */
        void run() {
            Exception failure = null;
            Machine.SnapshotSaved saved = null;
            try {
                saved = live
                    ? machine.saveLive(to, "running", this, downtimeLimitMillis)
                    : machine.saveSnapshot(to, before == RunState.POSTMIGRATE ? "paused" : before.qemuName(), this::cancelled);
            } catch (MachineException | InterruptedException | RuntimeException e) {
                failure = e;
            }
            Machine.SnapshotSaved done = saved;
            Exception why = failure;
            try {
                onLifecycle(() -> {
                    ended(done, why);
                    return null;
                });
            } catch (Exception e) {
                // the machine ended during the migration (quit, a guest power-off): it is abandoned
                MigrationStatus st = MigrationStatus.of(MigrationStatus.Status.CANCELLED, millisSince(migrationStartNanos),
                    Optional.of("the virtual machine ended during the migration"));
                migration = st;
                result.completeExceptionally(why != null ? why : e);
            }
        }

        /** On the lifecycle thread: the end, with its status and event. */
        private void ended(Machine.SnapshotSaved saved, Exception failure) throws InterruptedException {
            outgoing = null;
            long end = System.nanoTime();
            long ms = (end - migrationStartNanos) / 1_000_000;
            if (failure == null) {
                if (!stayPaused && state == RunState.PAUSED) {
                    state = RunState.POSTMIGRATE;
                }
                long ramTotal = config.memoryBytes();
                long normal = saved.ramBytesWritten() / 4096;
                MigrationProgress p = migrationProgress;
                migration = new MigrationStatus(MigrationStatus.Status.COMPLETED, ms,
                    stoppedGuest ? (saved.sentAtNanos() - stoppedAt) / 1_000_000 : 0, ramTotal, saved.ramBytesWritten(), normal,
                    Math.max(0, ramTotal / 4096 - normal), saved.fileBytes(), Optional.empty(), saved.passes(), 0,
                    p != null ? p.dirtyPagesPerSecond() : 0, saved.ramBytesWritten() * 1_000_000_000L / Math.max(1, saved.nanos()), 0);
                events.publish(new VmEvent.Migration(Instant.now(), "completed"));
                result.complete(migration);
                return;
            }
            boolean cancelled = migrationCancelled;
            migration = MigrationStatus.of(cancelled ? MigrationStatus.Status.CANCELLED : MigrationStatus.Status.FAILED, ms,
                Optional.of(failure.getMessage() != null ? failure.getMessage() : failure.toString()));
            events.publish(new VmEvent.Migration(Instant.now(), cancelled ? "cancelled" : "failed"));
            if (stoppedGuest && state == RunState.PAUSED) {
                vmStart(); // as QEMU: a failed or cancelled migration leaves a source that ran running
            }
            result.completeExceptionally(failure);
        }
    }

    /**
     * Like {@link #call}, for a thread of the machine's own (the migration's): the wait is
     * interruptible, so that a cancel or the machine's end can stop it.
     */
    private Object onLifecycle(Work work) throws InterruptedException {
        CompletableFuture<Object> done = submit(work);
        try {
            return done.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof InterruptedException i) {
                throw i;
            }
            throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
        }
    }

    /** Queues {@code work} for the lifecycle thread; its result comes through the future. */
    private CompletableFuture<Object> submit(Work work) {
        CompletableFuture<Object> done = new CompletableFuture<>();
        synchronized (submitLock) {
            if (ended) {
                throw new IllegalStateException("the virtual machine has ended");
            }
            inputs.add(new Call(work, done));
        }
        return done;
    }

    /** migrate-set-parameters downtime-limit: what a live migration aims to stop the guest for, in ms. */
    private volatile long downtimeLimitMillis = Machine.DEFAULT_MIGRATION_DOWNTIME_MILLIS;

    void setDowntimeLimit(long millis) {
        downtimeLimitMillis = millis;
    }

    long downtimeLimit() {
        return downtimeLimitMillis;
    }

    /**
     * Restores a machine waiting in {@link RunState#INMIGRATE} from {@code file} (QMP's
     * migrate-incoming), into {@link RunState#PAUSED}; with {@code autostart}, one that ran when
     * saved runs on at once (RESUME). A failed restore ends the machine (status
     * 1, host-error), as QEMU ends when an incoming migration fails: it is partly loaded.
     */
    void restore(MigrationEndpoint from, boolean autostart) throws Exception {
        call(() -> {
            if (state != RunState.INMIGRATE || !machine.awaitingIncoming()) {
                throw refuse("the machine is not waiting for an incoming migration (status " + state.qemuName()
                    + "; it needs -incoming defer)");
            }
            events.publish(new VmEvent.Migration(Instant.now(), "active"));
            boolean quit;
            try {
                synchronized (incomingLock) {
                    incomingWaiter = Thread.currentThread();
                    quitWhileWaiting = false;
                }
                machine.restore(from);
                events.publish(new VmEvent.Migration(Instant.now(), "completed"));
            } catch (MachineException e) {
                events.publish(new VmEvent.Migration(Instant.now(), "failed"));
                synchronized (incomingLock) {
                    quit = quitWhileWaiting;
                }
                if (quit) {   // the quit queued behind this ends the machine, as it asked
                    throw refuse("the machine quit while waiting for the incoming migration on " + from.uri());
                }
                log.println("jvisor: " + e.getMessage());
                end(1, ShutdownCause.HOST_ERROR, e.getMessage());
                throw e;
            } finally {
                synchronized (incomingLock) {
                    incomingWaiter = null;
                    Thread.interrupted();   // a quit's interrupt must not reach the lifecycle loop
                }
            }
            state = RunState.PAUSED;
            if (autostart && incomingRunState().map(RunState::isRunning).orElse(false)) {
                vmStart();
            }
            return null;
        });
    }

    /** Guards {@link #incomingWaiter} and {@link #quitWhileWaiting}: an interrupt is sent only while one waits. */
    private final Object incomingLock = new Object();
    /** The lifecycle thread while it receives an incoming migration (QMP migrate-incoming), else null. */
    private Thread incomingWaiter;
    private boolean quitWhileWaiting;

    /**
     * A quit while the machine receives an incoming migration: the wait for the source (or the
     * stream) is interrupted, so the quit queued behind it runs at once instead of after a source
     * that may never come, as QEMU's quit ends a destination that waits.
     */
    private void stopWaitingForIncoming() {
        synchronized (incomingLock) {
            if (incomingWaiter != null) {
                quitWhileWaiting = true;
                incomingWaiter.interrupt();
            }
        }
    }

    /** The run state the snapshot this machine was restored from was saved in, if it was restored. */
    Optional<RunState> incomingRunState() {
        String saved = machine.incomingRunState();
        return Arrays.stream(RunState.values()).filter(r -> r.qemuName().equals(saved)).findFirst();
    }

    // ---- the lifecycle thread ----------------------------------------------------------------

    private void loop() {
        while (ending == null) {
            Input in;
            try {
                in = inputs.take();
            } catch (InterruptedException e) {
                fail("the lifecycle thread was interrupted", e);
                break;
            }
            switch (in) {
                case Command c -> {
                    try {
                        command(c.op(), c.cause());
                        c.done().complete(null);
                    } catch (Refused e) {
                        c.done().completeExceptionally(e);
                    } catch (InterruptedException | RuntimeException e) {
                        fail(c.op() + " failed", e);
                        c.done().completeExceptionally(e);
                    }
                }
                case Call c -> {
                    try {
                        c.done().complete(c.work().run());
                    } catch (Exception e) {
                        c.done().completeExceptionally(e);
                    }
                }
                case Posted p -> {
                    try {
                        handle(p.event());
                    } catch (InterruptedException | RuntimeException e) {
                        fail("handling " + p.event() + " failed", e);
                    }
                }
            }
        }
        // Commands queued behind the end are refused; then every event reaches the listeners.
        for (Input in; (in = inputs.poll()) != null; ) {
            if (in instanceof Command c) {
                c.done().completeExceptionally(new Refused("the virtual machine has ended"));
            } else if (in instanceof Call c) {
                c.done().completeExceptionally(new Refused("the virtual machine has ended"));
            }
        }
        events.finish();
        try {
            events.awaitDelivered();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        exit.complete(ending);
    }

    private void command(Op op, ShutdownCause cause) throws InterruptedException {
        switch (op) {
            case START -> {
                refuseWhileMigrating();
                if (state == RunState.INMIGRATE) {
                    throw new Refused("the machine waits for an incoming migration (migrate-incoming)");
                }
                if (state != RunState.PRELAUNCH) {
                    throw new Refused("the virtual machine has already started (status " + state.qemuName() + ")");
                }
                vmStart();
            }
            case RESUME -> {
                refuseToRun();
                if (state != RunState.RUNNING) {
                    vmStart();
                }
            }
            case PAUSE -> vmStop(RunState.PAUSED);
            case RESET -> {
                refuseWhileMigrating();
                if (state == RunState.INMIGRATE) {
                    throw new Refused("the machine waits for an incoming migration (migrate-incoming)");
                }
                resetRequest(ShutdownCause.HOST_QMP_SYSTEM_RESET, null);
            }
            case POWER_DOWN -> {
                events.publish(new VmEvent.Powerdown(Instant.now()));
                if (!machine.pressPowerButton()) {
                    log.println("jvisor: power button: this machine has no ACPI (the guest is not Linux); nothing happens");
                }
            }
            case QUIT -> {
                if (cause.guest() || cause == ShutdownCause.HOST_QMP_SYSTEM_RESET) {
                    throw new Refused(cause.qemuName() + " is not a cause the host can quit with");
                }
                shutdown(cause, "quit (" + cause.qemuName() + ")");
            }
        }
    }

    /** While a migration saves the stopped guest as it is, the guest stays stopped. */
    private void refuseWhileMigrating() {
        if (outgoing != null && outgoing.holdsGuest()) {
            throw new Refused("a migration is saving the stopped machine: it stays stopped until the migration"
                + " ends (migrate_cancel ends it)");
        }
    }

    private void handle(MachineEvent e) throws InterruptedException {
        switch (e) {
            case MachineEvent.Exit x -> end(x.status(), ShutdownCause.GUEST_SHUTDOWN, x.reason());
            case MachineEvent.ConsoleQuit q -> shutdown(ShutdownCause.HOST_UI, q.reason());
            case MachineEvent.PowerOff p -> shutdown(ShutdownCause.GUEST_SHUTDOWN, p.reason());
            case MachineEvent.TrayMoved t -> events.publish(new VmEvent.DeviceTrayMoved(Instant.now(), t.driveId(), t.open()));
            case MachineEvent.DeviceDeleted d -> events.publish(new VmEvent.DeviceDeleted(Instant.now(), d.id()));
            case MachineEvent.BalloonChanged b -> events.publish(new VmEvent.BalloonChange(Instant.now(), b.actualBytes()));
            case MachineEvent.Reset r -> resetRequest(ShutdownCause.GUEST_RESET, r.reason());
            case MachineEvent.DebugStop d -> {
                java.util.function.IntConsumer l = debugStops;
                if (l == null) {
                    // a breakpoint of a debugger that has gone, hit before its vCPU saw it cleared:
                    // the vCPU, parked at it, runs on (its next run reads the cleared control)
                    if (state == RunState.RUNNING) {
                        machine.resume();
                    }
                } else {
                    vmStop(RunState.DEBUG);
                    l.accept(d.vcpu());
                }
            }
            case MachineEvent.TripleFault t -> {
                String where = t.state() != null ? String.format(" (RIP %#x)", t.state().rip) : "";
                String what = "guest triple fault on vCPU " + t.vcpu() + where;
                resetRequest(ShutdownCause.GUEST_RESET, config.noReboot() ? what + ": " + t.detail() : what);
                if (config.noReboot() && config.guestErrors()) {
                    dump(t.state());
                }
            }
            case MachineEvent.Failure f -> {
                log.println("jvisor: vCPU " + f.vcpu() + " stopped: " + f.description());
                dump(f.state());
                vmStop(RunState.INTERNAL_ERROR);
            }
            case MachineEvent.GuestPanic g -> {
                log.println("jvisor: vCPU " + g.vcpu() + ": the guest reported a crash");
                dump(g.state());
                vmStop(RunState.GUEST_PANICKED);
                shutdown(ShutdownCause.GUEST_PANIC, "the guest reported a crash");
            }
        }
    }

    private void dump(X86State s) {
        if (s != null) {
            log.print(s.dump());
        }
    }

    // ---- the debugger's side (GuestDebugger), on the lifecycle thread ----------------------

    /** Where breakpoint and single-step stops are reported (the vCPU's index), or null. */
    private volatile java.util.function.IntConsumer debugStops;

    void debugStops(java.util.function.IntConsumer listener) {
        debugStops = listener;
    }

    /** A running machine stops for the debugger (QEMU's vm_stop(RUN_STATE_DEBUG)): STOP, status debug. */
    void debugStop() throws InterruptedException {
        vmStop(RunState.DEBUG);
    }

    /** QMP cont's refusals: a migration under way or awaited, or a guest that must be reset first. */
    private void refuseToRun() {
        refuseWhileMigrating();
        if (state == RunState.INMIGRATE) {
            throw new Refused("the machine waits for an incoming migration (migrate-incoming)");
        }
        if (state.needsReset()) {
            throw new Refused("Resetting the Virtual Machine is required");
        }
    }

    /** The debugger lets the machine run (gdb's continue or step), the vCPUs {@code hold} marks staying put. */
    void debugResume(boolean[] hold) {
        refuseToRun();
        if (state != RunState.RUNNING) {
            vmStart(hold);
        }
    }

    /** Refuses debugger work that needs the vCPUs stopped while they run. */
    void requireStopped() {
        if (state == RunState.RUNNING) {
            throw new Refused("the machine is running: stop it first");
        }
        if (state == RunState.INMIGRATE) {
            throw new Refused("the machine waits for an incoming migration: it has no vCPU state yet");
        }
    }

    /** QEMU's vm_start: the vCPUs run, RESUME. */
    private void vmStart() {
        vmStart(null);
    }

    /** {@link #vmStart()}, the vCPUs {@code hold} marks (null: none) staying where they are. */
    private void vmStart(boolean[] hold) {
        machine.resume(hold);
        state = RunState.RUNNING;
        events.publish(new VmEvent.Resume(Instant.now()));
    }

    /** QEMU's vm_stop: only a running machine stops (STOP), into {@code into}. */
    private void vmStop(RunState into) throws InterruptedException {
        vmStop(into, null);
    }

    /** {@link #vmStop(RunState)}, each vCPU running {@code onStop} on itself as it stops (null: none). */
    private void vmStop(RunState into, Runnable[] onStop) throws InterruptedException {
        if (state == RunState.RUNNING) {
            machine.pause(onStop);
            state = into;
            events.publish(new VmEvent.Stop(Instant.now()));
        }
    }

    /** QEMU's qemu_system_reset_request: -no-reboot turns it into a shutdown request. */
    private void resetRequest(ShutdownCause cause, String what) throws InterruptedException {
        if (config.noReboot()) {
            if (what != null) {
                log.println("jvisor: " + what + "; -no-reboot given, "
                    + (keepsMachine(cause) ? "stopping (-no-shutdown given)" : "exiting"));
            }
            shutdown(cause, what != null ? what : "reset (" + cause.qemuName() + ") with -no-reboot");
            return;
        }
        if (what != null) {
            log.println("jvisor: " + what + "; resetting");
        }
        boolean wasRunning = state == RunState.RUNNING;
        try {
            machine.systemReset();
        } catch (MachineException e) {
            log.println("jvisor: " + e.getMessage());
            end(1, ShutdownCause.HOST_ERROR, e.getMessage());
            return;
        }
        events.publish(new VmEvent.Reset(Instant.now(), cause));
        if (wasRunning) {
            machine.resume();
        } else {
            state = RunState.PRELAUNCH;
        }
    }

    /** A shutdown request: SHUTDOWN, then the end, or with -no-shutdown a stop in {@link RunState#SHUTDOWN}. */
    private void shutdown(ShutdownCause cause, String detail) throws InterruptedException {
        events.publish(new VmEvent.Shutdown(Instant.now(), cause));
        if (keepsMachine(cause)) {
            vmStop(RunState.SHUTDOWN);
        } else {
            end(cause == ShutdownCause.GUEST_PANIC || cause == ShutdownCause.HOST_ERROR ? 1 : 0, cause, detail);
        }
    }

    /** With -no-shutdown every shutdown but a host's quit (QMP quit, a signal, the console, an error) keeps the machine. */
    private boolean keepsMachine(ShutdownCause cause) {
        return config.noShutdown() && (cause.guest() || cause == ShutdownCause.HOST_QMP_SYSTEM_RESET);
    }

    /** The machine ends: no more commands, the vCPUs and every resource released. */
    private void end(int status, ShutdownCause cause, String detail) {
        synchronized (submitLock) {
            ended = true;
        }
        OutgoingMigration o = outgoing;
        if (o != null) {
            // the migration stops before the machine it reads goes away (QEMU's quit cancels it too)
            migrationCancelled = true;
            o.thread.interrupt();
            try {
                o.thread.join(MIGRATION_STOP_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            outgoing = null;
        }
        state = RunState.SHUTDOWN;
        ending = new VmExit(status, cause, detail);
        try {
            machine.close();
        } catch (RuntimeException e) {
            log.println("jvisor: closing the machine: " + e);
        }
    }

    private void fail(String what, Throwable e) {
        log.println("jvisor: internal error: " + what + ": " + e);
        if (ending == null) {
            end(1, ShutdownCause.HOST_ERROR, what + ": " + e);
        }
    }
}
