package org.jvisor.cli;

import org.jvisor.testing.GuestTest;
import org.junit.jupiter.api.Test;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.JvisorSession;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * -S, -no-shutdown and signals on the command line, with real jvisor processes and the small test
 * guests. Without a monitor (QMP comes later) Ctrl-A x or a signal is the way out, as in QEMU.
 */
@GuestTest
class LifecycleOptionsTest {
    private static final String CTRL_A_X = "\u0001x";

    private static JvisorSession start(String guest, String... options) throws Exception {
        String[] args = new String[options.length + 7];
        System.arraycopy(new String[] {"-accel", "tcg", "-nographic", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", JvisorProcess.guest(guest).toString()}, 0, args, 0, 7);
        System.arraycopy(options, 0, args, 7, options.length);
        return JvisorSession.start(args);
    }

    /** -S: the machine is built and waits; hello.elf, which prints and exits at once, never runs. */
    @Test
    void startPausedRunsNoGuestCode() throws Exception {
        try (JvisorSession s = start("hello.elf", "-S")) {
            s.expectStderr("jvisor: tcg (requested)");    // built: the engine is chosen and said
            Thread.sleep(500);                            // time enough for hello.elf to print, were it running
            s.send(CTRL_A_X);
            assertEquals(0, s.waitFor(), s.transcript());
            assertFalse(s.stdout().contains("Hello"), s.transcript());
        }
    }

    /**
     * -no-reboot makes the guest's reset a shutdown, -no-shutdown keeps the process with the vCPUs
     * stopped instead of exiting: the second boot's PASS never comes.
     */
    @Test
    void noShutdownKeepsTheStoppedMachine() throws Exception {
        try (JvisorSession s = start("triplefault.elf", "-no-reboot", "-no-shutdown")) {
            s.expect("boot 1: triple fault next");
            s.expectStderr("-no-reboot given, stopping (-no-shutdown given)");
            s.send(CTRL_A_X);
            assertEquals(0, s.waitFor(), s.transcript());
            assertFalse(s.stdout().contains("boot 2"), s.transcript());
        }
    }

    /** SIGTERM ends the machine cleanly, as QEMU (reason host-signal): the -trace exits report still comes. */
    @Test
    void sigtermEndsTheMachineCleanly() throws Exception {
        try (JvisorSession s = start("spin.elf", "-trace", "exits")) {
            s.expectStderr("jvisor: tcg (requested)");
            s.terminate();
            s.waitFor();
            assertTrue(s.stderr().contains("== exits (1 vCPU) =="), s.transcript());
        }
    }
}
