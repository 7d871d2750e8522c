package org.jvisor.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A VMM process whose stdio is the guest's serial console, driven as a user at a terminal would:
 * wait for some text, type a line, wait for the process to end. Every wait has a generous limit
 * that only guards against a hang; a timeout fails with everything seen so far.
 */
public final class SerialConsole implements AutoCloseable {
    private final String name;
    private final Process process;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Thread pump;
    private final OutputStream in;

    private SerialConsole(String name, Process process) {
        this.name = name;
        this.process = process;
        this.in = process.getOutputStream();
        this.pump = Thread.ofPlatform().daemon().name(name + "-console").start(() -> {
            byte[] buf = new byte[4096];
            try (InputStream s = process.getInputStream()) {
                int n;
                while ((n = s.read(buf)) > 0) {
                    synchronized (out) {
                        out.write(buf, 0, n);
                        out.notifyAll();
                    }
                }
            } catch (IOException e) {
                // the process ended
            }
        });
    }

    /** Starts {@code command} with stderr merged into the console output. */
    public static SerialConsole start(String name, List<String> command) throws IOException {
        return new SerialConsole(name, new ProcessBuilder(command).redirectErrorStream(true).start());
    }

    /** Starts jvisor with {@code args} (see {@link JvisorProcess}). */
    public static SerialConsole jvisor(String... args) throws IOException {
        return start("jvisor", JvisorProcess.command(List.of(), args));
    }

    /** Everything the console printed so far. */
    public String output() {
        synchronized (out) {
            return out.toString(StandardCharsets.UTF_8);
        }
    }

    /** Waits until the output after {@code from} (a length of {@link #output()}) contains {@code text}; returns its end. */
    public int await(String text, int from, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        synchronized (out) {
            while (true) {
                String s = out.toString(StandardCharsets.UTF_8);
                int at = s.indexOf(text, Math.min(from, s.length()));
                if (at >= 0) {
                    return at + text.length();
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || (!process.isAlive() && !pump.isAlive())) {
                    throw new AssertionError(name + ": no \"" + text + "\" within " + limit.toSeconds() + " s"
                        + (process.isAlive() ? "" : " (the process ended, status " + process.exitValue() + ")")
                        + "\n--- console ---\n" + s);
                }
                out.wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 500)));
            }
        }
    }

    /** Types {@code line} and Enter. */
    public void type(String line) throws IOException {
        in.write((line + "\r").getBytes(StandardCharsets.UTF_8));
        in.flush();
    }

    /** Waits for the process to end; its status. */
    public int awaitExit(Duration limit) throws InterruptedException {
        if (!process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError(name + ": still running after " + limit.toSeconds() + " s\n--- console ---\n" + output());
        }
        pump.join(10_000);
        return process.exitValue();
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
