package org.jvisor.guest;

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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The disk image {@link DiskImageBuilder} makes boots as a distribution's disk does, from IDE:
 * SeaBIOS finds the disk on the PIIX3's primary channel, GRUB's boot.img and core.img load GRUB
 * through INT 13h, which reads grub.cfg, the kernel and the initrd from ext4 and boots Linux; the
 * initrd mounts the root file system by UUID and busybox init logs root in on ttyS0. A command
 * typed at the prompt runs and {@code poweroff} ends the VMM with status 0. On jvisor (tcg; on q35
 * after a {@code reboot}, which runs SeaBIOS again from a reset machine) and, as the reference, on
 * QEMU 7.2 TCG with the same options, run beside jvisor's boot (under {@code -snapshot}). The boot from virtio, through the same firmware and GRUB, is
 * {@link DistroImageBootTest}'s, with the distribution's own initrd and init.
 */
@GuestTest
class DiskImageBootTest {
    private static final Duration BOOT = Duration.ofMinutes(5); // a hang guard only
    /** What Linux says of the Q35's ECAM as SeaBIOS placed it, on jvisor and QEMU alike. */
    private static final String Q35_MMCONFIG = "PCI: MMCONFIG for domain 0000 [bus 00-ff] at [mem 0xb0000000-0xbfffffff]";
    /** The third GiB of a 3 GiB q35 above 4 GiB, in the firmware's e820 map as Linux prints it. */
    private static final String Q35_HIGH_RAM = "BIOS-e820: [mem 0x0000000100000000-0x000000013fffffff] usable";
    private static final String COMMAND = "uname -r; cat /etc/os-release; echo answer-$((6 * 7))";

    @TempDir
    static Path dir;
    static DiskImageBuilder.DiskImage disk;

    @BeforeAll
    static void buildImage() throws IOException {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try {
            disk = DiskImageBuilder.build(dir.resolve("disk.img"), GuestBuilder.defaultCacheDir(),
                new PrintStream(log, true, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IOException("building the disk image failed: " + e.getMessage() + "\n" + log, e);
        }
    }

    /**
     * Boots to the prompt with the root file system on {@code root}, runs {@link #COMMAND}, powers
     * off: the VMM's exit status. With {@code rebootFirst}, {@code reboot} comes before: the machine
     * resets, and firmware, GRUB and Linux run again.
     */
    private static int bootRunAndPowerOff(SerialConsole c, boolean rebootFirst, String root) throws Exception {
        int at = 0;
        if (rebootFirst) {
            at = c.await(DiskImageFiles.PROMPT, 0, BOOT);
            c.type("reboot");
            at = c.await("reboot: Restarting system", at, BOOT);
        }
        at = c.await("Booting from Hard Disk", at, BOOT);
        // GRUB's banner is drawn with cursor escapes between its words on some runs (and SeaBIOS
        // sends a character only once the next arrives): GRUB is shown by what it boots
        at = c.await("Booting `Debian GNU/Linux kernel", at, BOOT);
        at = c.await("initrd: " + root + " (UUID=" + DiskImageBuilder.ROOT_UUID + ") mounted rw", at, BOOT);
        at = c.await(DiskImageFiles.BOOTED_LINE + " " + root, at, BOOT);
        at = c.await(DiskImageFiles.PROMPT, at, BOOT);
        c.type(COMMAND);
        at = c.await(disk.kernelVersion(), at, BOOT);
        at = c.await("NAME=\"jvisor disk image\"", at, BOOT);
        at = c.await("answer-42", at, BOOT);
        c.await(DiskImageFiles.PROMPT, at, BOOT);
        c.type("poweroff");
        return c.awaitExit(BOOT);
    }

    /**
     * Runs QEMU 7.2's reference boot of {@code qemuArgs} on a thread of its own while the caller's
     * jvisor boot runs (CI's two cores overlap them: QEMU's TCG is one thread), and returns it to
     * be joined after.
     */
    private static CompletableFuture<Void> qemuReference(String root, String... qemuArgs) {
        Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
        RequiredTools.assume(Files.isExecutable(qemu), "qemu-system-x86_64 not installed (Debian qemu-system-x86): no reference run");
        List<String> cmd = new ArrayList<>(List.of(qemu.toString()));
        cmd.addAll(List.of(qemuArgs));
        return CompletableFuture.runAsync(() -> {
            try (SerialConsole c = SerialConsole.start("qemu", cmd)) {
                assertEquals(0, bootRunAndPowerOff(c, false, root), c.output());
                assertReference(c.output(), cmd);
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        }, runnable -> Thread.ofPlatform().name("qemu reference boot").start(runnable));
    }

    /** q35's firmware layout as Linux reports it, on either VMM. */
    private static void assertReference(String output, List<String> cmd) {
        if (cmd.contains("q35")) {
            assertTrue(output.contains(Q35_MMCONFIG), output);
            assertTrue(output.contains(Q35_HIGH_RAM), output);
        }
    }

    private static void join(CompletableFuture<Void> reference) throws InterruptedException {
        try {
            reference.get();    // SerialConsole's own hang guard (BOOT) bounds the wait
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() instanceof CompletionException ce ? ce.getCause() : e.getCause();
            throw new AssertionError("QEMU 7.2's boot of the same disk: " + cause.getMessage(), cause);
        }
    }

    /**
     * The same disk as -hda: SeaBIOS finds it on the PIIX3 IDE channel and boots it through INT 13h
     * (PIO), Linux's ata_piix makes it sda. (A reboot through the firmware is the q35 case's.)
     */
    @Test
    void jvisorBootsTheDiskFromIdeAsQemuDoes(@TempDir Path own) throws Exception {
        String drive = "format=raw,if=ide,index=0";
        CompletableFuture<Void> reference = qemuReference("/dev/sda1", "-accel", "tcg", "-m", "512M", "-nographic", "-snapshot",
            "-drive", "file=" + disk.image() + "," + drive);
        try (SerialConsole c = SerialConsole.jvisor("-accel", "tcg", "-m", "512M", "-nographic",
                "-drive", "file=" + copy(own) + "," + drive)) {
            assertEquals(0, bootRunAndPowerOff(c, false, "/dev/sda1"), c.output());
        }
        join(reference);
    }

    /**
     * The same disk on virtio on the Q35 with 3 GiB: SeaBIOS knows the chipset by the MCH, places
     * the ECAM with PCIEXBAR (0xB0000000) and reaches the virtio-blk function through it, opens the
     * BIOS area with the MCH's PAM registers, times itself with the ICH9's PM timer and boots GRUB
     * from the disk; Linux finds the MMCONFIG window where the MCFG says, and RAM split as QEMU's
     * q35 splits what would reach the ECAM: 2 GiB below 4 GiB, the third above. The reboot runs
     * SeaBIOS on a reset MCH, which has no ECAM until SeaBIOS places it again.
     */
    @Test
    void jvisorBootsTheDiskOnQ35FromVirtioAsQemuDoes(@TempDir Path own) throws Exception {
        String drive = "format=raw,if=virtio";
        CompletableFuture<Void> reference = qemuReference("/dev/vda1", "-accel", "tcg", "-M", "q35", "-m", "3G", "-nographic",
            "-snapshot", "-drive", "file=" + disk.image() + "," + drive);
        try (SerialConsole c = SerialConsole.jvisor("-accel", "tcg", "-M", "q35", "-m", "3G", "-nographic",
                "-drive", "file=" + copy(own) + "," + drive)) {
            assertEquals(0, bootRunAndPowerOff(c, true, "/dev/vda1"), c.output());
            assertReference(c.output(), List.of("q35"));
        }
        join(reference);
    }

    /**
     * A copy of the disk for one jvisor boot, which writes to it (the root file system is mounted
     * read-write) while QEMU's reference boot reads the shared one under -snapshot.
     */
    private static Path copy(Path dir) throws IOException {
        return Files.copy(disk.image(), dir.resolve("disk.img"));
    }
}
