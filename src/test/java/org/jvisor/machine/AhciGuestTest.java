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
import org.jvisor.guest.InitramfsBuilder;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.QemuReference;
import org.jvisor.testing.RequiredTools;

/**
 * Linux on q35's AHCI: Debian's generic kernel (the cloud kernel has no AHCI driver) with the demo
 * initramfs's power button and ATA modules plus {@code ahci}; a raw disk (-hda, port 0) and a
 * qcow2 disk (if=ide,index=1, port 1) on the built-in controller at 00:1f.2, a CD-ROM on port 0
 * of a second one (-device ahci,id=sata1,addr=0x5; Linux probes it first: ata1-6, scsi host0-5).
 * The guest writes a pattern to both disks, reads it back past its page cache and reads the CD;
 * the host then finds the pattern in the images. Both controllers are behind a VT-d unit
 * (-device intel-iommu, iommu.strict=1), as every PCI function the DMAR lists is: the guest
 * gives them IOVAs and unmaps each buffer at once, so data that arrives intact went through the
 * translation. QEMU 7.2 runs the same command line, and the controllers' and devices' libata
 * lines must match.
 */
@GuestTest
class AhciGuestTest {

    @TempDir
    static Path guestDir;

    private static GuestBuilder.Guest guest;

    @TempDir
    Path dir;

    @BeforeAll
    static void setUp() throws IOException {
        // the power button (acpid), sd, sr and ahci, no more: the generic kernel boots slowly on tcg
        guest = DemoGuest.genericKernel(guestDir, java.util.stream.Stream.of(InitramfsBuilder.ACPI_BUTTON_MODULES,
            List.of("sd_mod", "sr_mod"), InitramfsBuilder.AHCI_MODULES).flatMap(List::stream).toList());
    }

    /** The pattern to both disks, read back past the cache, the CD whole, and libata's lines. */
    private static final String COMMAND = ""
        // one SCSI host per AHCI port: 00:05.0's are host0-5, 00:1f.2's port 0 host6, port 1 host7
        + "for b in /sys/block/sd*; do case $(readlink $b) in *host6/*) M=${b##*/};; *host7/*) S=${b##*/};; esac; done; "
        + "echo master=$M slave=$S; "
        + "dd if=/dev/urandom of=/tmp/p bs=64k count=16 2>/dev/null; "
        + "echo pattern=$(md5sum < /tmp/p | cut -c1-32); "
        + "dd if=/tmp/p of=/dev/$M bs=64k seek=48 conv=fsync 2>/dev/null; "
        + "dd if=/tmp/p of=/dev/$S bs=64k seek=80 conv=fsync 2>/dev/null; "
        + "echo 3 > /proc/sys/vm/drop_caches; "
        + "echo sda=$(dd if=/dev/$M bs=64k skip=48 count=16 2>/dev/null | md5sum | cut -c1-32); "
        + "echo sdb=$(dd if=/dev/$S bs=64k skip=80 count=16 2>/dev/null | md5sum | cut -c1-32); "
        + "echo sr0=$(dd if=/dev/sr0 bs=2048 2>/dev/null | md5sum | cut -c1-32); "
        + "dmesg | grep -E 'ahci|ata[0-9]|sr0\\]' | sed 's/^\\[[ 0-9.]*\\] //'; "
        + "dmesg | grep -o 'DMA domain TLB invalidation policy: [a-z]* mode'; "
        + "for f in 05.0 1f.2; do [ -e /sys/bus/pci/devices/0000:00:$f/iommu_group ] && echo iommu-group-$f; done; "
        + "echo ahci-done";

    private List<String> options(Path raw, Path qcow2, Path cd) {
        return new ArrayList<>(List.of("-M", "q35", "-accel", "tcg", "-m", "256M", "-nographic", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            "-append", DemoGuest.CONSOLE + " quiet iommu.strict=1 jvisor.cmd=b64:"
                + Base64.getEncoder().encodeToString(COMMAND.getBytes(StandardCharsets.US_ASCII)),
            "-hda", raw.toString(), "-drive", "file=" + qcow2 + ",format=qcow2,if=ide,index=1",
            "-device", "ahci,id=sata1,addr=0x5", "-drive", "file=" + cd + ",format=raw,if=none,id=cd,readonly=on",
            "-device", "ide-cd,drive=cd,bus=sata1.0", "-device", "intel-iommu"));
    }

    /** Checks the guest's report and the images; returns the libata lines about the HBA and devices. */
    private List<String> check(String out, AtaGuestDisks.Images img) throws Exception {
        assertTrue(out.contains("ahci-done"), out);
        assertTrue(out.contains("DMA domain TLB invalidation policy: strict mode")
            && out.contains("iommu-group-05.0") && out.contains("iommu-group-1f.2"), "both HBAs behind the IOMMU: " + out);
        AtaGuestDisks.checkData(out, img, dir);
        // ports probe in parallel: compare the lines, not their order; leave out addresses and IRQs
        return Arrays.stream(out.split("\r?\n")).map(String::strip)
            .filter(l -> l.matches("ata\\d\\.\\d\\d: .*|ata\\d: SATA link .*|ahci \\S+: (AHCI|flags).*|sr \\d.*sr0\\].*"))
            .sorted().toList();
    }

    @Test
    void linuxUsesTheAhciDisksAndCdromAsOnQemu() throws Exception {
        RequiredTools.assume(Files.isExecutable(Path.of("/usr/bin/qemu-img")), "qemu-img not installed (apt-get install qemu-utils)");
        AtaGuestDisks.Images img = AtaGuestDisks.create(dir, "jvisor");
        long start = System.nanoTime();
        JvisorProcess.Result r = JvisorProcess.run(options(img.raw(), img.qcow2(), img.cd()).toArray(new String[0]));
        System.out.printf("AhciGuestTest: jvisor run %.1f s%n", (System.nanoTime() - start) / 1e9);
        assertEquals(0, r.status(), r.toString());
        List<String> jvisor = check(r.stdout(), img);
        assertTrue(jvisor.contains("ata7.00: ATA-7: QEMU HARDDISK, 2.5+, max UDMA/100"), jvisor.toString());
        assertTrue(jvisor.contains("ata7.00: 32768 sectors, multi 16: LBA48 NCQ (depth 32)"), jvisor.toString());
        assertTrue(jvisor.contains("ata1.00: ATAPI: QEMU DVD-ROM, 2.5+, max UDMA/100"), jvisor.toString());
        assertTrue(jvisor.contains("ahci 0000:00:05.0: flags: 64bit ncq only"), jvisor.toString());

        AtaGuestDisks.Images ref = AtaGuestDisks.create(dir, "qemu");
        String out = QemuReference.run(options(ref.raw(), ref.qcow2(), ref.cd()));
        assertEquals(check(out, ref), jvisor, "libata's view of the HBA and devices, QEMU vs jvisor");
    }
}
