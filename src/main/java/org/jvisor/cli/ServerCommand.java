package org.jvisor.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.jvisor.qmp.ControlMonitor;
import org.jvisor.qmp.MonitorConfig;

/**
 * {@code jvisor -control ADDRESS [-pidfile FILE]}: jvisor as a server of many machines, driven
 * over its control socket (QMP framing; vm-create, vm-list, vm-destroy, quit). The machines'
 * own options go in vm-create's arguments, not on this command line.
 */
final class ServerCommand {
    private static final Duration SIGNAL_GRACE = Duration.ofSeconds(10);

    private ServerCommand() {
    }

    /** Whether the command line asks for the server. */
    static boolean requested(String[] args) {
        return List.of(args).contains("-control");
    }

    static int run(String[] args, PrintStream err) {
        MonitorConfig control = null;
        Path pidfile = null;
        try {
            for (int i = 0; i < args.length; i++) {
                String opt = args[i].startsWith("--") ? args[i].substring(1) : args[i];
                switch (opt) {
                    case "-control" -> {
                        if (control != null) {
                            throw new UsageException("-control: given twice");
                        }
                        control = ChardevOptions.listeningMonitor(opt, value(args, ++i, opt), "control", false);
                    }
                    case "-pidfile" -> pidfile = Path.of(value(args, ++i, opt));
                    default -> throw new UsageException(args[i] + ": with -control, a machine's options go in the "
                        + "arguments of vm-create on the control socket");
                }
            }
        } catch (UsageException e) {
            err.println("jvisor: " + e.getMessage());
            return 1;
        } catch (java.nio.file.InvalidPathException e) {
            err.println("jvisor: '" + e.getInput().replace("\0", "\\0") + "' is not a file name: " + e.getReason());
            return 1;
        }
        VmServer server = new VmServer(err, Main.version());
        try (ControlMonitor monitor = ControlMonitor.open(control, server, Main.version(), msg -> err.println("jvisor: " + msg));
             Pidfile pid = Pidfile.write(pidfile)) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.quit();
                server.awaitEmpty(SIGNAL_GRACE);
            }, "jvisor-signal"));
            err.println("jvisor: serving machines on " + monitor.address().qemuName());
            server.awaitQuit();
            return 0;
        } catch (IOException e) {
            err.println("jvisor: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    private static String value(String[] args, int i, String opt) throws UsageException {
        if (i >= args.length) {
            throw new UsageException(opt + ": requires an argument (unix:PATH,server=on,wait=off or tcp:HOST:PORT,server=on,wait=off)");
        }
        return args[i];
    }
}
