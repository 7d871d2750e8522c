package org.jvisor.cli;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.jvisor.sys.ProcessSession;
import org.jvisor.sys.SysException;

/**
 * -daemonize for a JVM, which cannot fork: the jvisor that was asked starts itself again,
 * detached (same JVM, same options, stdin on /dev/null, a new session), and waits until that
 * copy says it is ready (its machine built, its monitors listening, its pidfile written); then
 * it exits 0, as QEMU's parent does once its child is set up (os-posix.c os_daemonize). If the
 * copy fails first, its messages are shown and its status returned. libvirt depends on this:
 * it starts the emulator with -daemonize and reads the pidfile when the parent has exited.
 */
final class Daemon {
    /** Set in the copy's environment: it is the daemon, not the one that starts it. */
    static final String CHILD_ENV = "JVISOR_DAEMON_CHILD";
    private static final String READY = "jvisor-daemon-ready";
    private static final java.time.Duration MESSAGES_GRACE = java.time.Duration.ofSeconds(2);

    private Daemon() {
    }

    /** Whether this process is the daemon copy. */
    static boolean isChild() {
        return "1".equals(System.getenv(CHILD_ENV));
    }

    /** In the parent: starts the daemon copy with {@code args} and returns the status to exit with. */
    static int launch(String[] args, PrintStream err) {
        ProcessHandle.Info self = ProcessHandle.current().info();
        String[] jvmArgs = self.arguments().orElse(null);
        if (self.command().isEmpty() || jvmArgs == null || jvmArgs.length < args.length
                || !Arrays.equals(Arrays.copyOfRange(jvmArgs, jvmArgs.length - args.length, jvmArgs.length), args)) {
            err.println("jvisor: -daemonize: cannot tell this JVM's own command line, so it cannot start itself detached");
            return 1;
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(self.command().get());
        cmd.addAll(Arrays.asList(jvmArgs));
        ProcessBuilder pb = new ProcessBuilder(cmd)
            .redirectInput(new File("/dev/null"))
            .redirectOutput(ProcessBuilder.Redirect.PIPE)
            .redirectError(ProcessBuilder.Redirect.PIPE);
        pb.environment().put(CHILD_ENV, "1");
        Process child;
        try {
            child = pb.start();
        } catch (IOException e) {
            err.println("jvisor: -daemonize: cannot start the daemon: " + e.getMessage());
            return 1;
        }
        Thread messages = Thread.ofPlatform().daemon().start(() -> copy(child.getErrorStream(), err));
        try (BufferedReader status = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = status.readLine()) != null; ) {
                if (line.equals(READY)) {
                    messages.join(MESSAGES_GRACE);   // its stderr ends when it moves to /dev/null, right after
                    return 0;
                }
            }
            int rc = child.waitFor();
            messages.join();
            return rc == 0 ? 1 : rc;
        } catch (IOException e) {
            err.println("jvisor: -daemonize: lost the daemon: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    private static void copy(InputStream in, PrintStream out) {
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // the daemon closed its stderr
        }
    }

    /** In the daemon, first thing: leave the starting terminal's session. */
    static void detachFromTerminal() throws SysException {
        ProcessSession.newSession();
    }

    /** In the daemon, once set up: tells the parent, then puts stdin, stdout and stderr on /dev/null. */
    static void ready() throws SysException {
        try {
            OutputStream out = new java.io.FileOutputStream(java.io.FileDescriptor.out);
            out.write((READY + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            // the parent is gone; nothing waits for the news
        }
        System.err.flush();
        ProcessSession.detachStdio();
    }
}
