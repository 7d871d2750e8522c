package org.jvisor.api;

import org.jvisor.testing.DemoGuest;

import org.jvisor.testing.GuestTest;
import java.io.IOException;
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
import org.jvisor.testing.ChildJvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's library example, as a user runs it: its Java source cut out of README.md, run by
 * the JDK's source launcher against the org.jvisor module (the packaged jar on the module path, as
 * the README says), booting the demo guest and powering it off with the ACPI power button. And the module's
 * promise: a program sees the API, not the machine's internals.
 */
@GuestTest
class ReadmeExampleTest {
    private static final String BEGIN = "<!-- PowerOff.java: begin -->";
    private static final String END = "<!-- PowerOff.java: end -->";
    private static final long WATCHDOG_MINUTES = 15;

    @Test
    void theReadmeProgramBootsTheDemoGuestAndPowersItOff(@TempDir Path dir) throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        Path source = dir.resolve("PowerOff.java");
        Files.writeString(source, readmeExample());
        assertTrue(Files.isRegularFile(ChildJvm.moduleJar()), "the packaged module: " + ChildJvm.moduleJar());
        Run r = java(dir, List.of("--module-path", ChildJvm.moduleJar().toString(), "--add-modules", "org.jvisor",
            "--enable-native-access=org.jvisor", source.toString(), guest.dir().toString()));
        assertEquals(0, r.status(), r.output());
        String out = r.output();
        int ready = out.indexOf(InitScript.READY_LINE);
        int powerdown = out.indexOf("event: Powerdown[");
        int action = out.indexOf(InitScript.POWER_BUTTON_LINE);
        int off = out.indexOf("reboot: Power down");
        int shutdown = out.indexOf("event: Shutdown[");
        int ended = out.indexOf("ended: VmExit[status=0, cause=GUEST_SHUTDOWN");
        assertTrue(0 < ready && ready < powerdown && powerdown < action && action < off && off < shutdown
            && shutdown < ended, "ready, POWERDOWN, the guest's acpid action, its power-off, SHUTDOWN, the end:\n" + out);
        assertTrue(out.contains("reason=GUEST_SHUTDOWN]"), out);
    }

    /** The module exports the API only: a program that reaches for the machine does not compile. */
    @Test
    void theMachineIsNotVisibleToPrograms(@TempDir Path dir) throws Exception {
        Path source = dir.resolve("Probe.java");
        Files.writeString(source, """
            class Probe {
                org.jvisor.api.RunState state;
                org.jvisor.machine.Machine machine;
            }
            """);
        Path javac = Path.of(System.getProperty("java.home"), "bin", "javac");
        Run r = run(dir, List.of(javac.toString(), "--module-path", ChildJvm.moduleJar().toString(),
            "--add-modules", "org.jvisor", "-d", dir.resolve("out").toString(), source.toString()));
        assertNotEquals(0, r.status(), r.output());
        assertTrue(r.output().contains("package org.jvisor.machine is not visible"), r.output());
        assertTrue(!r.output().contains("org.jvisor.api"), "the API is visible: " + r.output());
    }

    /** The Java block between the README's markers. */
    static String readmeExample() throws IOException {
        String readme = Files.readString(Path.of(System.getProperty("jvisor.root", ".")).resolve("README.md"));
        int begin = readme.indexOf(BEGIN);
        int end = readme.indexOf(END);
        assertTrue(begin >= 0 && end > begin, "README.md has the PowerOff.java markers");
        String block = readme.substring(begin + BEGIN.length(), end).strip();
        assertTrue(block.startsWith("```java\n") && block.endsWith("```"), "a java code block between the markers");
        return block.substring("```java\n".length(), block.length() - 3);
    }

    private record Run(int status, String output) {
    }

    private static Run java(Path dir, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(args);
        return run(dir, cmd);
    }

    /** Runs {@code cmd} in {@code dir}, stdout and stderr together; the watchdog only catches hangs. */
    private static Run run(Path dir, List<String> cmd) throws IOException, InterruptedException {
        Path log = dir.resolve("output.txt");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
            .redirectOutput(log.toFile()).start();
        if (!p.waitFor(WATCHDOG_MINUTES, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("watchdog: " + cmd + " did not end\n" + Files.readString(log, StandardCharsets.ISO_8859_1));
        }
        return new Run(p.exitValue(), Files.readString(log, StandardCharsets.ISO_8859_1));
    }
}
