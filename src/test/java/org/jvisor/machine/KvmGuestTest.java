package org.jvisor.machine;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Test guests on the kvm engine, through the real command line. */
@GuestTest
class KvmGuestTest {
    private static final String DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04";

    @BeforeEach
    void needKvm() {
        KvmAvailability.assumeKvm();
    }

    @Test
    void helloPrintsOnCom1AndExitsThroughIsaDebugExit() throws Exception {
        var r = JvisorProcess.run("-accel", "kvm", "-nographic", "-device", DEBUG_EXIT,
            "-kernel", JvisorProcess.guest("hello.elf").toString());
        assertEquals("Hello from a jvisor test guest\n", r.stdout(), r.toString());
        assertEquals((0x10 << 1) | 1, r.status(), r.toString());
    }

    @Test
    void tripleFaultWithNoRebootEndsWithStatusZeroAndSaysSo() throws Exception {
        var r = JvisorProcess.run("-accel", "kvm", "-no-reboot", "-device", DEBUG_EXIT, "-d", "guest_errors",
            "-kernel", JvisorProcess.guest("triplefault.elf").toString());
        assertEquals(0, r.status(), r.toString());
        assertEquals("boot 1: triple fault next\n", r.stdout(), r.toString());
        assertTrue(r.stderr().contains("triple fault"), r.toString());
        assertTrue(r.stderr().contains("-no-reboot"), r.toString());
        assertTrue(r.stderr().contains("RIP="), "guest_errors adds the registers: " + r);
    }

    @Test
    void tripleFaultWithoutNoRebootResetsTheMachine() throws Exception {
        var r = JvisorProcess.run("-accel", "kvm", "-device", DEBUG_EXIT,
            "-kernel", JvisorProcess.guest("triplefault.elf").toString());
        assertEquals("boot 1: triple fault next\nboot 2: after reset\n", r.stdout(), r.toString());
        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stderr().contains("resetting"), r.toString());
    }

    @Test
    void serialToAFileAndExitTrace(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        var out = dir.resolve("com1.txt");
        var r = JvisorProcess.run("-accel", "kvm", "-serial", "file:" + out, "-trace", "exits", "-device", DEBUG_EXIT,
            "-kernel", JvisorProcess.guest("hello.elf").toString());
        assertEquals(33, r.status(), r.toString());
        assertEquals("", r.stdout());
        assertEquals("Hello from a jvisor test guest\n", java.nio.file.Files.readString(out));
        assertTrue(r.stderr().contains("io_out"), r.toString());
        assertTrue(r.stderr().contains("serial0 (16550A)"), r.toString());
        assertTrue(r.stderr().contains("isa-debug-exit"), r.toString());
    }

    @Test
    void smpStartsWithApplicationProcessorsWaitingForSipi() throws Exception {
        var r = JvisorProcess.run("-accel", "kvm", "-smp", "2", "-nographic", "-device", DEBUG_EXIT,
            "-kernel", JvisorProcess.guest("hello.elf").toString());
        assertEquals(33, r.status(), r.toString());
        assertFalse(r.stderr().contains("Exception"), r.toString());
    }
}
