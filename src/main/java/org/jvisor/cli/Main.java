package org.jvisor.cli;

import java.io.PrintStream;

import org.jvisor.backend.chr.Terminal;
import org.jvisor.machine.Machine;
import org.jvisor.machine.MachineConfig;
import org.jvisor.machine.MachineException;

/** The jvisor command. Every failure is one line on stderr and a non-zero status, never a stack trace. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.err));
    }

    public static int run(String[] args, PrintStream err) {
        CommandLine.Action action;
        try {
            action = CommandLine.parse(args);
        } catch (UsageException e) {
            err.println("jvisor: " + e.getMessage());
            return 1;
        }
        return switch (action) {
            case CommandLine.Action.Help h -> {
                System.out.print(Help.TEXT);
                yield 0;
            }
            case CommandLine.Action.Version v -> {
                System.out.println("jvisor " + version());
                yield 0;
            }
            case CommandLine.Action.Run r -> runMachine(r.config(), err);
        };
    }

    private static int runMachine(MachineConfig config, PrintStream err) {
        if (config.debugLog().contains("unimp")) {
            System.setProperty("jvisor.tcg.logUnimp", "true");
        }
        // The console is the guest's: raw mode while it runs, restored on every way out
        // (normal exit, error, SIGTERM/SIGHUP through the shutdown hook).
        Terminal terminal = new Terminal();
        if (config.usesStdio()) {
            Runtime.getRuntime().addShutdownHook(new Thread(terminal::restore, "terminal-restore"));
            terminal.enterRawMode();
        }
        try {
            return runMachineOnConsole(config, err);
        } finally {
            terminal.restore();
        }
    }

    private static int runMachineOnConsole(MachineConfig config, PrintStream err) {
        try (Machine machine = Machine.create(config, err)) {
            err.println("jvisor: " + machine.acceleratorExplanation());
            return machine.run();
        } catch (MachineException e) {
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

    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }
}
