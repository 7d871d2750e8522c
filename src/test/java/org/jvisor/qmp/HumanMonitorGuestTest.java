package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorSession;
import org.jvisor.testing.RequiredTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The human monitor on the demo guest, as a QEMU user drives it: over a Unix socket with socat
 * and, on the console it shares with the serial port (-serial mon:stdio), through Ctrl-A c. One
 * boot of each VMM: QEMU 7.2 answers a script of commands whose text must be the same (banner
 * shape, help lines, status, errors), then jvisor boots the guest, answers the same script, is
 * stopped and continued, shows its registers, and is powered off by system_powerdown.
 */
@GuestTest
class HumanMonitorGuestTest {
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    private static final Path SOCAT = Path.of("/usr/bin/socat");
    /** Commands whose output does not depend on the VMM's devices or the guest's moment. */
    private static final String COMMON = String.join("\n", "info status", "foo", "help stop", "help cont",
        "help info status", "help xp", "info status extra", "stop extra", "c extra", "xp /4q 0", "xp", "xp 5 5",
        "info registers 5", "info registers x", "eject", "device_del", "change", "info kvm", "help nosuch", "") ;
    /** The echo of a typed line: the redraws end with ESC [ K, then the line end. */
    private static final Pattern ECHO = Pattern.compile("\\(qemu\\) [^\\r]*?\u001b\\[K\r\n");

    @Test
    void socketAndConsoleMonitorsDriveTheDemoGuest(@TempDir Path dir) throws Exception {
        RequiredTools.assume(Files.isExecutable(SOCAT), "socat is not installed (Debian package socat): HMP tests skipped");
        RequiredTools.assume(Files.isExecutable(QEMU), "qemu-system-x86_64 is not installed (Debian package qemu-system-x86):"
            + " HMP tests skipped");
        GuestBuilder.Guest guest = DemoGuest.build();
        List<String> boot = List.of("-accel", "tcg", "-m", "256M", "-kernel", guest.kernel().toString(),
            "-initrd", guest.initramfs().toString(), "-append", DemoGuest.CONSOLE);

        Path qemuSocket = dir.resolve("qemu.sock");
        List<String> qemuCmd = new ArrayList<>(List.of(QEMU.toString(), "-display", "none", "-serial", "none",
            "-monitor", "unix:" + qemuSocket + ",server=on,wait=off"));
        qemuCmd.addAll(boot);
        Process qemu = new ProcessBuilder(qemuCmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
        List<String> fromQemu;
        try {
            awaitSocket(qemuSocket, qemu::isAlive);
            fromQemu = session(qemuSocket, COMMON);
        } finally {
            qemu.destroy();
            qemu.waitFor(60, TimeUnit.SECONDS);
        }

        Path socket = dir.resolve("jvisor.sock");
        List<String> args = new ArrayList<>(List.of("-nographic", "-serial", "mon:stdio",
            "-monitor", "unix:" + socket + ",server=on,wait=off"));
        args.addAll(boot);
        try (JvisorSession jvisor = JvisorSession.start(args.toArray(String[]::new))) {
            awaitSocket(socket, jvisor::isAlive);
            List<String> fromJvisor = session(socket, COMMON);
            assertEquals(fromQemu.size(), fromJvisor.size(), "answers: qemu " + fromQemu + "\njvisor " + fromJvisor);
            assertEquals(fromQemu.getFirst().replace("7.2.22", "7.2.0"), fromJvisor.getFirst(), "the banner");
            assertEquals(fromQemu.subList(1, fromQemu.size()), fromJvisor.subList(1, fromJvisor.size()),
                "the same commands' text on QEMU 7.2 and jvisor");

            jvisor.expect(InitScript.READY_LINE);
            List<String> out = session(socket, "info status\nstop\ninfo status\ninfo registers\ncont\ninfo status\n");
            assertEquals("VM status: running\r\n", out.get(1));
            assertEquals("VM status: paused\r\n", out.get(3));
            assertEquals("VM status: running\r\n", out.get(6));
            Matcher rip = Pattern.compile("\r\nRIP=([0-9a-f]{16}) RFL=").matcher(out.get(4));
            assertTrue(rip.find(), out.get(4));
            long value = Long.parseUnsignedLong(rip.group(1), 16);
            assertTrue(value >>> 47 == 0x1FFFF, "a stopped Linux guest is in its kernel (upper half): " + rip.group(1));
            assertTrue(out.get(4).contains("\r\nCS =0010 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]\r\n"), out.get(4));
            // x walks vCPU 0's page tables (the guest running again): the kernel's text where it
            // stopped is mapped, page 0 is not (the format itself was compared with QEMU's by hand)
            List<String> mem = session(socket, "x /2xb 0x" + rip.group(1) + "\nx /4xw 0\n");
            assertTrue(mem.get(1).matches(rip.group(1) + ": 0x[0-9a-f]{2} 0x[0-9a-f]{2}\r\n"), mem.get(1));
            assertEquals("0000000000000000: Cannot access memory\r\n", mem.get(2));

            // the console's monitor: Ctrl-A c, a command, Ctrl-A c back to the guest's shell
            jvisor.send("\u0001c");
            jvisor.expect("QEMU 7.2.0 monitor - type 'help' for more information\r\n(qemu) ");
            jvisor.send("info status\r");
            jvisor.expect("VM status: running\r\n(qemu) ");
            jvisor.send("\u0001c");
            jvisor.send("echo hmp-$((6*7))\r");
            jvisor.expect("hmp-42");

            session(socket, "system_powerdown\n");
            assertEquals(0, jvisor.waitFor(), jvisor.transcript());
            assertTrue(jvisor.stdout().contains(InitScript.POWER_BUTTON_LINE), jvisor.transcript());
        }
    }

    /** Waits until the monitor's socket accepts (the process starts it within its start-up). */
    private static void awaitSocket(Path socket, java.util.function.BooleanSupplier alive) throws Exception {
        for (int i = 0; !Files.exists(socket); i++) {
            assertTrue(alive.getAsBoolean(), "the VMM ended before its monitor listened");
            assertTrue(i < 6000, "no monitor socket " + socket);
            Thread.sleep(50);
        }
    }

    /**
     * Types {@code script} to the monitor through socat and returns the banner, then each
     * command's output, the echo taken out.
     */
    private static List<String> session(Path socket, String script) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(SOCAT.toString(), "-t", "5", "-", "UNIX-CONNECT:" + socket)
            .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(script.getBytes(StandardCharsets.ISO_8859_1));
        }
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "socat ended");
        String[] parts = ECHO.matcher(text).replaceAll("\u0000").split("\u0000", -1);
        List<String> list = new ArrayList<>(Arrays.asList(parts));
        int last = list.size() - 1;
        list.set(last, list.get(last).endsWith("(qemu) ") ? list.get(last).substring(0, list.get(last).length() - 7)
            : list.get(last));
        assertEquals(script.split("\n").length + 1, list.size(), "one answer per line:\n" + text);
        return list;
    }
}
