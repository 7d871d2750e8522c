package org.jvisor.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.sys.Credentials;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.JvisorSession;
import org.jvisor.testing.RequiredTools;

/** -run-with / -runas / -chroot in real jvisor processes: the VMM gives up root and its file system view. */
@GuestTest
class RunWithTest {
    @TempDir
    Path jail;

    private static void assumeRoot() {
        RequiredTools.assume(Credentials.effectiveUid() == 0, "dropping privileges needs a test run as root");
    }

    @Test
    void theVmmBecomesNobodyInsideItsChroot() throws Exception {
        assumeRoot();
        Files.setPosixFilePermissions(jail, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        try (JvisorSession s = JvisorSession.start("-accel", "tcg", "-nographic", "-S",
                "-run-with", "user=nobody,chroot=" + jail, "-kernel", JvisorProcess.guest("hello.elf").toString())) {
            s.expectStderr("jvisor: tcg");
            String status = Files.readString(Path.of("/proc/" + s.pid() + "/status"));
            Credentials.User nobody = Credentials.lookup("nobody");
            String ids = nobody.uid() + "\t" + nobody.uid() + "\t" + nobody.uid() + "\t" + nobody.uid();
            assertTrue(status.contains("Uid:\t" + ids), "every uid is nobody's:\n" + status);
            assertTrue(status.contains("Gid:\t" + nobody.gid() + "\t" + nobody.gid()), status);
            assertEquals(jail.toRealPath(), Files.readSymbolicLink(Path.of("/proc/" + s.pid() + "/root")));
            s.terminate();
        }
    }

    @Test
    void aGuestRunsToItsEndWithQemu72sSpelling() throws Exception {
        assumeRoot();
        JvisorProcess.Result r = JvisorProcess.run("-accel", "tcg", "-nographic", "-runas", "65534:65534", "-chroot", jail.toString(),
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", JvisorProcess.guest("hello.elf").toString());
        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stdout().contains("Hello"), r.toString());
    }

    @Test
    void anUnknownUserIsAClearErrorAndNothingRuns() throws Exception {
        JvisorProcess.Result r = JvisorProcess.run("-accel", "tcg", "-nographic", "-run-with", "user=no-such-user-here",
            "-kernel", JvisorProcess.guest("hello.elf").toString());
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.stderr().contains("-run-with: getpwnam(no-such-user-here): no such user"), r.toString());
        assertTrue(!r.stdout().contains("Hello"), "the guest did not run: " + r);
    }
}
