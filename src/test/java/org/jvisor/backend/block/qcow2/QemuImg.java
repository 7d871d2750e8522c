package org.jvisor.backend.block.qcow2;

import org.jvisor.testing.RequiredTools;


import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs QEMU's qemu-img and qemu-io (Debian's qemu-utils), the reference the qcow2 tests check against. */
final class QemuImg {
    record Result(int exit, String output) {
    }

    private QemuImg() {
    }

    static void assumeInstalled() {
        RequiredTools.assume(Files.isExecutable(Path.of("/usr/bin/qemu-img")) && Files.isExecutable(Path.of("/usr/bin/qemu-io")),
            "qemu-img/qemu-io not installed (apt-get install qemu-utils)");
    }

    static Result run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("LC_ALL", "C");
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {   // a hang guard only
            p.destroyForcibly();
            throw new IOException("timed out: " + cmd);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** Runs a command that must succeed; returns its output. */
    static String ok(String... args) throws IOException, InterruptedException {
        Result r = run(args);
        if (r.exit() != 0) {
            throw new AssertionError(String.join(" ", args) + " exited " + r.exit() + ":\n" + r.output());
        }
        return r.output();
    }

    /** qemu-img check: 0 clean, 3 leaks only, 2 corruption (qemu-img(1)). */
    static Result check(Path image) throws IOException, InterruptedException {
        return run("qemu-img", "check", "-f", "qcow2", image.toString());
    }
}
