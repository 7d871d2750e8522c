package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.QemuReference;
import org.jvisor.testing.RequiredTools;

/**
 * Linux on the IDE controller: the demo guest with a raw disk (-hda), a qcow2 disk (if=ide,
 * index=1) and a CD-ROM (-cdrom) finds them through ata_piix (sd names by SCSI address) and sr0, uses bus-master
 * DMA, writes a pattern to both disks and reads it back past its page cache, and reads the CD;
 * the host then finds the pattern in the images. QEMU 7.2 runs the same command line, and the
 * libata lines both print for the devices must match.
 */
@GuestTest
class IdeGuestTest {

    private static GuestBuilder.Guest guest;

    @TempDir
    Path dir;

    @BeforeAll
    static void setUp() throws IOException {
        guest = DemoGuest.build();
    }

    /**
     * 1 MiB of random data to sda at 3 MiB and sdb at 5 MiB, synced; the caches dropped and both
     * read back; the CD read whole; the ATA devices' transfer modes; each as NAME=md5 or a line.
     */
    private static final String COMMAND = ""
        // sd names follow probe completion, which races between master and slave: find them by SCSI address
        + "for b in /sys/block/sd*; do case $(readlink $b) in *0:0:0:0*) M=${b##*/};; *0:0:1:0*) S=${b##*/};; esac; done; "
        + "echo master=$M slave=$S; "
        + "dd if=/dev/urandom of=/tmp/p bs=64k count=16 2>/dev/null; "
        + "echo pattern=$(md5sum < /tmp/p | cut -c1-32); "
        + "dd if=/tmp/p of=/dev/$M bs=64k seek=48 conv=fsync 2>/dev/null; "
        + "dd if=/tmp/p of=/dev/$S bs=64k seek=80 conv=fsync 2>/dev/null; "
        + "echo 3 > /proc/sys/vm/drop_caches; "
        + "echo sda=$(dd if=/dev/$M bs=64k skip=48 count=16 2>/dev/null | md5sum | cut -c1-32); "
        + "echo sdb=$(dd if=/dev/$S bs=64k skip=80 count=16 2>/dev/null | md5sum | cut -c1-32); "
        + "echo sr0=$(dd if=/dev/sr0 bs=2048 2>/dev/null | md5sum | cut -c1-32); "
        + "for d in /sys/class/ata_device/*; do echo \"$(basename $d) xfer $(cat $d/xfer_mode)\"; done; "
        + "dmesg | grep -E 'ata[0-9]\\.0[01]: |sr0\\]' | sed 's/^\\[[ 0-9.]*\\] //'; echo ide-done";

    private List<String> options(Path raw, Path qcow2, Path cd) {
        return new ArrayList<>(List.of("-accel", "tcg", "-m", "256M", "-nographic", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            "-append", DemoGuest.CONSOLE + " quiet jvisor.cmd=b64:"
                + Base64.getEncoder().encodeToString(COMMAND.getBytes(StandardCharsets.US_ASCII)),
            "-hda", raw.toString(), "-drive", "file=" + qcow2 + ",format=qcow2,if=ide,index=1", "-cdrom", cd.toString()));
    }

    /** Checks the guest's report and the images; returns the libata lines the guest printed. */
    private List<String> check(String out, AtaGuestDisks.Images img) throws Exception {
        assertTrue(out.contains("ide-done"), out);
        AtaGuestDisks.checkData(out, img, dir);
        assertTrue(out.contains("dev1.0 xfer XFER_MW_DMA_2"), "ata_piix runs the disks with multiword DMA 2: " + out);
        // probing runs per port in parallel: compare the lines, not their order
        return Arrays.stream(out.split("\r?\n")).map(String::strip)
            .filter(l -> l.matches("ata\\d\\.\\d\\d: .*|sr \\d.*sr0\\].*")).sorted().toList();
    }

    @Test
    void linuxUsesTheIdeDisksAndCdromAsOnQemu() throws Exception {
        RequiredTools.assume(Files.isExecutable(Path.of("/usr/bin/qemu-img")), "qemu-img not installed (apt-get install qemu-utils)");
        AtaGuestDisks.Images img = AtaGuestDisks.create(dir, "jvisor");
        JvisorProcess.Result r = JvisorProcess.run(options(img.raw(), img.qcow2(), img.cd()).toArray(new String[0]));
        assertEquals(0, r.status(), r.toString());
        List<String> jvisor = check(r.stdout(), img);
        assertTrue(jvisor.contains("ata1.00: ATA-7: QEMU HARDDISK, 2.5+, max UDMA/100"), jvisor.toString());
        assertTrue(jvisor.contains("ata1.00: 32768 sectors, multi 16: LBA48"), jvisor.toString());
        assertTrue(jvisor.contains("ata2.00: ATAPI: QEMU DVD-ROM, 2.5+, max UDMA/100"), jvisor.toString());

        AtaGuestDisks.Images ref = AtaGuestDisks.create(dir, "qemu");
        String out = QemuReference.run(options(ref.raw(), ref.qcow2(), ref.cd()));
        assertEquals(jvisor, check(out, ref), "libata's view of the devices, jvisor vs QEMU");
    }
}
