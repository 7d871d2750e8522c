package org.jvisor.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;

import org.jvisor.api.RunState;
import org.jvisor.api.ShutdownCause;
import org.jvisor.api.TranslationCache;
import org.jvisor.api.VirtualMachine;
import org.jvisor.gdb.GdbEndpoint;
import org.jvisor.gdb.GdbServer;
import org.jvisor.gdb.VmDebugTarget;
import org.jvisor.sandbox.Sandbox;
import org.jvisor.sys.SysException;
import org.jvisor.api.VmEvent;
import org.jvisor.api.VmException;
import org.jvisor.backend.chr.Terminal;
import org.jvisor.config.MachineConfig;
import org.jvisor.qmp.QmpMonitors;

/**
 * The jvisor command: parses the command line, then builds and runs the machine through
 * {@link VirtualMachine}. Every failure is one line on stderr and a non-zero status, never a
 * stack trace.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.err));
    }

    public static int run(String[] args, PrintStream err) {
        if (ServerCommand.requested(args)) {
            return ServerCommand.run(args, err);
        }
        if (VhostUserBlkCommand.requested(args)) {
            return VhostUserBlkCommand.run(args, err);
        }
        CommandLine.Action action;
        try {
            action = CommandLine.parse(args);
        } catch (UsageException e) {
            err.println("jvisor: " + e.getMessage());
            return 1;
        }
        return switch (action) {
            case CommandLine.Action.Help h -> {
                System.out.print(h.text());
                yield 0;
            }
            case CommandLine.Action.Version v -> {
                System.out.println("jvisor " + version());
                yield 0;
            }
            case CommandLine.Action.Run r when r.daemonize() && !Daemon.isChild() -> Daemon.launch(args, err);
            case CommandLine.Action.Run r -> runMachine(r, r.msgTimestamps() ? TimestampedStream.wrap(err) : err);
        };
    }

    private static int runMachine(CommandLine.Action.Run run, PrintStream err) {
        MachineConfig config = run.config();
        if (config.debugLog().contains("unimp")) {
            System.setProperty("jvisor.tcg.logUnimp", "true");
        }
        // The console is the guest's: raw mode while it runs, restored on every way out
        // (normal exit, error, SIGTERM/SIGHUP through the shutdown hook).
        Terminal terminal = new Terminal();
        if (run.usesStdio()) {
            Runtime.getRuntime().addShutdownHook(new Thread(terminal::restore, "terminal-restore"));
            terminal.enterRawMode();
        }
        try {
            return runMachineOnConsole(run, err);
        } finally {
            terminal.restore();
        }
    }

    private static int runMachineOnConsole(CommandLine.Action.Run run, PrintStream err) {
        if (run.daemonize()) {
            try {
                Daemon.detachFromTerminal();
            } catch (SysException e) {
                err.println("jvisor: -daemonize: " + e.getMessage());
                return 1;
            }
        }
        if (run.processName() != null) {
            try {
                org.jvisor.sys.ProcessSession.setName(run.processName());
            } catch (java.io.IOException e) {
                err.println("jvisor: -name process=: " + e.getMessage());   // QEMU exits too (os_set_proc_name)
                return 1;
            }
        }
        try (VirtualMachine vm = build(run, err, TranslationCache.forOneMachine())) {
            endOnSignal(vm);
            endOnFailure(vm);
            // the gdbstub and the monitors close before the machine: each client gets its last replies and events first
            try (QmpMonitors monitors = QmpMonitors.bind(vm, run.monitors(), run.humanMonitors(), version(), !run.startPaused(),
                     run.qomNames(), msg -> err.println("jvisor: " + msg));
                 GdbServer gdb = openGdbStub(vm, run.gdb(), err);
                 Pidfile pidfile = Pidfile.write(run.pidfile())) {
                // everything is open (images, sockets, the pidfile) and every thread started:
                // give up what the guest never needs
                try {
                    if (run.runWith().isSet()) {
                        vm.holdBootImages(); // a reset could not read them from the new root or as the new user
                    }
                    run.runWith().enter();
                } catch (VmException | SysException e) {
                    err.println("jvisor: -run-with: " + e.getMessage());
                    return 1;
                }
                if (run.sandbox() != null) {
                    try {
                        Sandbox.enter(run.sandbox());
                    } catch (SysException e) {
                        err.println("jvisor: -sandbox: " + e.getMessage());
                        return 1;
                    }
                }
                err.println("jvisor: " + vm.acceleratorExplanation());
                if (run.daemonize()) {
                    Daemon.ready();
                }
                // As QEMU: the monitors answer once the machine is set going, unless it waits for a
                // migration stream (then they must answer meanwhile: query-migrate, quit)
                boolean waitsForStream = run.incoming() != null && !run.incoming().startsWith("file:") || run.incomingDefer();
                if (waitsForStream) {
                    monitors.serve();
                }
                if (run.config().kernel() != null) {
                    collectBootImages();
                }
                begin(vm, run, err);
                if (!waitsForStream) {
                    monitors.serve();
                }
                return vm.awaitExit().status();
            } catch (IOException e) {
                err.println("jvisor: " + e.getMessage());
                return 1;
            }
        } catch (VmException e) {
            err.println("jvisor: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("jvisor: interrupted");
            return 1;
        } catch (RuntimeException | Error e) {
            err.println("jvisor: internal error: " + e);
            if (System.getenv("JVISOR_DEBUG") != null) {
                e.printStackTrace(err);
            }
            return 1;
        }
    }

    /**
     * The gdbstub of -s / -gdb listening for {@code vm}, or null without one.
     *
     * @throws IOException if it cannot listen, or the engine cannot be debugged (kvm chosen by -accel auto)
     */
    private static GdbServer openGdbStub(VirtualMachine vm, GdbEndpoint endpoint, PrintStream err) throws IOException {
        if (endpoint == null) {
            return null;
        }
        if (!vm.debugger().supported()) {
            throw new IOException("-gdb: the gdbstub works on the tcg engine only (this machine runs on "
                + vm.accelerator() + "); use -accel tcg");
        }
        return GdbServer.open(endpoint, new VmDebugTarget(vm), msg -> err.println("jvisor: " + msg));
    }

    /**
     * The machine of {@code run}: booted; restored from a snapshot file (-incoming file:); or
     * waiting for its state (-incoming defer, or a stream URI that {@link #begin} then receives).
     */
    static VirtualMachine build(CommandLine.Action.Run run, PrintStream log, TranslationCache translations)
            throws VmException {
        String incoming = run.incoming();
        if (incoming != null && incoming.startsWith("file:")) {
            return VirtualMachine.restore(run.config(), Path.of(incoming.substring("file:".length())), log);
        }
        if (incoming != null || run.incomingDefer()) {
            return VirtualMachine.createIncoming(run.config(), log);
        }
        return VirtualMachine.create(run.config(), log, translations);
    }

    /**
     * One full collection before the guest starts, in this process of one machine: the kernel and
     * initrd (14 MiB and more) were read, loaded into guest RAM and let go, but the serial
     * collector's old generation, where arrays that large are allocated, only reuses space after
     * a full collection, which a running guest rarely causes. Without it those megabytes stay
     * resident for the machine's life. A few milliseconds: little else is live yet.
     */
    private static void collectBootImages() {
        System.gc();
    }

    /**
     * Starts what {@link #build} built, once its monitors are open: a booted machine runs unless
     * -S; a stream -incoming (tcp:, unix:, exec:) is received now, the monitors answering
     * meanwhile (status inmigrate), as QEMU's destination does.
     */
    static void begin(VirtualMachine vm, CommandLine.Action.Run run, PrintStream log) throws VmException {
        String incoming = run.incoming();
        if (incoming != null) {
            if (!incoming.startsWith("file:")) {
                log.println("jvisor: waiting for the incoming migration on " + incoming);
                try {
                    vm.migrateIncoming(incoming, !run.startPaused());
                } catch (IllegalStateException e) {
                    return;   // quit (QMP, a signal) while waiting: the machine ends as that asked
                }
            }
            // QEMU runs a restored guest on unless -S, if it was running when saved; with
            // no monitor to send cont, jvisor runs it on in any case unless -S
            boolean wasRunning = vm.incomingRunState().map(RunState::isRunning).orElse(true);
            boolean runOn = !run.startPaused() && (wasRunning || run.monitors().isEmpty());
            String from = incoming.startsWith("file:") ? incoming.substring("file:".length()) : incoming;
            log.println("jvisor: restored from " + from + (runOn ? "" : "; paused"));
            if (runOn && vm.status() != RunState.RUNNING) {
                vm.resume();
            }
        } else if (!run.startPaused() && !run.incomingDefer()) {
            vm.start();
        }
    }

    /**
     * SIGTERM, SIGINT or SIGHUP end the machine as QEMU does (SHUTDOWN, reason host-signal), so
     * disks are flushed and closed. Bounded: a machine that cannot end does not hold the JVM.
     */
    private static void endOnSignal(VirtualMachine vm) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (vm.exit().isPresent()) {
                return;
            }
            try {
                vm.quit(ShutdownCause.HOST_SIGNAL);
                vm.awaitExit(SIGNAL_GRACE);
            } catch (IllegalStateException e) {
                // it ended meanwhile
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "jvisor-signal"));
    }

    private static final Duration SIGNAL_GRACE = Duration.ofSeconds(5);

    /**
     * The VM stays stopped after an engine failure or a guest crash (QEMU's internal-error and
     * guest-panicked) for a monitor to look at; without one, jvisor ends with status 1.
     */
    static void endOnFailure(VirtualMachine vm) {
        vm.addListener(event -> {
            if (event instanceof VmEvent.Stop
                && (vm.status() == RunState.INTERNAL_ERROR || vm.status() == RunState.GUEST_PANICKED)) {
                try {
                    vm.quit(ShutdownCause.HOST_ERROR);
                } catch (IllegalStateException e) {
                    // it ended meanwhile (a crash without -no-shutdown ends it by itself)
                }
            }
        });
    }

    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }
}
