package org.jvisor.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * QEMU 7.2 as the reference run of a guest test: the same options jvisor got, given to Debian's
 * qemu-system-x86_64; the test is skipped (with the reason) where it is not installed.
 */
public final class QemuReference {
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    /** A hang guard, not a performance limit. */
    private static final long GUARD_SECONDS = 300;

    private QemuReference() {
    }

    /** How a QEMU run ended: its exit status and what it printed (stdout and stderr). */
    public record Result(int status, String output) {
    }

    /** Runs QEMU with {@code options} to its end; returns what it printed (stdout and stderr). */
    public static String run(List<String> options) throws IOException, InterruptedException {
        return exec(options).output();
    }

    /** Runs QEMU with {@code options} to its end; returns its exit status and what it printed. */
    public static Result exec(List<String> options) throws IOException, InterruptedException {
        RequiredTools.assume(Files.isExecutable(QEMU), "qemu-system-x86_64 not installed: no reference run");
        List<String> cmd = new ArrayList<>(List.of(QEMU.toString()));
        cmd.addAll(options);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE).start();
        // read beside the wait, so that a QEMU that never ends trips the guard instead of the read
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        });
        if (!p.waitFor(GUARD_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            fail("hang guard: " + cmd + "\n" + out.join());
        }
        return new Result(p.exitValue(), out.join());
    }
}
