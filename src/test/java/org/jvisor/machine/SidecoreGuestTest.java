package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * Sidecore polling on tcg: the demo guest reads its disk 4 KiB at a time with O_DIRECT (one
 * request in flight, as {@code dd iflag=direct bs=4k} does). Served on the vCPU path (samecore:
 * the request runs on the vCPU thread inside its notify write) every request costs a notify
 * write to the device (an MMIO exit); served by an -object iothread
 * that polls, the guest finds notifications suppressed and hardly ever exits to notify. The bytes
 * read are the image's either way. -trace exits reports the notifications the guest wrote per
 * device, and the MMIO exits of its registers (which also hold virtio-mmio's interrupt status).
 */
@GuestTest
class SidecoreGuestTest {
    private static final int REQUESTS = 1000;
    /** Long enough for a tcg guest to complete a request and submit the next (tens of µs on kvm). */
    private static final String POLLING = "iothread,id=io0,poll-max-ns=20000000";
    private static GuestBuilder.Guest guest;

    @TempDir
    static Path dir;
    private static Path image;
    private static String expectedMd5;

    @BeforeAll
    static void setUp() throws Exception {
        guest = DemoGuest.build();
        byte[] b = new byte[REQUESTS * 4096 + 64 * 1024];
        new Random(11).nextBytes(b);
        image = dir.resolve("disk.img");
        Files.write(image, b);
        expectedMd5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(java.util.Arrays.copyOf(b, REQUESTS * 4096)));
    }

    private static JvisorProcess.Result boot(String machine, String device, String... object) throws IOException, InterruptedException {
        String cmd = "dd if=/dev/vda bs=4k count=" + REQUESTS + " iflag=direct 2>/dev/null | md5sum; poweroff -f";
        List<String> a = new ArrayList<>(List.of("-accel", "tcg", "-M", machine, "-m", "256M", "-nographic", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            "-append", DemoGuest.CONSOLE + " quiet jvisor.cmd=b64:" + Base64.getEncoder().encodeToString(cmd.getBytes(StandardCharsets.US_ASCII)),
            "-drive", "id=d0,file=" + image + ",format=raw,if=none", "-device", device, "-trace", "exits"));
        for (String o : object) {
            a.addAll(List.of("-object", o));
        }
        JvisorProcess.Result r = JvisorProcess.run(a.toArray(String[]::new));
        assertTrue(r.stdout().contains(expectedMd5 + "  -"), "the guest read the image's bytes:\n" + r);
        return r;
    }

    /** The queue notifications the guest wrote to the disk, from the -trace exits report. */
    private static long notifies(JvisorProcess.Result r) {
        return notifyCounts(r)[0];
    }

    /** Of those, the ones served on the vCPU thread that wrote them (samecore), from the report. */
    private static long servedOnVcpu(JvisorProcess.Result r) {
        return notifyCounts(r)[1];
    }

    private static long[] notifyCounts(JvisorProcess.Result r) {
        Matcher m = Pattern.compile("(?m)^virtio-blk0@\\S+\\s+(\\d+)\\s+(\\d+)$").matcher(r.stdout() + r.stderr());
        assertTrue(m.find(), "no virtio-blk0 notification count in the report:\n" + r);
        return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
    }

    /** MMIO exits of the device's registers (PCI BAR or virtio-mmio window), from the report. */
    private static long deviceAccesses(JvisorProcess.Result r, String region) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(region) + "\\s+0x[0-9a-f]+\\s+(\\d+)").matcher(r.stdout() + r.stderr());
        assertTrue(m.find(), "no " + region + " line in the report:\n" + r);
        return Long.parseLong(m.group(1));
    }

    /**
     * Samecore, then polled: the notifies and the device's MMIO exits fall. With {@code unpolledToo}
     * also an iothread that does not poll (poll-max-ns=0), which must not save notifies: what saves
     * them is the polling, not the other thread (one transport shows it; each boot costs seconds).
     */
    private static void assertPollingRemovesNotifies(String machine, String device, String region, boolean unpolledToo)
            throws Exception {
        var samecore = boot(machine, device);
        assertTrue(notifies(samecore) >= REQUESTS, "samecore: a notify per request:\n" + samecore);
        assertEquals(notifies(samecore), servedOnVcpu(samecore),
            "samecore: every notify served on the vCPU thread that wrote it:\n" + samecore);
        long sameExits = deviceAccesses(samecore, region);

        if (unpolledToo) {
            var unpolled = boot(machine, device + ",iothread=io0", "iothread,id=io0,poll-max-ns=0");
            assertTrue(notifies(unpolled) >= REQUESTS, "poll-max-ns=0: a notify per request:\n" + unpolled);
            assertEquals(0, servedOnVcpu(unpolled), "iothread: notifies handed to the iothread:\n" + unpolled);
        }

        var polled = boot(machine, device + ",iothread=io0", POLLING);
        assertEquals(0, servedOnVcpu(polled), "polling iothread: nothing served on the vCPU thread:\n" + polled);
        long n = notifies(polled);
        assertTrue(n < REQUESTS / 4, "polling: " + n + " notifies for " + REQUESTS + " requests:\n" + polled);
        long saved = sameExits - deviceAccesses(polled, region);
        assertTrue(saved >= REQUESTS * 3L / 4, "polling: the device's MMIO exits fell by " + saved + " only:\n" + polled);
    }

    @Test
    void pollingIothreadRemovesNotifyExitsOnVirtioPci() throws Exception {
        assertPollingRemovesNotifies("pc", "virtio-blk-pci,drive=d0", "00:01.0 virtio", true);
    }

    @Test
    void pollingIothreadRemovesNotifyExitsOnVirtioMmio() throws Exception {
        assertPollingRemovesNotifies("microvm", "virtio-blk-device,drive=d0", "virtio-blk0 (virtio-mmio)", false);
    }
}
