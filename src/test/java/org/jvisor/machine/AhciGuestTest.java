package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitramfsBuilder;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * Linux on q35's AHCI: Debian's generic kernel (the cloud kernel has no AHCI driver) with the demo
 * initramfs's power button and ATA modules plus {@code ahci}; a raw disk (-hda, port 0) and a
 * qcow2 disk (if=ide,index=1, port 1) on the built-in controller at 00:1f.2, a CD-ROM on port 0
 * of a second one (-device ahci,id=sata1,addr=0x5; Linux probes it first: ata1-6, scsi host0-5).
 * The guest writes a pattern to both disks, reads it back past its page cache and reads the CD;
 * the host then finds the pattern in the images. QEMU 7.2 runs the same command line, and the
 * controllers' and devices' libata lines must match.
 */
@GuestTest
class AhciGuestTest {
    private static final int CD_BLOCKS = 1024;
    private static final Pattern MD5 = Pattern.compile("(\\w+)=([0-9a-f]{32})");

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
        + "dmesg | grep -E 'ahci|ata[0-9]|sr0\\]' | sed 's/^\\[[ 0-9.]*\\] //'; echo ahci-done";

    private List<String> options(Path raw, Path qcow2, Path cd) {
        return new ArrayList<>(List.of("-M", "q35", "-accel", "tcg", "-m", "256M", "-nographic", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            // cryptomgr.notests: the generic kernel's crypto self-tests take seconds on tcg
            "-append", "console=ttyS0 quiet cryptomgr.notests jvisor.cmd=b64:"
                + Base64.getEncoder().encodeToString(COMMAND.getBytes(StandardCharsets.US_ASCII)),
            "-hda", raw.toString(), "-drive", "file=" + qcow2 + ",format=qcow2,if=ide,index=1",
            "-device", "ahci,id=sata1,addr=0x5", "-drive", "file=" + cd + ",format=raw,if=none,id=cd,readonly=on",
            "-device", "ide-cd,drive=cd,bus=sata1.0"));
    }

    private static String md5(byte[] b, int from, int length) throws Exception {
        MessageDigest md = MessageDigest.getInstance("MD5");
        md.update(b, from, length);
        return HexFormat.of().formatHex(md.digest());
    }

    private static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "hang guard: " + List.of(cmd));
        assertEquals(0, p.exitValue(), List.of(cmd) + ":\n" + out);
        return out;
    }

    /** The images: a 16 MiB raw disk, a 16 MiB qcow2 disk, a 2 MiB CD of random data. */
    private Path[] images(String tag) throws Exception {
        Path raw = dir.resolve(tag + "-a.raw");
        Files.write(raw, new byte[16 << 20]);
        Path qcow2 = dir.resolve(tag + "-b.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", qcow2.toString(), "16M");
        byte[] cd = new byte[CD_BLOCKS * 2048];
        new Random(7).nextBytes(cd);
        Path iso = dir.resolve(tag + "-cd.iso");
        Files.write(iso, cd);
        return new Path[] {raw, qcow2, iso};
    }

    /** Checks the guest's report and the images; returns the libata lines about the HBA and devices. */
    private List<String> check(String out, Path[] img) throws Exception {
        assertTrue(out.contains("ahci-done"), out);
        Map<String, String> sums = new HashMap<>();
        Matcher m = MD5.matcher(out);
        while (m.find()) {
            sums.put(m.group(1), m.group(2));
        }
        String pattern = sums.get("pattern");
        assertEquals(pattern, sums.get("sda"), "sda read back: " + out);
        assertEquals(pattern, sums.get("sdb"), "sdb read back: " + out);
        byte[] cd = Files.readAllBytes(img[2]);
        assertEquals(md5(cd, 0, cd.length), sums.get("sr0"), "the CD as the guest read it: " + out);
        byte[] raw = Files.readAllBytes(img[0]);
        assertEquals(pattern, md5(raw, 3 << 20, 1 << 20), "the raw image holds the guest's pattern");
        Path converted = dir.resolve("b-" + System.nanoTime() + ".raw");
        run("qemu-img", "check", "-q", img[1].toString());
        run("qemu-img", "convert", "-O", "raw", img[1].toString(), converted.toString());
        assertEquals(pattern, md5(Files.readAllBytes(converted), 5 << 20, 1 << 20), "the qcow2 image holds it");
        // ports probe in parallel: compare the lines, not their order; leave out addresses and IRQs
        return Arrays.stream(out.split("\r?\n")).map(String::strip)
            .filter(l -> l.matches("ata\\d\\.\\d\\d: .*|ata\\d: SATA link .*|ahci \\S+: (AHCI|flags).*|sr \\d.*sr0\\].*"))
            .sorted().toList();
    }

    @Test
    void linuxUsesTheAhciDisksAndCdromAsOnQemu() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img")), "qemu-img not installed (apt-get install qemu-utils)");
        Path[] img = images("jvisor");
        long start = System.nanoTime();
        JvisorProcess.Result r = JvisorProcess.run(options(img[0], img[1], img[2]).toArray(new String[0]));
        System.out.printf("AhciGuestTest: jvisor run %.1f s%n", (System.nanoTime() - start) / 1e9);
        assertEquals(0, r.status(), r.toString());
        List<String> jvisor = check(r.stdout(), img);
        assertTrue(jvisor.contains("ata7.00: ATA-7: QEMU HARDDISK, 2.5+, max UDMA/100"), jvisor.toString());
        assertTrue(jvisor.contains("ata7.00: 32768 sectors, multi 16: LBA48 NCQ (depth 32)"), jvisor.toString());
        assertTrue(jvisor.contains("ata1.00: ATAPI: QEMU DVD-ROM, 2.5+, max UDMA/100"), jvisor.toString());
        assertTrue(jvisor.contains("ahci 0000:00:05.0: flags: 64bit ncq only"), jvisor.toString());

        Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
        assumeTrue(Files.isExecutable(qemu), "qemu-system-x86_64 not installed: no reference run");
        Path[] ref = images("qemu");
        List<String> cmd = new ArrayList<>(List.of(qemu.toString()));
        cmd.addAll(options(ref[0], ref[1], ref[2]));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "hang guard");
        assertEquals(check(out, ref), jvisor, "libata's view of the HBA and devices, QEMU vs jvisor");
    }
}
