package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorSession;

/**
 * Nothing the guest saw flushed is lost when jvisor is killed, and the file system checks clean
 * in the next boot (issue 16). The disk holds ext4 (made on the host by mke2fs); the guest
 * mounts it and writes numbered records, each a file of random data of its own size, fsync'd
 * with its directory, then a line "N MD5" appended to a log and fsync'd; only then does it print
 * "acked-N MD5". At a random moment of the writer's run (seeded; the seed is in every failure
 * message) jvisor gets SIGKILL. The next boot is the check: e2fsck replays the journal,
 * {@code e2fsck -fn} must find nothing to fix, then the file system is mounted and every record
 * acknowledged in any earlier boot must be there with its MD5, and in the log; then that boot
 * writes on and is killed in turn, so k kills cost k + 1 boots. Raw images with cache=writeback
 * and cache=none, and qcow2 (4 KiB clusters, so the guest's writes allocate clusters and tables
 * up to the kill; {@code qemu-img check} after each kill may find leaked clusters, nothing worse).
 *
 * <p>{@code -Djvisor.test.crashRuns=K} kills per configuration (default 1, CI's; bench/crash.sh runs
 * more), {@code -Djvisor.test.crashSeed} replays a run. A SIGKILL leaves the host's page cache
 * alone, so this checks that jvisor completes a write or flush only once it is in the image file
 * (no completion before the pwrite, nothing lost in a queue, qcow2 metadata written in an order
 * that never points at garbage); what fsync adds beyond that only a host power loss would show.
 */
@GuestTest
class CrashConsistencyTest {
    /**
     * The kill comes at a uniformly random moment this long at most after the boot's first
     * acknowledged record (counted from there, not from the writer's start: the time to the first
     * record varies with the machine's load, and a kill before it would leave nothing to lose).
     * The guest acknowledges about a record a second on tcg, on a loaded 2-core machine.
     */
    private static final long WINDOW_MILLIS = Long.getLong("jvisor.test.crashWindowMs", 5000);
    private static final Pattern ACKED = Pattern.compile("acked-(\\d+) ([0-9a-f]{32})\r?\n");
    private static final Pattern HAVE = Pattern.compile("have ([0-9a-f]{32})  (\\d+)\r?\n");
    private static final Pattern LOGGED = Pattern.compile("log (\\d+) ([0-9a-f]{32})");
    /** The writer's end (a failed write, fsync or mount); not the echo of the command, which has "$i". */
    private static final Pattern STOPPED = Pattern.compile("writer-stopped-at-\\d+");
    private static final Pattern REPLAY = Pattern.compile("replay=(\\d+)\r?\n");
    private static final Pattern FSCK = Pattern.compile("fsck=(\\d+)\r?\n");

    private static GuestBuilder.Guest guest;
    private static String mke2fs;

    @BeforeAll
    static void setUp(@TempDir Path dir) throws IOException {
        mke2fs = tool("mke2fs");
        assumeTrue(mke2fs != null, "mke2fs not installed (apt-get install e2fsprogs)");
        guest = DemoGuest.withE2fsck(dir);
    }

    private static String tool(String name) {
        for (String d : List.of("/usr/sbin", "/sbin", "/usr/bin")) {
            if (Files.isExecutable(Path.of(d, name))) {
                return Path.of(d, name).toString();
            }
        }
        return null;
    }

    /**
     * One boot's command: the check of the previous boot's crash (not on the first boot), then
     * the writer from record {@code start} until killed (not on the last boot, which unmounts
     * and powers off). Records are files rec/N of 512 B to 12.5 KiB; "sync DIR" fsyncs the
     * directory so the new name is as durable as the data (POSIX fsync covers the file only).
     */
    static String script(boolean check, boolean write, int start) {
        StringBuilder s = new StringBuilder();
        if (check) {
            s.append("e2fsck -p -E journal_only /dev/vda; echo replay=$?; ")
             .append("e2fsck -fn /dev/vda >/tmp/f 2>&1; echo fsck=$?; sed 's/^/fsck: /' /tmp/f; ");
        }
        s.append("mount -t ext4 /dev/vda /mnt || exit 9; mkdir -p /mnt/rec && sync /mnt || exit 8; ");
        if (check) {
            s.append("cd /mnt/rec && md5sum * | sed 's/^/have /'; cd /; touch /mnt/log; sed 's/^/log /' /mnt/log; echo check-done; ");
        }
        if (write) {
            s.append("echo writer-start; i=").append(start).append("; while :; do ")
             .append("head -c $((512 + i * 1999 % 12288)) /dev/urandom >/tmp/r; m=$(md5sum /tmp/r); m=${m%% *}; ")
             .append("dd if=/tmp/r of=/mnt/rec/$i bs=16k conv=fsync 2>/dev/null && sync /mnt/rec || break; ")
             .append("echo \"$i $m\" | dd of=/mnt/log oflag=append conv=notrunc,fsync 2>/dev/null || break; ")
             .append("echo \"acked-$i $m\"; i=$((i+1)); done; echo writer-stopped-at-$i");
        } else {
            s.append("umount /mnt; echo umount=$?");
        }
        return s.toString();
    }

    @ParameterizedTest(name = "{0} cache={1}")
    @CsvSource({"raw, writeback", "raw, none", "qcow2, writeback"})
    void everyFsyncedRecordSurvivesASigkillAndFsckIsClean(String format, String cache, @TempDir Path dir) throws Exception {
        long seed = Long.getLong("jvisor.test.crashSeed", System.nanoTime());
        Random random = new Random(seed);
        int kills = Integer.getInteger("jvisor.test.crashRuns", 1);
        String what = format + " cache=" + cache + " (seed " + seed + ")";
        Path image = dir.resolve("disk." + format);
        Path raw = format.equals("raw") ? image : dir.resolve("fresh.raw");
        run(mke2fs, "-q", "-F", "-t", "ext4", "-E", "lazy_itable_init=0,lazy_journal_init=0", raw.toString(), "16M");
        if (format.equals("qcow2")) {
            assumeTrue(tool("qemu-img") != null, "qemu-img not installed (apt-get install qemu-utils)");
            run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=4096", raw.toString(), image.toString());
        }

        Map<Integer, String> acked = new TreeMap<>();   // record -> MD5, over every boot so far
        int next = 1;
        for (int boot = 0; boot <= kills; boot++) {
            boolean check = boot > 0, write = boot < kills;
            String at = what + ", boot " + (boot + 1) + " of " + (kills + 1);
            try (JvisorSession s = JvisorSession.start("-accel", "tcg", "-m", "256M", "-nographic", "-no-reboot",
                    "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
                    "-append", DemoGuest.CONSOLE + " quiet " + InitScript.cmdParameterBase64(script(check, write, next)),
                    "-drive", "file=" + image + ",format=" + format + ",if=virtio,cache=" + cache)) {
                if (check) {
                    verify(s.expect("check-done\r\n"), acked, at);
                }
                if (write) {
                    s.expect("writer-start\r\n");
                    s.expect("acked-" + next + " ");
                    long delay = random.nextLong(WINDOW_MILLIS);
                    Thread.sleep(delay);
                    s.kill();
                    s.waitFor();
                    assertFalse(STOPPED.matcher(s.stdout()).find(), at + ": the writer failed before the kill\n" + s.transcript());
                    int before = acked.size();
                    Matcher m = ACKED.matcher(s.stdout());
                    while (m.find()) {
                        int i = Integer.parseInt(m.group(1));
                        acked.put(i, m.group(2));
                        next = Math.max(next, i + 1);
                    }
                    System.out.printf("crash consistency, %s: killed %d ms after its first record, %d records acknowledged"
                        + " in this boot, %d in all%n", at, delay, acked.size() - before, acked.size());
                } else {
                    s.expect("umount=0\r\n");
                    assertEquals(0, s.waitFor(), at + "\n" + s.transcript());
                }
            }
            if (format.equals("qcow2")) {
                Process p = new ProcessBuilder("qemu-img", "check", image.toString()).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(p.waitFor(300, TimeUnit.SECONDS), "hang guard: qemu-img check");
                // 0: clean; 3: leaked clusters only (allocated, then the kill came before their use was written)
                assertTrue(p.exitValue() == 0 || p.exitValue() == 3, at + ": qemu-img check after the boot:\n" + out);
            }
        }
        assertFalse(acked.isEmpty(), what + ": no record was acknowledged before any kill; nothing was tested");
        if (format.equals("raw")) {
            // the host's own e2fsck on the image the last boot unmounted cleanly
            run(tool("e2fsck") != null ? tool("e2fsck") : "e2fsck", "-fn", image.toString());
        }
    }

    /** The check boot's output: e2fsck found nothing, and every acknowledged record is there, intact and logged. */
    private static void verify(String out, Map<Integer, String> acked, String at) {
        Matcher f = FSCK.matcher(out);
        assertTrue(f.find() && f.group(1).equals("0"), at + ": e2fsck -fn after the crash is not clean:\n" + out);
        Map<Integer, String> have = new HashMap<>();
        for (Matcher m = HAVE.matcher(out); m.find(); ) {
            have.put(Integer.parseInt(m.group(2)), m.group(1));
        }
        Set<String> logged = new HashSet<>();
        for (Matcher m = LOGGED.matcher(out); m.find(); ) {
            logged.add(m.group(1) + " " + m.group(2));
        }
        List<String> lost = new ArrayList<>();
        for (Map.Entry<Integer, String> e : acked.entrySet()) {
            String got = have.get(e.getKey());
            if (!e.getValue().equals(got)) {
                lost.add("record " + e.getKey() + (got == null ? " missing" : " has MD5 " + got + ", acked " + e.getValue()));
            } else if (!logged.contains(e.getKey() + " " + e.getValue())) {
                lost.add("record " + e.getKey() + " not in the log");
            }
        }
        assertTrue(lost.isEmpty(), at + ": " + lost.size() + " of " + acked.size() + " acknowledged records lost: "
            + lost + "\n" + out);
        Matcher r = REPLAY.matcher(out);
        System.out.printf("crash consistency, %s: e2fsck journal replay status %s, e2fsck -fn clean, %d records on the disk,"
            + " all %d acknowledged ones intact%n", at, r.find() ? r.group(1) : "?", have.size(), acked.size());
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "hang guard: " + List.of(cmd));
        assertEquals(0, p.exitValue(), List.of(cmd) + ":\n" + out);
    }
}
