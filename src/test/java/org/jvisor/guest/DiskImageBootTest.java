package org.jvisor.guest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

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
 * typed at the prompt runs and {@code poweroff} ends the VMM with status 0. On jvisor (tcg; after
 * a {@code reboot}, which runs SeaBIOS again from a reset machine) and, as the reference, on QEMU
 * 7.2 TCG with the same options. The boot from virtio, through the same firmware and GRUB, is
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
     * The same disk as -hda: SeaBIOS finds it on the PIIX3 IDE channel and boots it through INT 13h
     * (PIO), Linux's ata_piix makes it sda; the reboot runs the IDE reset path and SeaBIOS again.
     */
    @Test
    void jvisorBootsTheDiskFromIde() throws Exception {
        try (SerialConsole c = SerialConsole.jvisor("-accel", "tcg", "-m", "512M", "-nographic",
                "-drive", "file=" + disk.image() + ",format=raw,if=ide,index=0")) {
            assertEquals(0, bootRunAndPowerOff(c, true, "/dev/sda1"), c.output());
        }
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
    void jvisorBootsTheDiskOnQ35FromVirtio() throws Exception {
        try (SerialConsole c = SerialConsole.jvisor("-accel", "tcg", "-M", "q35", "-m", "3G", "-nographic",
                "-drive", "file=" + disk.image() + ",format=raw,if=virtio")) {
            assertEquals(0, bootRunAndPowerOff(c, true, "/dev/vda1"), c.output());
            assertTrue(c.output().contains(Q35_MMCONFIG), c.output());
            assertTrue(c.output().contains(Q35_HIGH_RAM), c.output());
        }
    }

    @Test
    void qemuBootsTheSameDiskOnQ35FromVirtio() throws Exception {
        Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
        RequiredTools.assume(Files.isExecutable(qemu), "qemu-system-x86_64 not installed (Debian qemu-system-x86): no reference run");
        try (SerialConsole c = SerialConsole.start("qemu", List.of(qemu.toString(), "-accel", "tcg", "-M", "q35", "-m", "3G",
                "-nographic", "-drive", "file=" + disk.image() + ",format=raw,if=virtio"))) {
            assertEquals(0, bootRunAndPowerOff(c, false, "/dev/vda1"), c.output());
            assertTrue(c.output().contains(Q35_MMCONFIG), c.output());
            assertTrue(c.output().contains(Q35_HIGH_RAM), c.output());
        }
    }

    @Test
    void qemuBootsTheSameDiskFromIde() throws Exception {
        Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
        RequiredTools.assume(Files.isExecutable(qemu), "qemu-system-x86_64 not installed (Debian qemu-system-x86): no reference run");
        try (SerialConsole c = SerialConsole.start("qemu", List.of(qemu.toString(), "-accel", "tcg", "-m", "512M",
                "-nographic", "-drive", "file=" + disk.image() + ",format=raw,if=ide,index=0"))) {
            assertEquals(0, bootRunAndPowerOff(c, false, "/dev/sda1"), c.output());
        }
    }
}
