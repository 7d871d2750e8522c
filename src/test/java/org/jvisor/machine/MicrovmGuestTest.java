package org.jvisor.machine;

import org.jvisor.testing.DemoGuest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.TranslatedToo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The demo guest on {@code -M microvm}: no PCI, virtio devices on virtio-mmio windows that Linux
 * finds only through the DSDT (LNRO0005). One boot covers the block device's data path as the
 * guest drives it: a read of what the host wrote, 16 MiB written and then a clean power-off (the
 * image must hold every byte afterwards), a discard, and virtio-rng next to it.
 */
@GuestTest
@TranslatedToo
class MicrovmGuestTest {
    private static GuestBuilder.Guest guest;

    @BeforeAll
    static void buildGuest() throws IOException {
        guest = DemoGuest.build();
    }

    @Test
    void virtioMmioBlockAndRngThroughTheDsdt(@TempDir Path dir) throws Exception {
        Path disk = dir.resolve("disk.img");
        byte[] image = new byte[64 << 20];
        byte[] sector = new byte[512];
        Arrays.fill(sector, (byte) 0x5A);
        System.arraycopy(sector, 0, image, 7 * 512, 512);
        Arrays.fill(image, 40 << 20, 41 << 20, (byte) 0xC3); // the range the guest discards
        Files.write(disk, image);
        String cmd = String.join("; ",
            "ls /sys/bus/platform/drivers/virtio-mmio",
            "grep -E 'virtio[0-9]' /proc/interrupts",
            "echo pci-devices=$(ls /sys/bus/pci/devices 2>/dev/null | wc -l)",
            "dd if=/dev/vda bs=512 skip=7 count=1 2>/dev/null | md5sum",
            "dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1",
            "dd if=/dev/urandom of=/tmp/pattern bs=1M count=16 2>/dev/null",
            "echo pattern-md5=$(md5sum < /tmp/pattern)",
            "dd if=/tmp/pattern of=/dev/vda bs=1M seek=8 2>/dev/null",
            "echo discard-max=$(cat /sys/block/vda/queue/discard_max_bytes)",
            "blkdiscard -o $((40 << 20)) -l $((1 << 20)) /dev/vda; echo blkdiscard-status=$?");
        var r = JvisorProcess.run(List.of("-accel", "tcg", "-M", "microvm", "-m", "512M", "-nographic", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            "-append", DemoGuest.CONSOLE + " jvisor.cmd=b64:" + Base64.getEncoder().encodeToString(cmd.getBytes(StandardCharsets.US_ASCII)),
            "-drive", "id=d0,file=" + disk + ",format=raw,if=none,discard=unmap", "-device", "virtio-blk-device,drive=d0",
            "-device", "virtio-rng-device").toArray(new String[0]));
        String out = r.stdout();
        assertEquals(0, r.status(), r.toString());
        assertTrue(out.contains("jvisor-guest: command exited with status 0"), r.toString());
        // Found through ACPI (no virtio_mmio.device= on the command line; the kernel lacks that option).
        assertTrue(out.contains("LNRO0005:00") && out.contains("LNRO0005:01"), "both transports probed: " + r);
        assertTrue(out.lines().anyMatch(l -> l.matches("\\s*16:\\s+[1-9]\\d*\\s+IO-APIC\\s+16-fasteoi\\s+virtio0")),
            "virtio0 interrupts on GSI 16: " + r);
        assertTrue(out.contains("pci-devices=0"), "no PCI bus on microvm: " + r);
        String sectorMd5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(sector));
        assertTrue(out.contains(sectorMd5 + "  -"), "the guest read the host's sector: " + r);
        assertEquals(1, out.lines().filter(l -> l.matches("( [0-9a-f]{2}){16}")).count(), "entropy: " + r);
        assertTrue(out.contains("discard-max=") && !out.contains("discard-max=0\n"), r.toString());
        assertTrue(out.contains("blkdiscard-status=0"), r.toString());

        // Every byte the guest wrote before its clean shutdown is in the image.
        Matcher m = Pattern.compile("pattern-md5=([0-9a-f]{32})").matcher(out);
        assertTrue(m.find(), r.toString());
        byte[] after = Files.readAllBytes(disk);
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        md5.update(after, 8 << 20, 16 << 20);
        assertEquals(m.group(1), HexFormat.of().formatHex(md5.digest()), "the 16 MiB written at 8 MiB: " + r);
        assertEquals(image.length, after.length, "the image keeps its size");
        // A discarded range reads back as zeros here (the raw backend punches a hole); the rest is untouched.
        byte[] discarded = Arrays.copyOfRange(after, 40 << 20, 41 << 20);
        assertTrue(allZero(discarded), "the discarded MiB is a hole now");
        assertEquals((byte) 0x5A, after[7 * 512], "data outside the writes is untouched");
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }
}
