package org.jvisor.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.RequiredTools;
import org.jvisor.testing.SerialConsole;

/**
 * A Debian 12 disk image made by the distribution's own tools ({@link DistroImageBuilder}:
 * debootstrap, initramfs-tools, sysvinit, GRUB; qcow2 by qemu-img) boots as a user's cloud image
 * does, with the command line of issue 12 ({@code -m 1G -drive file=disk.qcow2,if=virtio
 * -nographic}: the format probed, the image written in place): SeaBIOS boots GRUB from the virtio
 * disk's MBR, GRUB loads Debian's kernel and initramfs-tools' initrd from ext4, the initrd finds
 * the root file system by UUID, sysvinit runs Debian's rc scripts and agetty logs root in on
 * ttyS0. A command runs, and {@code poweroff} (sysvinit's halt) ends the VMM with status 0. jvisor
 * boots a copy of the image, which its qcow2 writer changes as Debian boots (the root file system
 * is mounted read-write, logs and the random seed are written); {@code qemu-img check} then finds
 * the copy clean, leaks included. QEMU 7.2 TCG boots the shared image with the same options (under
 * {@code -snapshot}, so the image stays as built) as the reference, and the time to the login is
 * printed for both (BENCHMARKS.md has them from {@code bench/firmware-boot.sh 1 debian}). Both add
 * virtio-rng, as cloud images are run: without it the boot waits about 40 s for the kernel's
 * entropy. jvisor's {@code -snapshot} is checked with a guest by {@code Qcow2GuestTest}.
 */
@GuestTest
class DistroImageBootTest {
    private static final Duration BOOT = Duration.ofMinutes(10); // a hang guard only
    private static final String COMMAND = "cat /etc/debian_version; uname -r; grep ' / ' /proc/mounts; "
        + "echo answer-$((6 * 7))";

    static DistroImageBuilder.DistroImage image;

    @BeforeAll
    static void buildImage() throws IOException {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try {
            image = DistroImageBuilder.cached(GuestBuilder.defaultCacheDir(), new PrintStream(log, true, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IOException("building the Debian image failed: " + e.getMessage() + "\n" + log, e);
        }
    }

    /** Boots to the automatic login, runs {@link #COMMAND}, powers off; returns the exit status. */
    private static int bootRunAndPowerOff(SerialConsole c, String vmm) throws Exception {
        long t0 = System.nanoTime();
        int at = c.await("Booting from Hard Disk", 0, BOOT);
        at = c.await("Booting `Debian GNU/Linux, with Linux " + image.kernelRelease(), at, BOOT);
        at = c.await("Loading, please wait...", at, BOOT);               // initramfs-tools' init
        at = c.await("INIT: version", at, BOOT);                          // sysvinit on the root file system
        at = c.await(DistroImageBuilder.HOSTNAME + " login: root (automatic login)", at, BOOT);
        at = c.await(DistroImageBuilder.PROMPT, at, BOOT);
        System.out.printf("%s: Debian image from start to root's prompt in %.1f s%n", vmm, (System.nanoTime() - t0) / 1e9);
        c.type(COMMAND);
        at = c.await(image.debianVersion(), at, BOOT);
        at = c.await(image.kernelRelease(), at, BOOT);
        at = c.await("/dev/vda1 / ext4 rw", at, BOOT);                   // remounted rw by Debian's checkroot
        at = c.await("answer-42", at, BOOT);
        c.await(DistroImageBuilder.PROMPT, at, BOOT);
        c.type("poweroff");
        return c.awaitExit(BOOT);
    }

    private static String sha256(Path file) throws Exception {
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        try (var in = new java.security.DigestInputStream(Files.newInputStream(file), md)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return java.util.HexFormat.of().formatHex(md.digest());
    }

    /** Issue 12's command line for {@code disk}, with virtio-rng (see the class comment). */
    private static List<String> issueCommandLine(Path disk) {
        return List.of("-m", "1G", "-drive", "file=" + disk + ",if=virtio", "-nographic", "-device", "virtio-rng-pci");
    }

    /** {@code qemu-img check} of {@code disk}: no errors and no leaked clusters. */
    private static void assertClean(Path disk) throws Exception {
        Process check = new ProcessBuilder("qemu-img", "check", disk.toString()).redirectErrorStream(true).start();
        String out = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, check.waitFor(), "qemu-img check " + disk + " (status 3: leaked clusters):\n" + out);
        assertTrue(out.contains("No errors were found on the image."), out);
    }

    /**
     * jvisor's boot, with QEMU's reference boot of the same image run beside it: on CI's two
     * cores the two processes overlap (QEMU's TCG is one thread), which saves most of QEMU's
     * half-minute; the times printed are then each VMM's while sharing the host.
     */
    @Test
    void jvisorBootsDebianThroughSeabiosGrubAndInitramfsToolsAsQemuDoes(@TempDir Path dir) throws Exception {
        Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
        RequiredTools.assume(Files.isExecutable(qemu), "qemu-system-x86_64 not installed (Debian qemu-system-x86): no reference run");
        String shared = sha256(image.image());
        CompletableFuture<Void> reference = CompletableFuture.runAsync(() -> {
            List<String> cmd = new ArrayList<>(List.of(qemu.toString(), "-accel", "tcg", "-snapshot"));
            cmd.addAll(issueCommandLine(image.image()));
            try (SerialConsole c = SerialConsole.start("qemu", cmd)) {
                assertEquals(0, bootRunAndPowerOff(c, "qemu"), c.output());
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        }, runnable -> Thread.ofPlatform().name("qemu reference boot").start(runnable));

        Path disk = dir.resolve("disk.qcow2");
        Files.copy(image.image(), disk);
        String before = sha256(disk);
        try (SerialConsole c = SerialConsole.jvisor(issueCommandLine(disk).toArray(new String[0]))) {
            assertEquals(0, bootRunAndPowerOff(c, "jvisor"), c.output());
            assertTrue(!c.output().contains("probing guessed raw"), "probed as qcow2: " + c.output());
        }
        assertTrue(!before.equals(sha256(disk)), "the boot wrote nothing to the image: was it opened read-only?");
        assertClean(disk);

        try {
            reference.get();    // SerialConsole's own hang guard (BOOT) bounds the wait
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() instanceof CompletionException ce ? ce.getCause() : e.getCause();
            throw new AssertionError("QEMU 7.2's boot of the same image: " + cause.getMessage(), cause);
        }
        assertEquals(shared, sha256(image.image()), "QEMU's -snapshot wrote to the shared image");
    }
}
