package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * Bad -netdev / virtio-net-pci input through the real command line: one line on stderr naming the
 * netdev, status 1, no stack trace. A -netdev no NIC uses is QEMU's warning, and the guest runs.
 */
@GuestTest
class NetBadInputTest {
    private static String kernel() {
        return JvisorProcess.guest("hello.elf").toString();
    }

    /** Where this user may not use /dev/net/tun (not root), the tap cases cannot be reached. */
    private static void assumeTapPermitted(JvisorProcess.Result r) {
        Assumptions.assumeFalse(r.stderr().contains("no permission") || r.stderr().contains("cannot open /dev/net/tun"),
            "skipped: " + r.stderr().strip());
    }

    private static void assertCleanError(JvisorProcess.Result r, String expected) {
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.stderr().contains(expected), "expected '" + expected + "' in: " + r);
        assertFalse(r.stderr().contains("\tat "), "no stack trace: " + r);
        assertFalse(r.stderr().contains("Exception"), "no exception names: " + r);
    }

    @Test
    void aNameThatIsNotATap() throws Exception {
        var r = JvisorProcess.run("-accel", "tcg", "-nographic", "-kernel", kernel(),
            "-netdev", "tap,id=uplink,ifname=lo,script=no,downscript=no", "-device", "virtio-net-pci,netdev=uplink");
        assumeTapPermitted(r);
        assertCleanError(r, "-netdev tap,id=uplink: cannot attach to tap 'lo': an interface of that name exists but is not a tap");
    }

    @Test
    void anInvalidInterfaceName() throws Exception {
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-nographic", "-kernel", kernel(),
            "-netdev", "tap,id=n0,ifname=bad/name", "-device", "virtio-net-pci,netdev=n0"),
            "-netdev tap,id=n0: ifname=bad/name is not a valid interface name");
    }

    @Test
    void scriptsAndUnknownNetdevs() throws Exception {
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-kernel", kernel(), "-netdev", "tap,id=n0,script=/etc/qemu-ifup"),
            "jvisor does not run scripts");
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-kernel", kernel(), "-device", "virtio-net-pci,netdev=nope"),
            "no -netdev with id=nope");
    }

    @Test
    void aNetdevWithoutANicIsAWarning() throws Exception {
        var r = JvisorProcess.run("-accel", "tcg", "-nographic", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", kernel(), "-netdev", "tap,id=lonely,script=no,downscript=no");
        assumeTapPermitted(r);
        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stderr().contains("warning: netdev lonely has no peer"), r.toString());
    }

    @Test
    void streamPeersThatAreNotThere() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("jvisor-netbad");
        try {
            assertCleanError(JvisorProcess.run("-accel", "tcg", "-nographic", "-kernel", kernel(),
                "-netdev", "stream,id=s,server=off,addr.type=unix,addr.path=" + dir.resolve("none.sock"),
                "-device", "virtio-net-pci,netdev=s"), "-netdev stream,id=s: connect(" + dir.resolve("none.sock"));
            java.nio.file.Files.writeString(dir.resolve("file"), "x");
            assertCleanError(JvisorProcess.run("-accel", "tcg", "-nographic", "-kernel", kernel(),
                "-netdev", "stream,id=s,server=on,addr.type=unix,addr.path=" + dir.resolve("file"),
                "-device", "virtio-net-pci,netdev=s"), "-netdev stream,id=s: addr.path=" + dir.resolve("file") + " exists and is not a socket");
            assertCleanError(JvisorProcess.run("-accel", "tcg", "-nographic", "-kernel", kernel(),
                "-netdev", "stream,id=s,server=off,addr.type=fd,addr.str=77", "-device", "virtio-net-pci,netdev=s"),
                "no such descriptor was passed to jvisor");
        } finally {
            java.nio.file.Files.deleteIfExists(dir.resolve("file"));
            java.nio.file.Files.delete(dir);
        }
    }

    @Test
    void aStreamServerWithoutAPeerRunsTheGuest() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("jvisor-netbad");
        try {
            var r = JvisorProcess.run("-accel", "tcg", "-nographic", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-kernel", kernel(), "-netdev", "stream,id=s,server=on,addr.type=unix,addr.path=" + dir.resolve("s.sock"),
                "-device", "virtio-net-pci,netdev=s");
            assertEquals(33, r.status(), r.toString());
            assertFalse(java.nio.file.Files.exists(dir.resolve("s.sock")), "the socket is removed at the end");
        } finally {
            java.nio.file.Files.delete(dir);
        }
    }
}
