package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.RequiredTools;

/**
 * virtio-fs against QEMU's virtiofsd (qemu-system-common's /usr/lib/qemu/virtiofsd): the guest
 * mounts a host directory by its tag, reads a file the host wrote and writes one the host then reads.
 */
@GuestTest
class VhostUserFsGuestTest {
    private static final Path VIRTIOFSD = Path.of("/usr/lib/qemu/virtiofsd");

    @TempDir
    Path dir;

    @Test
    void theGuestMountsAHostDirectoryThroughVirtiofsd() throws Exception {
        RequiredTools.assume(Files.isExecutable(VIRTIOFSD), "needs /usr/lib/qemu/virtiofsd (apt-get install qemu-system-common)");
        Path shared = Files.createDirectories(dir.resolve("shared"));
        Files.writeString(shared.resolve("from-host.txt"), "written by the host\n");
        Path socket = dir.resolve("fs.sock");
        Process virtiofsd = new ProcessBuilder(VIRTIOFSD.toString(), "--socket-path=" + socket, "-o", "source=" + shared,
            "-o", "cache=none", "-o", "sandbox=chroot").redirectErrorStream(true)
            .redirectOutput(dir.resolve("virtiofsd.log").toFile()).start();
        try {
            for (int i = 0; i < 500 && !Files.exists(socket); i++) {
                Thread.sleep(20);
            }
            assertTrue(Files.exists(socket), "virtiofsd made its socket: " + Files.readString(dir.resolve("virtiofsd.log")));
            GuestBuilder.Guest guest = DemoGuest.withModules(dir, List.of("virtiofs"));
            String cmd = "mkdir -p /mnt/host && mount -t virtiofs hostdir /mnt/host && echo mounted; "
                + "cat /mnt/host/from-host.txt; echo written by the guest > /mnt/host/from-guest.txt; sync; "
                + "ls /mnt/host; umount /mnt/host && echo unmounted";
            String b64 = Base64.getEncoder().encodeToString(cmd.getBytes(StandardCharsets.US_ASCII));
            JvisorProcess.Result r = JvisorProcess.run("-accel", "tcg", "-m", "256M", "-nographic", "-no-reboot",
                "-object", "memory-backend-memfd,id=mem,size=256M", "-machine", "memory-backend=mem",
                "-chardev", "socket,id=fs0,path=" + socket, "-device", "vhost-user-fs-pci,chardev=fs0,tag=hostdir",
                "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
                "-append", DemoGuest.CONSOLE + " quiet jvisor.cmd=b64:" + b64);
            assertEquals(0, r.status(), r.toString());
            assertTrue(r.stdout().lines().anyMatch(l -> l.strip().equals("mounted")), r.toString());
            assertTrue(r.stdout().lines().anyMatch(l -> l.strip().equals("written by the host")), r.toString());
            assertTrue(r.stdout().lines().anyMatch(l -> l.strip().equals("unmounted")), r.toString());
            assertEquals("written by the guest\n", Files.readString(shared.resolve("from-guest.txt")));
        } finally {
            virtiofsd.destroy();
            virtiofsd.waitFor();
        }
    }
}
