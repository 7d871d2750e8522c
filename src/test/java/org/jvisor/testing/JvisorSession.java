package org.jvisor.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An interactive jvisor: a separate JVM whose console the test reads and types into, as a user at
 * a terminal would. {@link #expect} waits for text on stdout; a watchdog (not a performance limit)
 * turns a guest that never answers into a failure with the whole console in the message.
 */
public final class JvisorSession implements AutoCloseable {
    private static final long WATCHDOG_MILLIS = 15 * 60 * 1000;

    private final Process process;
    private final StringBuffer stdout = new StringBuffer();
    private final StringBuffer stderr = new StringBuffer();
    private final OutputStream stdin;
    private int searchFrom;

    private JvisorSession(Process p) {
        this.process = p;
        this.stdin = p.getOutputStream();
        pump(p.getInputStream(), stdout);
        pump(p.getErrorStream(), stderr);
    }

    public static JvisorSession start(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(ChildJvm.command(List.of(), "org.jvisor.cli.Main"));
        cmd.addAll(List.of(args));
        return new JvisorSession(new ProcessBuilder(cmd).start());
    }

    private static void pump(InputStream in, StringBuffer sink) {
        Thread.ofPlatform().daemon().start(() -> {
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
        long deadline = System.currentTimeMillis() + WATCHDOG_MILLIS;
        while (true) {
            int at = stdout.indexOf(text, searchFrom);
            if (at >= 0) {
                String upTo = stdout.substring(searchFrom, at + text.length());
                searchFrom = at + text.length();
                return upTo;
            }
            if (!process.isAlive() && stdout.indexOf(text, searchFrom) < 0) {
                Thread.sleep(50);
                if (stdout.indexOf(text, searchFrom) < 0) {
                    throw new AssertionError("jvisor ended (status " + process.exitValue() + ") before printing '"
                        + text + "'\n" + transcript());
                }
            }
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("watchdog: no '" + text + "' on the console\n" + transcript());
            }
            Thread.sleep(20);
        }
    }

    /** Types {@code text} on the console. */
    public void send(String text) throws IOException {
        stdin.write(text.getBytes(StandardCharsets.ISO_8859_1));
        stdin.flush();
    }

    /** Waits for jvisor to end and returns its status. */
    public int waitFor() throws InterruptedException {
        if (!process.waitFor(WATCHDOG_MILLIS, TimeUnit.MILLISECONDS)) {
            throw new AssertionError("watchdog: jvisor did not end\n" + transcript());
        }
        return process.exitValue();
    }

    public String stdout() {
        return stdout.toString();
    }

    public String transcript() {
        return "--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr;
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
