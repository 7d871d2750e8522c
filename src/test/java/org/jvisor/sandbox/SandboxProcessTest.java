package org.jvisor.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.jvisor.testing.ChildJvm;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/** -sandbox for real, in child processes: the JVM and a guest keep working; a denied call ends the process. */
@GuestTest
class SandboxProcessTest {
    /** What libvirt passes. */
    private static final String LIBVIRT = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

    @Test
    void spawnDenyKillsTheProcessThatStartsAProcessButNotOneThatStartsAThread() throws Exception {
        String[] denied = run(LIBVIRT);
        assertTrue(denied[1].contains("sandboxed") && denied[1].contains("a new thread runs"), denied[1]);
        assertTrue(!denied[1].contains("started a process"), denied[1]);
        assertEquals(128 + 31, Integer.parseInt(denied[0]), "killed by SIGSYS (SECCOMP_RET_KILL_PROCESS): " + denied[1]);
        // TSYNC: the threads the JVM started before the filter (GC, compilers) carry it too
        assertTrue(denied[1].contains("thread seccomp modes: [2]"), denied[1]);
        assertTrue(denied[1].contains("setpriority: -1 errno 1"), "resourcecontrol=deny refuses with EPERM: " + denied[1]);

        String[] allowed = run("on", "spawn");
        assertTrue(allowed[1].contains("started a process: exit 0"), "spawn is allowed unless denied: " + allowed[1]);
        assertTrue(allowed[1].contains("setpriority: ok"), "resourcecontrol is allowed unless denied: " + allowed[1]);
        assertEquals(0, Integer.parseInt(allowed[0]));
    }

    @Test
    void theDefaultSetKillsOnSyslog() throws Exception {
        String[] denied = run("on", "syslog");
        assertTrue(denied[1].contains("thread seccomp modes: [2]"), denied[1]);
        assertTrue(!denied[1].contains("syslog:"), denied[1]);
        assertEquals(128 + 31, Integer.parseInt(denied[0]), "killed by SIGSYS: " + denied[1]);

        String[] off = run("off", "syslog");
        assertTrue(off[1].contains("syslog: "), "-sandbox off filters nothing: " + off[1]);
        assertEquals(0, Integer.parseInt(off[0]), off[1]);
    }

    private static String[] run(String policy) throws IOException, InterruptedException {
        return run(policy, "spawn");
    }

    private static String[] run(String policy, String action) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>(ChildJvm.command(List.of(), SandboxProbe.class.getName()));
        cmd.add(policy);
        cmd.add(action);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "watchdog");
        return new String[] {Integer.toString(p.exitValue()), new String(out, StandardCharsets.UTF_8)};
    }

    @Test
    void aGuestRunsToItsEndUnderLibvirtsSandbox() throws Exception {
        JvisorProcess.Result r = JvisorProcess.run("-accel", "tcg", "-nographic", "-sandbox", LIBVIRT,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", JvisorProcess.guest("hello.elf").toString());
        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stdout().contains("Hello"), r.toString());
    }

    @Test
    void aBadSandboxValueIsAClearError() throws Exception {
        JvisorProcess.Result r = JvisorProcess.run("-sandbox", "on,spawn=later", "-kernel", "x");
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.stderr().contains("invalid argument for spawn"), r.toString());
    }
}
