package org.jvisor.machine;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The drives the ATA guest tests (PIIX3 IDE and AHCI) give Linux, and the check of what the guest
 * did with them: a 16 MiB raw disk and a 16 MiB qcow2 disk that get a 1 MiB pattern at 3 and 5 MiB,
 * and a 2 MiB CD of random data the guest reads whole. The guest prints {@code NAME=md5} lines:
 * {@code pattern}, {@code sda} and {@code sdb} (read back past its cache), {@code sr0}.
 */
final class AtaGuestDisks {
    static final int CD_BLOCKS = 1024;
    private static final Pattern MD5 = Pattern.compile("(\\w+)=([0-9a-f]{32})");

    /** The three images. */
    record Images(Path raw, Path qcow2, Path cd) {
    }

    private AtaGuestDisks() {
    }

    /** New images in {@code dir}, their names starting with {@code tag}. */
    static Images create(Path dir, String tag) throws Exception {
        Path raw = dir.resolve(tag + "-a.raw");
        Files.write(raw, new byte[16 << 20]);
        Path qcow2 = dir.resolve(tag + "-b.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", qcow2.toString(), "16M");
        byte[] cd = new byte[CD_BLOCKS * 2048];
        new Random(7).nextBytes(cd);
        Path iso = dir.resolve(tag + "-cd.iso");
        Files.write(iso, cd);
        return new Images(raw, qcow2, iso);
    }

    /**
     * Checks the guest's md5 lines against each other and against the images: the pattern read
     * back from both disks, the CD read whole, the pattern in the raw image and, through
     * {@code qemu-img check} and {@code convert}, in the qcow2 image.
     */
    static void checkData(String out, Images img, Path dir) throws Exception {
        Map<String, String> sums = new HashMap<>();
        Matcher m = MD5.matcher(out);
        while (m.find()) {
            sums.put(m.group(1), m.group(2));
        }
        String pattern = sums.get("pattern");
        assertEquals(pattern, sums.get("sda"), "sda read back: " + out);
        assertEquals(pattern, sums.get("sdb"), "sdb read back: " + out);
        byte[] cd = Files.readAllBytes(img.cd());
        assertEquals(md5(cd, 0, cd.length), sums.get("sr0"), "the CD as the guest read it: " + out);
        byte[] raw = Files.readAllBytes(img.raw());
        assertEquals(pattern, md5(raw, 3 << 20, 1 << 20), "the raw image holds the guest's pattern");
        Path converted = dir.resolve("b-" + System.nanoTime() + ".raw");
        run("qemu-img", "check", "-q", img.qcow2().toString());
        run("qemu-img", "convert", "-O", "raw", img.qcow2().toString(), converted.toString());
        assertEquals(pattern, md5(Files.readAllBytes(converted), 5 << 20, 1 << 20), "the qcow2 image holds it");
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
}
