package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.RequiredTools;

/**
 * The demo guest on a qcow2 disk, checked by QEMU's own tools: what the guest wrote (and
 * discarded) is what {@code qemu-img convert} reads out of the image, {@code qemu-img check}
 * finds it clean. The -snapshot run leaves the image as it was. (A qcow2 image under SIGKILL,
 * with ext4 on it and fsck in the next boot: CrashConsistencyTest.)
 */
@GuestTest
class Qcow2GuestTest {
    private static GuestBuilder.Guest guest;

    @TempDir
    Path dir;

    @BeforeAll
    static void setUp() throws IOException {
        RequiredTools.assume(Files.isExecutable(Path.of("/usr/bin/qemu-img")), "qemu-img not installed (apt-get install qemu-utils)");
        guest = DemoGuest.build();
    }

    private static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "hang guard: " + List.of(cmd));
        assertEquals(0, p.exitValue(), List.of(cmd) + ":\n" + out);
        return out;
    }

    private static List<String> boot(String cmd, String... drive) {
        List<String> a = new ArrayList<>(List.of("-accel", "tcg", "-m", "256M", "-nographic", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            "-append", DemoGuest.CONSOLE + " quiet jvisor.cmd=b64:"
                + Base64.getEncoder().encodeToString(cmd.getBytes(StandardCharsets.US_ASCII))));
        a.addAll(List.of(drive));
        return a;
    }

    /** Guest commands: 4 KiB records "REC<n>" at scattered blocks, one 64 KiB hole zeroed, 2 MiB discarded. */
    private static final String PATTERN = "i=1; while [ $i -le 64 ]; do printf 'REC%08d' $i > /tmp/r; "
        + "dd if=/tmp/r of=/dev/vda bs=4096 seek=$((i * 37)) conv=sync,notrunc 2>/dev/null; i=$((i+1)); done; "
        + "dd if=/dev/zero of=/dev/vda bs=4096 seek=370 count=16 conv=notrunc 2>/dev/null; "
        + "sync; blkdiscard -o 4194304 -l 2097152 /dev/vda; echo discard=$?; "
        + "sync; echo pattern-done";

    private static byte[] expected(int size) {
        byte[] b = new byte[size];
        for (int i = 1; i <= 64; i++) {
            byte[] r = String.format("REC%08d", i).getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(r, 0, b, i * 37 * 4096, r.length);
        }
        java.util.Arrays.fill(b, 370 * 4096, 386 * 4096, (byte) 0);
        java.util.Arrays.fill(b, 4194304, 4194304 + 2097152, (byte) 0);   // discarded: one whole 2 MiB cluster
        return b;
    }

    @Test
    void theGuestWritesAQcow2ImageQemuReadsBack() throws Exception {
        Path img = dir.resolve("disk.qcow2");
        // 2 MiB clusters (the largest) in the heap the launcher gives jvisor (40 MiB + kernel and initrd)
        run("qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=2M", img.toString(), "16M");
        // no format=: probed as QEMU does, qcow2 by its magic and no warning; discard=unmap (QEMU's
        // default is ignore) lets the guest's discard free the cluster
        JvisorProcess.Result r = JvisorProcess.run(List.of("-Xmx56m"), null,
            boot(PATTERN, "-drive", "file=" + img + ",if=virtio,discard=unmap").toArray(new String[0]));
        assertTrue(r.stdout().contains("pattern-done"), r.toString());
        assertTrue(r.stdout().contains("discard=0"), "the guest's discard reached the qcow2 layer: " + r);
        assertEquals(0, r.status(), r.toString());
        assertTrue(!r.stderr().contains("probing guessed raw"), r.stderr());
        run("qemu-img", "check", img.toString());
        // the discarded 2 MiB cluster at 4 MiB is no longer allocated: no data, no host offset
        String map = run("qemu-img", "map", "--output=json", img.toString());
        assertTrue(Pattern.compile("\\{ \"start\": 4194304, \"length\": 2097152, [^}]*\"zero\": true, \"data\": false\\}")
            .matcher(map).find(), "the discarded cluster was freed: " + map);
        Path out = dir.resolve("out.raw");
        run("qemu-img", "convert", "-O", "raw", img.toString(), out.toString());
        Path want = dir.resolve("want.raw");
        Files.write(want, expected(16 << 20));
        run("qemu-img", "compare", "-f", "raw", "-F", "raw", out.toString(), want.toString());

        // -snapshot: the guest's writes go to a temporary overlay; the image is unchanged
        byte[] before = Files.readAllBytes(img);
        JvisorProcess.Result s = JvisorProcess.run(List.of(), null, boot(
            "dd if=/dev/zero of=/dev/vda bs=4096 count=64 conv=fsync 2>/dev/null; echo snap=$?",
            "-snapshot", "-drive", "file=" + img + ",format=qcow2,if=virtio").toArray(new String[0]));
        assertTrue(s.stdout().contains("snap=0"), s.toString());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(img)), "-snapshot changed the image");
    }
}
