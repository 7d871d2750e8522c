package org.jvisor.gdb;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.RequiredTools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A kernel developer's gdb session, on jvisor and on QEMU 7.2 with the same gdb script
 * (guests/gdbstub.S; QEMU boots its Multiboot build, gdbstub.mb.elf): -gdb tcp::PORT -S, a
 * breakpoint at gdb_break reached by continue, the registers there (all of "info registers"
 * but RIP, whose address differs between the two builds, must be the same), stepi by one
 * instruction, x/4xw of a word table, "set $rax" changing the guest's branch, Ctrl-C (SIGINT to
 * gdb) stopping the guest's spin loop, a memory write ending it and detach letting it finish.
 */
@GuestTest
class GdbStubGuestTest {
    private static final Path GDB = Path.of("/usr/bin/gdb");
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    /** Hang guards, not performance limits. */
    private static final long GUARD_SECONDS = 120;

    /** What one VMM's debugged run gave: gdb's output, the VMM's exit status and its console. */
    private record Run(String gdb, int status, String console) {
        @Override
        public String toString() {
            return "status " + status + "\n--- gdb ---\n" + gdb + "\n--- console ---\n" + console;
        }
    }

    @Test
    void gdbDebugsTheGuestOnJvisorAsOnQemu() throws Exception {
        RequiredTools.assume(Files.isExecutable(GDB), "gdb not installed (Debian package gdb): the gdbstub test skipped");
        RequiredTools.assume(Files.isExecutable(QEMU), "qemu-system-x86_64 not installed (Debian package qemu-system-x86): no reference run");
        Path elf = JvisorProcess.guest("gdbstub.elf"), mbElf = JvisorProcess.guest("gdbstub.mb.elf");

        int port = freePort();
        Run jvisor = debug(JvisorProcess.command(List.of(), vmOptions(elf, port)), elf, port);
        port = freePort();
        List<String> qemu = new ArrayList<>(List.of(QEMU.toString(), "-accel", "tcg"));
        qemu.addAll(List.of(vmOptions(mbElf, port)));
        Run reference = debug(qemu, mbElf, port);

        for (Run r : List.of(jvisor, reference)) {
            Path image = r == jvisor ? elf : mbElf;
            assertEquals(33, r.status(), r.toString());
            assertTrue(r.console().contains("gdbstub: rax patched"), "set $rax changed the branch: " + r);
            assertTrue(r.console().contains("gdbstub: released"), "the memory write ended the spin: " + r);
            assertTrue(r.gdb().contains(String.format("Breakpoint 1, 0x%016x in gdb_break ()", symbol(image, "gdb_break"))), r.toString());
            assertTrue(r.gdb().contains(String.format("0x%016x in gdb_after_step ()", symbol(image, "gdb_after_step"))),
                "stepi ran one instruction: " + r);
            assertTrue(r.gdb().contains("\nrcx            0x7777              30583\n"), "the stepped instruction ran: " + r);
            assertTrue(r.gdb().contains(":\t0xdeadbeef\t0x12345678\t0xcafef00d\t0x0badc0de\n"), "x/4xw: " + r);
            assertTrue(r.gdb().contains("Program received signal SIGINT, Interrupt."), "Ctrl-C stopped the guest: " + r);
            assertTrue(r.gdb().matches("(?s).*0x[0-9a-f]{16} in gdb_spin \\(\\)\nrip .*"), "stopped in the spin loop: " + r);
            assertTrue(r.gdb().contains("[Inferior 1 (process 1) detached]"), r.toString());
        }
        // at -S jvisor's vCPU waits at the ELF's entry (it boots the image itself); QEMU's at the reset vector
        assertTrue(jvisor.gdb().contains("rip            0x100000            0x100000 <_start>"), jvisor.toString());
        assertTrue(reference.gdb().contains("rip            0xfff0              0xfff0"), reference.toString());
        assertEquals(registersAtBreakpoint(reference), registersAtBreakpoint(jvisor),
            "info registers at gdb_break, RIP aside\n" + jvisor);
    }

    private static String[] vmOptions(Path kernel, int port) {
        return new String[] {"-m", "256", "-nographic", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", kernel.toString(), "-gdb", "tcp:127.0.0.1:" + port, "-S"};
    }

    /** "info registers" after the breakpoint, without the RIP line. */
    private static String registersAtBreakpoint(Run r) {
        String g = r.gdb();
        int from = g.indexOf("\nrax ");
        int to = g.indexOf('\n', g.indexOf("\nmxcsr ", from) + 1);
        assertTrue(from >= 0 && to > from, "no info registers output: " + r);
        return g.substring(from, to).replaceAll("\nrip [^\n]*", "");
    }

    /**
     * Starts the VMM, drives it with gdb in batch mode and waits for both to end. The second
     * continue runs into the guest's spin loop: once the guest has printed its branch's line,
     * gdb gets SIGINT, as from Ctrl-C on its terminal, and sends the stub its interrupt.
     */
    private static Run debug(List<String> vm, Path symbols, int port) throws Exception {
        Process vmm = new ProcessBuilder(vm).redirectErrorStream(true).start();
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        Thread vmOut = pump(vmm.getInputStream(), console);
        Process gdb = null;
        try {
            gdb = new ProcessBuilder(GDB.toString(), "-batch", "-nx", symbols.toString(),
                "-ex", "set tcp connect-timeout 60",    // gdb retries until the VMM listens
                "-ex", "target remote 127.0.0.1:" + port,
                "-ex", "info registers rip",
                "-ex", "break *gdb_break",
                "-ex", "continue",
                "-ex", "info registers",
                "-ex", "stepi",
                "-ex", "info registers rcx",
                "-ex", "x/4xw &gdb_words",
                "-ex", "set $rax = 0x600d",
                "-ex", "delete",
                "-ex", "continue",
                "-ex", "info registers rip",
                "-ex", "set var *(int*)&release = 1",
                "-ex", "detach").redirectErrorStream(true).start();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Thread gdbOut = pump(gdb.getInputStream(), out);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(GUARD_SECONDS);
            while (!text(console).contains("gdbstub: rax")) {
                if (System.nanoTime() > deadline || !gdb.isAlive()) {
                    fail("the guest never passed its branch\n--- gdb ---\n" + text(out) + "\n--- console ---\n" + text(console));
                }
                Thread.sleep(50);
            }
            Thread.sleep(300);  // into the spin loop
            new ProcessBuilder("kill", "-INT", Long.toString(gdb.pid())).start().waitFor();
            if (!gdb.waitFor(GUARD_SECONDS, TimeUnit.SECONDS) || !vmm.waitFor(GUARD_SECONDS, TimeUnit.SECONDS)) {
                fail("hang guard\n--- gdb ---\n" + text(out) + "\n--- console ---\n" + text(console));
            }
            gdbOut.join();
            vmOut.join();
            return new Run(text(out), vmm.exitValue(), text(console));
        } finally {
            vmm.destroyForcibly();
            if (gdb != null) {
                gdb.destroyForcibly();
            }
        }
    }

    /** The address of {@code name} in {@code elf} (binutils' nm, installed with the compiler that built it). */
    private static long symbol(Path elf, String name) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("nm", elf.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 3 && f[2].equals(name)) {
                return Long.parseUnsignedLong(f[0], 16);
            }
        }
        throw new IllegalStateException(elf + " has no symbol " + name + ":\n" + out);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String text(ByteArrayOutputStream b) {
        synchronized (b) {
            return b.toString(StandardCharsets.UTF_8);
        }
    }

    private static Thread pump(InputStream in, ByteArrayOutputStream sink) {
        return Thread.ofPlatform().daemon().start(() -> {
            byte[] buf = new byte[4096];
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    synchronized (sink) {
                        sink.write(buf, 0, n);
                    }
                }
            } catch (IOException ignored) {
                // the process ended
            }
        });
    }
}
