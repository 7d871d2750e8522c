package org.jvisor.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;
import java.util.regex.Pattern;

import org.jvisor.api.TranslationCache;
import org.jvisor.api.VirtualMachine;
import org.jvisor.api.VmException;
import org.jvisor.api.VmExit;
import org.jvisor.qmp.MonitorConfig;
import org.jvisor.qmp.QmpMonitors;
import org.jvisor.qmp.VmHost;

/**
 * jvisor as a server (-control): many machines in one process, created, listed and destroyed
 * over the control socket. Each machine is what `jvisor ARGS` would run, with its own threads
 * (a thread group of its own), memory, devices, QMP monitors and consoles; the machines share
 * the JVM and translated guest code (a kernel that one machine compiled runs compiled in the
 * next). A machine that ends (power-off, triple fault with -no-reboot, engine failure) is closed
 * and removed by itself; the others go on.
 *
 * <p>What is not isolated, and why one process per machine stays the default: the machines share
 * one heap and one address space, so a JVM-wide failure (out of memory, a crash in native code)
 * ends them all, and a guest escape into the VMM reaches every guest of the process.
 */
final class VmServer implements VmHost {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

    private record Hosted(String name, VirtualMachine vm, QmpMonitors monitors, Thread reaper, PrintStream log) {
    }

    private final PrintStream log;
    private final String version;
    private final TranslationCache translations = new TranslationCache();
    private final Map<String, Hosted> machines = new LinkedHashMap<>();
    private final List<Consumer<VmEnded>> listeners = new CopyOnWriteArrayList<>();
    private final CountDownLatch quit = new CountDownLatch(1);

    VmServer(PrintStream log, String version) {
        this.log = log;
        this.version = version;
    }

    @Override
    public VmSummary create(String name, List<String> args) throws Refused {
        if (!NAME.matcher(name).matches()) {
            throw new Refused("Invalid VM name '" + name + "': 1 to 64 letters, digits, '_', '.', '-', starting with a letter or digit");
        }
        synchronized (this) {
            if (machines.containsKey(name)) {
                throw new Refused("a VM named '" + name + "' exists");
            }
        }
        CommandLine.Action.Run run = runOf(args);
        synchronized (this) {
            if (quit.getCount() == 0) {
                throw new Refused("the server is quitting");
            }
            if (machines.containsKey(name)) {
                throw new Refused("a VM named '" + name + "' exists");
            }
            machines.put(name, null);   // the name is taken while the machine is built
        }
        try {
            Hosted h = build(name, run);
            synchronized (this) {
                machines.put(name, h);
            }
            h.reaper().start();
            return summary(h);
        } catch (Refused | RuntimeException e) {
            synchronized (this) {
                machines.remove(name);
            }
            throw e;
        }
    }

    /** The arguments as `jvisor ARGS` would take them, less what belongs to the whole process. */
    private static CommandLine.Action.Run runOf(List<String> args) throws Refused {
        CommandLine.Action action;
        try {
            action = CommandLine.parse(args.toArray(String[]::new));
        } catch (UsageException e) {
            throw new Refused(e.getMessage(), e);
        }
        if (!(action instanceof CommandLine.Action.Run run)) {
            throw new Refused("the arguments must describe a machine (not -help or -version)");
        }
        if (run.usesStdio()) {
            throw new Refused("a VM of the server has no terminal (stdio, -nographic): give its console a socket, "
                + "-chardev socket,id=ID,path=PATH,server=on,wait=off -serial chardev:ID, and -display none");
        }
        if (run.daemonize() || run.pidfile() != null) {
            throw new Refused("-daemonize and -pidfile are the server's, not a VM's");
        }
        if (run.sandbox() != null || run.runWith().isSet()) {
            throw new Refused("-sandbox, -run-with, -runas and -chroot apply to the whole server process, not to one VM");
        }
        return run;
    }

    private Hosted build(String name, CommandLine.Action.Run run) throws Refused {
        PrintStream vmLog = PrefixedLog.of(log, name);
        VirtualMachine vm;
        try {
            vm = Main.build(run, vmLog, translations);
        } catch (VmException e) {
            throw new Refused(e.getMessage(), e);
        }
        QmpMonitors monitors;
        try {
            monitors = QmpMonitors.bind(vm, run.monitors(), run.humanMonitors(), version, !run.startPaused(), run.qomNames(),
                msg -> vmLog.println("jvisor: " + msg));
            monitors.serve();
        } catch (IOException e) {
            vm.close();
            throw new Refused(e.getMessage(), e);
        }
        Main.endOnFailure(vm);
        vmLog.println("jvisor: " + vm.acceleratorExplanation());
        try {
            Main.begin(vm, run, vmLog);
        } catch (VmException e) {
            monitors.close();
            vm.close();
            throw new Refused(e.getMessage(), e);
        }
        Thread reaper = Thread.ofVirtual().name("reaper " + name).unstarted(() -> reap(name));
        return new Hosted(name, vm, monitors, reaper, vmLog);
    }

    /** Waits for the machine's end, then releases it and tells the listeners. */
    private void reap(String name) {
        Hosted h;
        synchronized (this) {
            h = machines.get(name);
        }
        VmExit exit;
        try {
            exit = h.vm().awaitExit();
        } catch (InterruptedException e) {
            return;
        }
        h.monitors().close();
        h.vm().close();
        h.log().println("jvisor: ended: " + exit.cause().qemuName() + ", status " + exit.status());
        h.log().close();
        synchronized (this) {
            machines.remove(name);
        }
        VmEnded ended = new VmEnded(name, exit);
        for (Consumer<VmEnded> l : listeners) {
            try {
                l.accept(ended);
            } catch (RuntimeException e) {
                log.println("jvisor: a VM_ENDED listener failed: " + e);
            }
        }
    }

    @Override
    public synchronized List<VmSummary> list() {
        List<VmSummary> list = new ArrayList<>();
        for (Hosted h : machines.values()) {
            if (h != null) {
                list.add(summary(h));
            }
        }
        return list;
    }

    private static VmSummary summary(Hosted h) {
        return new VmSummary(h.name(), h.vm().status(), h.vm().accelerator(), h.vm().usage(),
            h.monitors().addresses().stream().map(MonitorConfig.Address::qemuName).toList());
    }

    @Override
    public VmExit destroy(String name) throws Refused {
        Hosted h;
        synchronized (this) {
            h = machines.get(name);
        }
        if (h == null) {
            throw new Refused("VM '" + name + "' not found");
        }
        try {
            h.vm().quit();
        } catch (IllegalStateException e) {
            // it ended meanwhile: the reaper has it
        }
        try {
            h.reaper().join();
            return h.vm().awaitExit();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Refused("interrupted while VM '" + name + "' ended", e);
        }
    }

    @Override
    public void quit() {
        quit.countDown();
    }

    /** Waits for quit, then ends every machine. */
    void awaitQuit() throws InterruptedException {
        quit.await();
        List<String> names;
        synchronized (this) {
            names = new ArrayList<>(machines.keySet());
        }
        for (String n : names) {
            try {
                destroy(n);
            } catch (Refused e) {
                // it ended by itself meanwhile
            }
        }
    }

    /** Waits (bounded) until every machine has ended, for a signal's shutdown hook. */
    void awaitEmpty(java.time.Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        List<Hosted> left;
        synchronized (this) {
            left = new ArrayList<>(machines.values());
        }
        for (Hosted h : left) {
            if (h == null) {
                continue;
            }
            try {
                h.vm().quit(org.jvisor.api.ShutdownCause.HOST_SIGNAL);
            } catch (IllegalStateException e) {
                // it ended meanwhile
            }
            try {
                h.vm().awaitExit(java.time.Duration.ofNanos(Math.max(0, end - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public VirtualMachine.Subscription addListener(Consumer<VmEnded> listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }
}
