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

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.SerialConsole;

/**
 * A Debian 12 disk image made by the distribution's own tools ({@link DistroImageBuilder}:
 * debootstrap, initramfs-tools, sysvinit, GRUB; qcow2 by qemu-img) boots as a user's cloud image
 * does, with QEMU's usual command line: SeaBIOS boots GRUB from the virtio disk's MBR, GRUB loads
 * Debian's kernel and initramfs-tools' initrd from ext4, the initrd finds the root file system by
 * UUID, sysvinit runs Debian's rc scripts and agetty logs root in on ttyS0 (with virtio-rng, as
 * cloud images are run: without it the boot waits about 40 s for the kernel's entropy). A command runs, and
 * {@code poweroff} (sysvinit's halt) ends the VMM with status 0. {@code -snapshot} keeps the
 * shared image as it was, which {@code qemu-img check} and its unchanged bytes show. The time
 * to the login is printed; the same boot on QEMU 7.2 TCG beside jvisor's, the reference for
 * BENCHMARKS.md, is {@code bench/firmware-boot.sh 1 debian} (it was a second test here, 35-47 s
 * of every CI run for a figure the benchmark measures better).
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

    private static void assertImageUntouched(String before) throws Exception {
        assertEquals(before, sha256(image.image()), "-snapshot wrote to the image");
        Process check = new ProcessBuilder("qemu-img", "check", image.image().toString()).redirectErrorStream(true).start();
        String out = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, check.waitFor(), out);
        assertTrue(out.contains("No errors were found on the image."), out);
    }

    @Test
    void jvisorBootsDebianThroughSeabiosGrubAndInitramfsTools() throws Exception {
        String before = sha256(image.image());
        try (SerialConsole c = SerialConsole.jvisor("-accel", "tcg", "-m", "512M", "-nographic", "-snapshot",
                "-drive", "file=" + image.image() + ",format=qcow2,if=virtio", "-device", "virtio-rng-pci")) {
            assertEquals(0, bootRunAndPowerOff(c, "jvisor"), c.output());
        }
        assertImageUntouched(before);
    }
}
