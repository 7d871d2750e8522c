package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.JvisorSession;
import org.jvisor.testing.QemuStorageDaemon;

/**
 * vhost-user-blk against the real peer, Debian's qemu-storage-daemon: the demo guest's second
 * disk is served by the daemon through memfd RAM; what the guest writes is in the image file, and
 * when the daemon is killed and started again (reconnect=1) the guest's I/O goes on. Without
 * reconnect, the guest sees I/O errors and the VMM carries on to a normal power-off.
 */
@GuestTest
class VhostUserBlkGuestTest {
    private static final long IMAGE_SIZE = 16L << 20;

    @TempDir
    Path dir;

    private Path image() throws Exception {
        Path image = dir.resolve("disk.raw");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(IMAGE_SIZE);
            f.write("MAGIC-FROM-THE-HOST".getBytes(StandardCharsets.US_ASCII));
        }
        return image;
    }

    private static String[] args(GuestBuilder.Guest guest, Path socket, String chardevOptions, String cmd) {
        String b64 = Base64.getEncoder().encodeToString(cmd.getBytes(StandardCharsets.US_ASCII));
        return new String[] {"-accel", "tcg", "-m", "256M", "-nographic", "-no-reboot",
            "-object", "memory-backend-memfd,id=mem,size=256M", "-machine", "memory-backend=mem",
            "-chardev", "socket,id=vu0,path=" + socket + chardevOptions,
            "-device", "vhost-user-blk-pci,chardev=vu0",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            "-append", DemoGuest.CONSOLE + " quiet jvisor.cmd=b64:" + b64};
    }

    /** Whether the guest printed {@code line} as a line of its own (the command echoed by init holds the words too). */
    private static boolean printed(String stdout, String line) {
        return stdout.lines().anyMatch(l -> l.strip().equals(line));
    }

    private static String sector(Path image, long sector, int length) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "r")) {
            byte[] b = new byte[length];
            f.seek(sector * 512);
            f.readFully(b);
            return new String(b, StandardCharsets.US_ASCII);
        }
    }

    @Test
    void theGuestReadsAndWritesADiskServedByQemuStorageDaemon() throws Exception {
        Path image = image();
        Path socket = dir.resolve("vu.sock");
        GuestBuilder.Guest guest = DemoGuest.build();
        try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, socket)) {
            String cmd = "cat /sys/block/vda/size; head -c 19 /dev/vda; echo; "
                + "i=0; while [ $i -lt 64 ]; do printf 'jvisor-pattern-%04d' $i; i=$((i+1)); done > /tmp/p; "
                + "dd if=/tmp/p of=/dev/vda bs=512 seek=2048 conv=fsync 2>/dev/null; echo write=$?; "
                + "echo 3 > /proc/sys/vm/drop_caches; "
                + "dd if=/dev/vda bs=512 skip=2048 count=3 2>/dev/null | head -c 1216 | cmp - /tmp/p && echo readback-ok";
            JvisorProcess.Result r = JvisorProcess.run(args(guest, socket, "", cmd));
            assertEquals(0, r.status(), r.toString());
            assertTrue(r.stdout().contains(Long.toString(IMAGE_SIZE / 512)), "the capacity comes from the backend: " + r);
            assertTrue(r.stdout().contains("MAGIC-FROM-THE-HOST"), "the guest reads what the host wrote: " + r);
            assertTrue(printed(r.stdout(), "write=0") && printed(r.stdout(), "readback-ok"), r.toString());
            StringBuilder expected = new StringBuilder();
            for (int i = 0; i < 64; i++) {
                expected.append(String.format("jvisor-pattern-%04d", i));
            }
            assertEquals(expected.toString(), sector(image, 2048, expected.length()), "the bytes reached the image file");
        }
    }

    @Test
    void microvmHasItOnVirtioMmio() throws Exception {
        Path image = image();
        Path socket = dir.resolve("vu.sock");
        GuestBuilder.Guest guest = DemoGuest.build();
        try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, socket)) {
            String[] a = args(guest, socket, "", "head -c 19 /dev/vda; echo");
            String[] args = new String[a.length + 2];
            args[0] = "-M";
            args[1] = "microvm";
            System.arraycopy(a, 0, args, 2, a.length);
            for (int i = 0; i < args.length; i++) {
                if (args[i].equals("vhost-user-blk-pci,chardev=vu0")) {
                    args[i] = "vhost-user-blk-device,chardev=vu0";
                }
            }
            JvisorProcess.Result r = JvisorProcess.run(args);
            assertEquals(0, r.status(), r.toString());
            assertTrue(printed(r.stdout(), "MAGIC-FROM-THE-HOST"), r.toString());
        }
    }

    @Test
    void ioGoesOnWhenTheBackendIsKilledAndComesBack() throws Exception {
        Path image = image();
        Path socket = dir.resolve("vu.sock");
        GuestBuilder.Guest guest = DemoGuest.build();
        String cmd = "i=0; while [ $i -lt 12 ]; do "
            + "printf 'round-%02d' $i | dd of=/dev/vda bs=512 seek=$((100+i)) conv=fsync 2>/dev/null || echo write-failed-$i; "
            + "echo 3 > /proc/sys/vm/drop_caches; "
            + "echo got-$(dd if=/dev/vda bs=512 skip=$((100+i)) count=1 2>/dev/null | head -c 8); "
            + "sleep 1; i=$((i+1)); done; echo all-rounds-done";
        try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, socket);
             JvisorSession vm = JvisorSession.start(args(guest, socket, ",reconnect=1", cmd))) {
            vm.expect("\ngot-round-02");
            qsd.kill();
            vm.expectStderr("the vhost-user backend closed the connection; reconnecting every 1 s");
            Thread.sleep(2000); // the guest keeps writing meanwhile: its requests wait for the backend
            qsd.restart();
            vm.expectStderr("reconnected to the vhost-user backend");
            vm.expect("\nall-rounds-done");
            assertEquals(0, vm.waitFor(120), vm.transcript());
            assertFalse(vm.stdout().lines().anyMatch(l -> l.startsWith("write-failed")), vm.transcript());
            List<String> missing = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                String want = String.format("round-%02d", i);
                if (!printed(vm.stdout(), "got-" + want) || !sector(image, 100 + i, 8).equals(want)) {
                    missing.add(want);
                }
            }
            assertTrue(missing.isEmpty(), "rounds lost: " + missing + "\n" + vm.transcript() + "\n" + qsd.log());
        }
    }

    @Test
    void withoutReconnectALostBackendIsAnIoErrorNotADeadVmm() throws Exception {
        Path image = image();
        Path socket = dir.resolve("vu.sock");
        GuestBuilder.Guest guest = DemoGuest.build();
        String cmd = "echo before | dd of=/dev/vda bs=512 seek=10 conv=fsync 2>/dev/null; echo first=$?; "
            + "while [ ! -e /tmp/never ]; do sleep 1; echo waiting; [ -e /sys/block/vda ] || break; "
            + "dd if=/dev/zero of=/dev/vda bs=512 seek=20 count=1 conv=fsync 2>/dev/null || break; done; "
            + "echo after-loss; "
            + "echo again | dd of=/dev/vda bs=512 seek=30 conv=fsync 2>/dev/null; echo second=$?; echo still-alive";
        try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, socket);
             JvisorSession vm = JvisorSession.start(args(guest, socket, "", cmd))) {
            vm.expect("\nfirst=0");
            vm.expect("\nwaiting");
            qsd.kill();
            vm.expectStderr("fails every request from now on");
            vm.expect("\nafter-loss");
            vm.expect("\nstill-alive");
            assertEquals(0, vm.waitFor(120), "the guest powers off normally: " + vm.transcript());
            assertFalse(printed(vm.stdout(), "second=0"), "writes after the loss fail: " + vm.transcript());
        }
    }
}
