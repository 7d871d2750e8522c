package org.jvisor.machine;

import org.jvisor.testing.DemoGuest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.sys.Credentials;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.RequiredTools;

/**
 * The image's file system fills up under the guest (issue 16): a sparse 16 MiB image on a 2 MiB
 * tmpfs. The guest's writes past the space get an I/O error (VIRTIO_BLK_S_IOERR, which Linux
 * reports as such), jvisor names the cause once per request, and guest and VMM go on: the guest
 * powers off normally.
 */
@GuestTest
class DiskFullTest {
    @TempDir
    Path dir;

    private static int sh(String... cmd) throws IOException, InterruptedException {
        return new ProcessBuilder(cmd).inheritIO().start().waitFor();
    }

    @Test
    void aFullHostFileSystemIsAnIoErrorForTheGuestNotADeadVmm() throws Exception {
        RequiredTools.assume(Credentials.effectiveUid() == 0, "mounting a small tmpfs needs a test run as root");
        Path mnt = dir.resolve("small");
        java.nio.file.Files.createDirectories(mnt);
        Assumptions.assumeTrue(sh("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt.toString()) == 0, "mount tmpfs");
        try {
            Path image = mnt.resolve("disk.img");
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(16L << 20); // sparse: the space runs out as the guest writes
            }
            GuestBuilder.Guest guest = DemoGuest.build();
            String cmd = "dd if=/dev/zero of=/dev/vda bs=1M count=1 conv=fsync 2>/dev/null; echo first-mib=$?; "
                + "dd if=/dev/urandom of=/dev/vda bs=1M seek=2 count=8 conv=fsync 2>/dev/null; echo dd-status=$?; "
                + "echo still-answering";
            String b64 = Base64.getEncoder().encodeToString(cmd.getBytes(StandardCharsets.US_ASCII));
            JvisorProcess.Result r = JvisorProcess.run(List.of(), null, "-accel", "tcg", "-m", "256M", "-nographic",
                "-no-reboot", "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
                "-append", DemoGuest.CONSOLE + " quiet jvisor.cmd=b64:" + b64,
                "-drive", "file=" + image + ",format=raw,if=virtio");
            assertTrue(r.stdout().contains("first-mib=0"), "writes that fit succeed: " + r);
            assertTrue(r.stdout().lines().anyMatch(l -> l.startsWith("dd-status=") && !l.startsWith("dd-status=0")),
                "the guest's write failed: " + r);
            assertTrue(r.stdout().contains("still-answering"), r.toString());
            assertTrue(r.stderr().contains("I/O error") && r.stderr().contains("No space left on device"), "jvisor says why: " + r);
            assertEquals(0, r.status(), "the guest powered off normally: " + r);
        } finally {
            sh("umount", mnt.toString());
        }
    }
}
