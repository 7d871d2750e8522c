package org.jvisor.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An interactive jvisor: a separate JVM whose console the test reads and types into, as a user at
 * a terminal would. {@link #expect} waits for text on stdout ({@link #expectStderr} on stderr);
 * a watchdog (not a performance limit) turns a guest that never answers into a failure with the
 * whole console in the message.
 */
public final class JvisorSession implements AutoCloseable {
    private static final long WATCHDOG_MILLIS = 15 * 60 * 1000;

    /** One of the process's outputs, and where the next {@code expect} on it searches from. */
    private static final class Output {
        final String name;
        final StringBuffer text = new StringBuffer();
        int searchFrom;

        Output(String name) {
            this.name = name;
        }
    }

    private final Process process;
    private final Output stdout = new Output("the console");
    private final Output stderr = new Output("stderr");
    private final OutputStream stdin;
    private final Thread stdoutPump;
    private final Thread stderrPump;

    private JvisorSession(Process p) {
        this.process = p;
        this.stdin = p.getOutputStream();
        this.stdoutPump = pump(p.getInputStream(), stdout.text);
        this.stderrPump = pump(p.getErrorStream(), stderr.text);
    }

    public static JvisorSession start(String... args) throws IOException {
        return start(List.of(), args);
    }

    /** jvisor in a JVM given {@code jvmOptions} too (e.g. the launcher's heap policy). */
    public static JvisorSession start(List<String> jvmOptions, String... args) throws IOException {
        return new JvisorSession(new ProcessBuilder(JvisorProcess.command(jvmOptions, args)).start());
    }

    /** Another program driven the same way: a peer such as QEMU as the frontend of jvisor's vhost-user backend. */
    public static JvisorSession startProgram(List<String> command) throws IOException {
        return new JvisorSession(new ProcessBuilder(command).start());
    }

    private static Thread pump(InputStream in, StringBuffer sink) {
        return Thread.ofPlatform().daemon().start(() -> {
            byte[] buf = new byte[4096];
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    sink.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                }
            } catch (IOException ignored) {
                // process ended
            }
        });
    }

    /** Waits until {@code text} appears on stdout after the previous match; returns the output up to it. */
    public String expect(String text) throws InterruptedException {
        return expect(stdout, text);
    }

    /** Waits until {@code text} appears on stderr (jvisor's own messages) after the previous match there. */
    public String expectStderr(String text) throws InterruptedException {
        return expect(stderr, text);
    }

    private String expect(Output out, String text) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WATCHDOG_MILLIS;
        while (true) {
            int at = out.text.indexOf(text, out.searchFrom);
            if (at >= 0) {
                String upTo = out.text.substring(out.searchFrom, at + text.length());
                out.searchFrom = at + text.length();
                return upTo;
            }
            if (!process.isAlive() && out.text.indexOf(text, out.searchFrom) < 0) {
                Thread.sleep(50);
                if (out.text.indexOf(text, out.searchFrom) < 0) {
                    throw new AssertionError("jvisor ended (status " + process.exitValue() + ") before printing '"
                        + text + "' on " + out.name + "\n" + transcript());
                }
            }
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("watchdog: no '" + text + "' on " + out.name + "\n" + transcript());
            }
            Thread.sleep(20);
        }
    }

    /**
     * Sends SIGTERM, as a service manager or libvirt's destroy does. Through the process handle:
     * Process.destroy() would also close our ends of its pipes, losing what it prints on the way out.
     */
    public void terminate() {
        process.toHandle().destroy();
    }

    /** SIGKILL: the VMM gets no chance to flush or close anything (a crash, an OOM kill). */
    public void kill() {
        process.toHandle().destroyForcibly();
    }

    /** Types {@code text} on the console. */
    public void send(String text) throws IOException {
        stdin.write(text.getBytes(StandardCharsets.ISO_8859_1));
        stdin.flush();
    }

    /**
     * Waits at most {@code seconds} for jvisor to end (a hang guard) and returns its status; on
     * the guard, fails with the transcript and jvisor's threads (jstack).
     */
    public int waitFor(long seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            String threads;
            try {
                Process p = new ProcessBuilder(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "jstack").toString(),
                    Long.toString(process.pid())).redirectErrorStream(true).start();
                threads = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                threads = "(no thread dump: " + e.getMessage() + ")";
            }
            throw new AssertionError("watchdog: jvisor did not end within " + seconds + " s\n" + transcript() + "\n" + threads);
        }
        return waitFor();
    }

    /** Waits for jvisor to end and returns its status; its whole output is read by then. */
    public int waitFor() throws InterruptedException {
        if (!process.waitFor(WATCHDOG_MILLIS, TimeUnit.MILLISECONDS)) {
            throw new AssertionError("watchdog: jvisor did not end\n" + transcript());
        }
        stdoutPump.join();
        stderrPump.join();
        return process.exitValue();
    }

    /** The jvisor process's id. */
    public long pid() {
        return process.pid();
    }

    /** Whether jvisor still runs. */
    public boolean isAlive() {
        return process.isAlive();
    }

    public String stdout() {
        return stdout.text.toString();
    }

    public String stderr() {
        return stderr.text.toString();
    }

    public String transcript() {
        return "--- stdout ---\n" + stdout.text + "\n--- stderr ---\n" + stderr.text;
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
