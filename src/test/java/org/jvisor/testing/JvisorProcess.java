package org.jvisor.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs jvisor as a user does: a separate JVM with the real command line, capturing stdout, stderr
 * and the exit status. The watchdog only keeps a hung guest from hanging the build; it is not a
 * performance limit.
 */
public final class JvisorProcess {
    private static final long WATCHDOG_MINUTES = 10;

    public record Result(int status, String stdout, String stderr) {
        @Override
        public String toString() {
            return "status " + status + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr;
        }
    }

    private JvisorProcess() {
    }

    public static Path guest(String name) {
        String dir = System.getProperty("jvisor.guests", "target/guests");
        Path p = Path.of(dir, name);
        if (!Files.exists(p)) {
            throw new IllegalStateException("test guest " + p + " was not built (guests/Makefile)");
        }
        return p;
    }

    public static Result run(String... args) throws IOException, InterruptedException {
        return run(null, args);
    }

    /** Runs jvisor with {@code args}, writing {@code input} (if any) to its stdin. */
    public static Result run(byte[] input, String... args) throws IOException, InterruptedException {
        return run(List.of(), input, args);
    }

    /** Runs jvisor in a JVM given {@code jvmOptions} too (e.g. a small -Xmx). */
    public static Result run(List<String> jvmOptions, byte[] input, String... args) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command(jvmOptions, args)).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread o = pump(p.getInputStream(), out);
        Thread e = pump(p.getErrorStream(), err);
        try (OutputStream in = p.getOutputStream()) {
            if (input != null) {
                in.write(input);
            }
        }
        if (!p.waitFor(WATCHDOG_MINUTES, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            o.join();
            e.join();
            throw new AssertionError("jvisor did not finish (watchdog) " + String.join(" ", args)
                + "\n--- stdout ---\n" + out.toString(StandardCharsets.UTF_8)
                + "\n--- stderr ---\n" + err.toString(StandardCharsets.UTF_8));
        }
        o.join();
        e.join();
        return new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** The command line of a jvisor JVM (see {@link ChildJvm#command}) running {@code args}. */
    public static List<String> command(List<String> jvmOptions, String... args) {
        List<String> cmd = new ArrayList<>(ChildJvm.command(jvmOptions, ChildJvm.JVISOR_MAIN));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static Thread pump(InputStream in, ByteArrayOutputStream sink) {
        return Thread.ofPlatform().daemon().start(() -> {
            try {
                in.transferTo(sink);
            } catch (IOException ignored) {
                // process ended
            }
        });
    }
}
