package org.jvisor.qmp;

import org.jvisor.testing.DemoGuest;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorSession;
import org.jvisor.testing.RequiredTools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * jvisor's monitor with socat as the client, as people script QEMU: the demo guest powered off
 * through system_powerdown (its acpid acts on the ACPI power button, as a distribution guest's
 * would). The scripted session from prelaunch to quit is QmpQemuComparisonTest's: one script file
 * fed through socat to QEMU 7.2 and to jvisor.
 */
@GuestTest
class QmpSocatTest {
    private static final Path SOCAT = Path.of("/usr/bin/socat");

    private static void assumeSocat() {
        RequiredTools.assume(Files.isExecutable(SOCAT), "socat is not installed (Debian package socat): QMP socat tests skipped");
    }

    private static Process socat(Path socket, String... timeout) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(SOCAT.toString()));
        cmd.addAll(List.of(timeout));
        cmd.addAll(List.of("-", "UNIX-CONNECT:" + socket));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    /**
     * Waits until the monitor accepts connections (the socket file exists from bind(2) on, a
     * moment before jvisor listens): one probe connection, which the monitor serves and ends.
     */
    private static void awaitSocket(Path socket, JvisorSession jvisor) throws Exception {
        QmpClient.connect(socket).close();
        assertTrue(jvisor.isAlive(), jvisor.transcript());
    }

    @Test
    void systemPowerdownPowersTheDemoGuestOff(@TempDir Path dir) throws Exception {
        assumeSocat();
        GuestBuilder.Guest guest = DemoGuest.build();
        Path socket = dir.resolve("qmp.sock");
        try (JvisorSession jvisor = JvisorSession.start("-accel", "tcg", "-m", "512M", "-nographic",
                "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(), "-append", DemoGuest.CONSOLE,
                "-qmp", "unix:" + socket + ",server=on,wait=off")) {
            awaitSocket(socket, jvisor);
            Process p = socat(socket);
            BufferedReader replies = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            OutputStream in = p.getOutputStream();
            assertTrue(replies.readLine().startsWith("{\"QMP\": "));
            in.write("{\"execute\":\"qmp_capabilities\"}\n".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            assertEquals("{\"return\": {}}", replies.readLine());
            jvisor.expect(InitScript.READY_LINE);
            in.write("{\"execute\":\"system_powerdown\"}\n".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            List<String> seen = new ArrayList<>();
            for (String line; (line = replies.readLine()) != null; ) {
                String message = line.replaceAll("\"timestamp\": \\{[^}]*}, ", "");
                if (!message.equals("{\"event\": \"RESUME\"}")) {     // the start, if it came after the negotiation
                    seen.add(message);
                }
            }
            in.close();
            p.waitFor(120, TimeUnit.SECONDS);
            assertEquals(List.of("{\"event\": \"POWERDOWN\"}", "{\"return\": {}}",
                "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}"), seen, jvisor.transcript());
            assertEquals(0, jvisor.waitFor(), jvisor.transcript());
            assertTrue(jvisor.stdout().contains(InitScript.POWER_BUTTON_LINE), jvisor.transcript());
        }
    }
}
