package org.jvisor.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
import org.jvisor.testing.RequiredTools;

/**
 * {@code jvisor vhost-user-blk} as the backend of real frontends booting the demo guest: QEMU 7.2
 * ({@code -device vhost-user-blk-pci} over memfd RAM) and jvisor's own VMM. What the guest writes
 * is in the image file and reads back; when QEMU is killed mid-run the backend serves the next
 * QEMU, which reads what the first wrote; SIGTERM ends the backend and removes its socket.
 */
@GuestTest
class VhostUserBlkBackendGuestTest {
    private static final long IMAGE_SIZE = 16L << 20;
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    /** Hang guards, not performance limits. */
    private static final long GUARD_SECONDS = 300;

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

    /** The backend process on {@code image} at {@code socket}, once it serves. */
    private static JvisorSession backend(Path image, Path socket) throws Exception {
        JvisorSession b = JvisorSession.start("vhost-user-blk", "--socket-path=" + socket,
            "--blockdev=driver=raw,file.driver=file,file.filename=" + image);
        b.expectStderr("serving " + image);
        return b;
    }

    private static String b64(String cmd) {
        return Base64.getEncoder().encodeToString(cmd.getBytes(StandardCharsets.US_ASCII));
    }

    /** QEMU 7.2 on tcg with the guest's disk on the backend at {@code socket}. */
    private static List<String> qemu(GuestBuilder.Guest guest, Path socket, String cmd) {
        return qemu(guest, socket, "", cmd);
    }

    /** As above, {@code chardevOptions} added to the socket chardev (",reconnect=1"). */
    private static List<String> qemu(GuestBuilder.Guest guest, Path socket, String chardevOptions, String cmd) {
        RequiredTools.assume(Files.isExecutable(QEMU), "needs qemu-system-x86_64 (apt-get install qemu-system-x86)");
        return List.of(QEMU.toString(), "-accel", "tcg", "-m", "256M", "-nographic", "-no-reboot", "-nodefaults",
            "-serial", "stdio",
            "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
            "-chardev", "socket,id=c,path=" + socket + chardevOptions, "-device", "vhost-user-blk-pci,chardev=c",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            "-append", DemoGuest.CONSOLE + " quiet jvisor.cmd=b64:" + b64(cmd));
    }

    private static String pattern() {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 64; i++) {
            s.append(String.format("jvisor-pattern-%04d", i));
        }
        return s.toString();
    }

    /** Writes the pattern at sector 2048 with O_SYNC, drops the caches and compares what it reads back. */
    private static final String WRITE_AND_READ_BACK = "cat /sys/block/vda/size; head -c 19 /dev/vda; echo; "
        + "i=0; while [ $i -lt 64 ]; do printf 'jvisor-pattern-%04d' $i; i=$((i+1)); done > /tmp/p; "
        + "dd if=/tmp/p of=/dev/vda bs=512 seek=2048 conv=fsync 2>/dev/null; echo write=$?; "
        + "echo 3 > /proc/sys/vm/drop_caches; "
        + "dd if=/dev/vda bs=512 skip=2048 count=3 2>/dev/null | head -c 1216 | cmp - /tmp/p && echo readback-ok";

    /**
     * Unloads and reloads virtio_blk first: the device is reset (QEMU stops the ring with
     * GET_VRING_BASE) and set up again (SET_FEATURES, SET_MEM_TABLE, the rings) on one connection.
     */
    private static final String RELOAD_DRIVER = "head -c 5 /dev/vda >/dev/null; rmmod virtio_blk && modprobe virtio_blk "
        + "&& echo reloaded; i=0; while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; ";

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

    private static void checkWriteAndReadBack(String stdout, Path image, String transcript) throws Exception {
        assertTrue(stdout.contains(Long.toString(IMAGE_SIZE / 512)), "the capacity comes from jvisor's backend: " + transcript);
        assertTrue(printed(stdout, "MAGIC-FROM-THE-HOST"), "the guest reads what the host wrote: " + transcript);
        assertTrue(printed(stdout, "write=0") && printed(stdout, "readback-ok"), transcript);
        assertEquals(pattern(), sector(image, 2048, pattern().length()), "the bytes reached the image file");
    }

    @Test
    void qemuBootsAGuestThatReadsAndWritesThroughJvisorsBackend() throws Exception {
        Path image = image();
        Path socket = dir.resolve("vu.sock");
        GuestBuilder.Guest guest = DemoGuest.build();
        try (JvisorSession backend = backend(image, socket);
             JvisorSession qemu = JvisorSession.startProgram(qemu(guest, socket, RELOAD_DRIVER + WRITE_AND_READ_BACK))) {
            assertEquals(0, qemu.waitFor(GUARD_SECONDS), qemu.transcript());
            assertTrue(printed(qemu.stdout(), "reloaded"), qemu.transcript());
            checkWriteAndReadBack(qemu.stdout(), image, qemu.transcript() + "\n" + backend.transcript());
            backend.expectStderr("frontend 1 on " + socket + ": disconnected; waiting for the next frontend");
            backend.terminate();
            assertEquals(143, backend.waitFor(GUARD_SECONDS), "SIGTERM ends it: " + backend.transcript());
            assertFalse(Files.exists(socket), "and removes the socket");
        }
    }

    @Test
    void jvisorsVmmBootsAGuestThatReadsAndWritesThroughJvisorsBackend() throws Exception {
        Path image = image();
        Path socket = dir.resolve("vu.sock");
        GuestBuilder.Guest guest = DemoGuest.build();
        try (JvisorSession backend = backend(image, socket)) {
            JvisorProcess.Result r = JvisorProcess.run("-accel", "tcg", "-m", "256M", "-nographic", "-no-reboot",
                "-object", "memory-backend-memfd,id=mem,size=256M", "-machine", "memory-backend=mem",
                "-chardev", "socket,id=vu0,path=" + socket, "-device", "vhost-user-blk-pci,chardev=vu0",
                "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
                "-append", DemoGuest.CONSOLE + " quiet jvisor.cmd=b64:" + b64(WRITE_AND_READ_BACK));
            assertEquals(0, r.status(), r.toString());
            checkWriteAndReadBack(r.stdout(), image, r + "\n" + backend.transcript());
            backend.expectStderr("disconnected; waiting for the next frontend");
        }
    }

    @Test
    void aQemuKilledMidRunIsFollowedByTheNextOne() throws Exception {
        Path image = image();
        Path socket = dir.resolve("vu.sock");
        GuestBuilder.Guest guest = DemoGuest.build();
        String rounds = "i=0; while [ $i -lt 1000 ]; do "
            + "printf 'round-%03d' $i | dd of=/dev/vda bs=512 seek=$((100+i)) conv=fsync 2>/dev/null || echo write-failed; "
            + "echo done-$i; i=$((i+1)); done";
        try (JvisorSession backend = backend(image, socket)) {
            String firstRun;
            try (JvisorSession first = JvisorSession.startProgram(qemu(guest, socket, rounds))) {
                first.expect("\ndone-5");
                first.kill(); // mid-run: requests in flight, rings running, no GET_VRING_BASE
                first.waitFor(GUARD_SECONDS);
                firstRun = first.transcript();
                assertFalse(printed(first.stdout(), "write-failed"), firstRun);
            }
            backend.expectStderr("frontend 1 on " + socket + ": disconnected; waiting for the next frontend");
            List<String> done = new ArrayList<>();
            String readBack = "i=0; while [ $i -lt 6 ]; do echo got-$(dd if=/dev/vda bs=512 skip=$((100+i)) count=1 "
                + "2>/dev/null | head -c 9); i=$((i+1)); done";
            try (JvisorSession second = JvisorSession.startProgram(qemu(guest, socket, readBack))) {
                assertEquals(0, second.waitFor(GUARD_SECONDS), second.transcript());
                for (int i = 0; i < 6; i++) {
                    String want = String.format("round-%03d", i);
                    if (printed(second.stdout(), "got-" + want) && sector(image, 100 + i, 9).equals(want)) {
                        done.add(want);
                    }
                }
                assertEquals(6, done.size(), "the second QEMU reads what the first wrote: " + firstRun + "\n" + second.transcript()
                    + "\n" + backend.transcript());
            }
            backend.expectStderr("frontend 2 on " + socket + ": disconnected");
            assertTrue(backend.isAlive(), backend.transcript());
        }
    }

    @Test
    void qemuReconnectsToABackendKilledMidRunAndTheGuestsIoGoesOn() throws Exception {
        Path image = image();
        Path socket = dir.resolve("vu.sock");
        GuestBuilder.Guest guest = DemoGuest.build();
        String cmd = "i=0; while [ $i -lt 10 ]; do "
            + "printf 'round-%02d' $i | dd of=/dev/vda bs=512 seek=$((100+i)) conv=fsync 2>/dev/null || echo write-failed-$i; "
            + "echo 3 > /proc/sys/vm/drop_caches; "
            + "echo got-$(dd if=/dev/vda bs=512 skip=$((100+i)) count=1 2>/dev/null | head -c 8); "
            + "sleep 1; i=$((i+1)); done; echo all-rounds-done";
        JvisorSession first = backend(image, socket);
        try (JvisorSession qemu = JvisorSession.startProgram(qemu(guest, socket, ",reconnect=1", cmd))) {
            try {
                qemu.expect("\ngot-round-02");
                first.kill(); // SIGKILL: no GET_VRING_BASE reply, rings running, the socket left behind
                first.waitFor(GUARD_SECONDS);
            } finally {
                first.close();
            }
            Thread.sleep(2000); // the guest keeps writing meanwhile: its requests wait for the backend
            try (JvisorSession second = backend(image, socket)) {
                second.expectStderr("frontend 1 on " + socket + ": connected");
                qemu.expect("\nall-rounds-done");
                assertEquals(0, qemu.waitFor(GUARD_SECONDS), qemu.transcript());
                List<String> missing = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    String want = String.format("round-%02d", i);
                    if (!printed(qemu.stdout(), "got-" + want) || !sector(image, 100 + i, 8).equals(want)) {
                        missing.add(want);
                    }
                }
                assertTrue(missing.isEmpty(), "rounds lost: " + missing + "\n" + qemu.transcript() + "\n" + second.transcript());
                assertFalse(qemu.stdout().lines().anyMatch(l -> l.startsWith("write-failed")), qemu.transcript());
            }
        }
    }
}
