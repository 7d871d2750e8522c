package org.jvisor.tcg;

import org.jvisor.testing.DemoGuest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.CpioWriter;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.TranslatedToo;

/**
 * Cross-modifying code in a Linux user program on two vCPUs (guests/linux/xmodify.c): a writer
 * thread swaps a 4-byte aligned instruction with an atomic exchange while two threads call it; each
 * call must run one of the two encodings, and after CPUID the one the writer left (SDM vol. 3,
 * 8.1.3). The program, built static here, rides in a second cpio archive appended to the demo
 * guest's initramfs (Linux unpacks both). Before the fix the callers ran the old encoding after
 * CPUID in about half of the 20 rounds (interpreted, as here).
 */
@GuestTest
@TranslatedToo
class CrossModifyingCodeLinuxTest {
    @Test
    void threadsCallingAFunctionWhileAnotherRewritesItRunTheOldOrTheNewCode(@TempDir Path dir) throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        Path program = dir.resolve("xmodify");
        compile(Path.of("guests/linux/xmodify.c"), program);
        Path initramfs = dir.resolve("initramfs.cpio.gz");
        try (OutputStream out = Files.newOutputStream(initramfs)) {
            Files.copy(guest.initramfs(), out);
            try (CpioWriter cpio = CpioWriter.gzip(new NonClosing(out), 0)) {
                cpio.file("bin/xmodify", 0755, program);
            }
        }
        // interpreted: a translated unit's exit applies pending drops, which hides the serializing
        // instruction's part (CrossModifyingCodeTest covers both engines' modes without a guest)
        var r = JvisorProcess.run(List.of("-Djvisor.tcg.jit=off"), null,
            "-accel", "tcg", "-smp", "2", "-m", "512M", "-nographic", "-no-reboot", "-kernel", guest.kernel().toString(), "-initrd", initramfs.toString(),
            "-append", "console=ttyS0 quiet " + InitScript.cmdParameterBase64("xmodify 20 2000"));
        String out = r.stdout();
        assertFalse(out.contains("xmodify: signal"), "a torn instruction faulted: " + r);
        assertFalse(out.contains("returned neither value"), "a call ran a mix of the two encodings: " + r);
        assertFalse(out.contains("after CPUID ran an old encoding"),
            "stale code after a serializing instruction: " + r);
        assertTrue(out.contains("xmodify: ok, 20 rounds of 2000 swaps"), r.toString());
        assertTrue(out.contains("jvisor-guest: command exited with status 0"), r.toString());
        assertEquals(0, r.status(), r.toString());
    }

    private static void compile(Path source, Path binary) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of("gcc", "-O2", "-static", "-pthread", "-Wall", "-o", binary.toString(),
            source.toString())).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException("gcc " + source + " failed:\n" + output);
        }
    }

    /** Lets the cpio writer finish its gzip member without closing the file it appends to. */
    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
