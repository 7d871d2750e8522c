package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.RequiredTools;

/**
 * A CD-ROM's medium changed under a running Linux, through QMP on a real unix socket: the guest
 * (sr on ata_piix) reads /dev/sr0, QMP's blockdev-change-medium swaps the image, the guest reads
 * the new one with its new size; the guest then ejects (the cdrom driver's autoeject on close, a
 * START STOP UNIT) and QMP sees DEVICE_TRAY_MOVED; a TRIM of the ATA disk beside it (blkdiscard)
 * reaches the image; while the guest holds the device open (its
 * driver locks the door) QMP's eject fails as on QEMU. Then libvirt's way of changing a medium
 * (blockdev-add of a node pair, blockdev-remove-medium, blockdev-insert-medium, blockdev-del),
 * and the guest reads that medium too. QEMU 7.2 runs the same scenario: the guest's
 * results and the event sequence must be the same.
 */
@GuestTest
class CdromMediaGuestTest {
    /** md5 of nothing: dd read no medium. */
    private static final String EMPTY = "d41d8cd98f00b204e9800998ecf8427e";
    /** A hang guard, not a performance limit. */
    private static final long GUARD_SECONDS = 300;

    private static GuestBuilder.Guest guest;

    @TempDir
    Path dir;

    @BeforeAll
    static void setUp() throws IOException {
        guest = DemoGuest.build();
    }

    private static final String COMMAND = ""
        + "md() { dd if=/dev/sr0 bs=2048 2>/dev/null | md5sum | cut -c1-32; }; "
        // TRIM on the ATA disk (DATA SET MANAGEMENT through libata's SCSI UNMAP translation)
        + "blkdiscard -o 1048576 -l 1048576 /dev/sda && echo trim=ok; "
        + "A=$(md); echo sr0a=$A blocks=$(cat /sys/block/sr0/size); "
        + "echo cd-change-now; read -r go; "
        // the first opens after a change see the medium gone, then UNIT ATTENTION: try a few times
        + "n=0; while [ $n -lt 50 ]; do B=$(md); [ $B != " + EMPTY + " ] && [ $B != $A ] && break; n=$((n+1)); sleep 0.1; done; "
        + "echo sr0b=$B blocks=$(cat /sys/block/sr0/size); "
        // while the device is open the cdrom driver keeps the door locked (PREVENT ALLOW MEDIUM REMOVAL)
        + "exec 3</dev/sr0; echo cd-locked; read -r go; exec 3<&-; "
        + "echo 1 > /proc/sys/dev/cdrom/autoeject; "
        + "dd if=/dev/sr0 of=/dev/null bs=2048 count=1 2>/dev/null; "
        + "echo cd-done; read -r go; echo 0 > /proc/sys/dev/cdrom/autoeject; "
        // libvirt's change-media: a -blockdev-style node pair inserted into the drive
        + "n=0; while [ $n -lt 50 ]; do C=$(md); [ $C != " + EMPTY + " ] && [ $C != $B ] && break; n=$((n+1)); sleep 0.1; done; "
        + "echo sr0c=$C blocks=$(cat /sys/block/sr0/size); "
        + "echo cd-end; read -r end";

    private List<String> options(Path socket, Path first, Path disk) {
        return new ArrayList<>(List.of("-accel", "tcg", "-m", "256M", "-nographic", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            "-append", DemoGuest.CONSOLE + " quiet jvisor.cmd=b64:"
                + Base64.getEncoder().encodeToString(COMMAND.getBytes(StandardCharsets.US_ASCII)),
            "-qmp", "unix:" + socket + ",server=on,wait=off",
            "-drive", "file=" + first + ",if=none,media=cdrom,format=raw,id=cd0",
            "-device", "ide-cd,drive=cd0,id=cdrom0,bus=ide.1,unit=0",
            "-drive", "file=" + disk + ",if=ide,index=0,format=raw,id=hd0,discard=unmap"));
    }

    /** What one run gave: the guest's lines of interest, the tray events in order, the command replies. */
    record Outcome(List<String> guest, List<String> trayEvents, List<String> replies) {
    }

    /** Runs {@code command} (jvisor or QEMU), changes the medium to {@code second} when the guest asks. */
    private Outcome scenario(List<String> command, Path socket, Path second, Path third) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
        StringBuilder all = new StringBuilder();
        CompletableFuture<Void> pump = CompletableFuture.runAsync(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l = r.readLine(); l != null; l = r.readLine()) {
                    synchronized (all) {
                        all.append(l).append('\n');
                    }
                    lines.add(l.strip());
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        List<String> replies = new ArrayList<>();
        List<String> events = new ArrayList<>();
        try (QmpClient qmp = QmpClient.connect(socket); OutputStream console = p.getOutputStream()) {
            qmp.reply();
            qmp.execute("{\"execute\":\"qmp_capabilities\"}");
            await(lines, "cd-change-now", all);
            replies.add(QmpClient.text(qmp.execute("{\"execute\":\"blockdev-change-medium\",\"arguments\":{\"device\":\"cd0\","
                + "\"filename\":\"" + second + "\",\"format\":\"raw\"}}")));
            // a file that is not there: an error, and the medium stays
            replies.add(QmpClient.text(qmp.execute("{\"execute\":\"blockdev-change-medium\",\"arguments\":{\"device\":\"cd0\","
                + "\"filename\":\"" + dir.resolve("missing.iso") + "\"}}")));
            replies.add(QmpClient.text(qmp.execute("{\"execute\":\"eject\",\"arguments\":{\"device\":\"nope\"}}")));
            console.write("go\n".getBytes(StandardCharsets.US_ASCII));
            console.flush();
            await(lines, "cd-locked", all);
            replies.add("locked=" + QmpClient.text(cdrom(qmp).members().get("locked")));
            replies.add(QmpClient.text(qmp.execute("{\"execute\":\"eject\",\"arguments\":{\"device\":\"cd0\"}}")));
            console.write("go\n".getBytes(StandardCharsets.US_ASCII));
            console.flush();
            await(lines, "cd-done", all);
            replies.add("tray_open=" + QmpClient.text(cdrom(qmp).members().get("tray_open")));
            libvirtChangeMedia(qmp, third, replies);
            console.write("go\n".getBytes(StandardCharsets.US_ASCII));
            console.flush();
            await(lines, "cd-end", all);
            for (String c : List.of("{\"execute\":\"blockdev-open-tray\",\"arguments\":{\"id\":\"cdrom0\"}}",
                    "{\"execute\":\"blockdev-remove-medium\",\"arguments\":{\"id\":\"cdrom0\"}}",
                    "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"n3-format\"}}",
                    "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"n3-storage\"}}",
                    "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"n3-storage\"}}")) {
                replies.add(QmpClient.text(qmp.execute(c)));
            }
            console.write("end\n".getBytes(StandardCharsets.US_ASCII));
            console.flush();
            assertTrue(p.waitFor(GUARD_SECONDS, TimeUnit.SECONDS), "hang guard");
            // every event so far, in order: the tray's
            for (String name : qmp.pendingEventNames()) {
                JsonObject e = qmp.event(name);
                if (name.equals("DEVICE_TRAY_MOVED")) {
                    JsonObject data = (JsonObject) e.members().get("data");
                    events.add(QmpClient.text(data.members().get("device")) + " open=" + QmpClient.text(data.members().get("tray-open")));
                }
            }
        } finally {
            p.destroyForcibly();
            pump.join();
        }
        List<String> guestLines;
        synchronized (all) {
            guestLines = all.toString().lines().map(String::strip)
                .filter(l -> l.startsWith("sr0") || l.startsWith("trim=")).toList();
        }
        return new Outcome(guestLines, events, replies);
    }

    /**
     * What libvirt 9.0 sends for virsh change-media (qemuDomainChangeMediaBlockdev) into the open
     * tray, with the refusals around it: a node pair added, the old medium removed, the pair's
     * format node inserted, the tray closed; nodes in use cannot be deleted.
     */
    private void libvirtChangeMedia(QmpClient qmp, Path third, List<String> replies) throws IOException, InterruptedException {
        String storage = "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"file\",\"filename\":\"" + third
            + "\",\"node-name\":\"n3-storage\",\"auto-read-only\":true,\"discard\":\"unmap\"}}";
        for (String c : List.of(storage, storage,
                "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"file\",\"filename\":\"" + dir.resolve("missing.iso")
                    + "\",\"node-name\":\"n4-storage\"}}",
                "{\"execute\":\"blockdev-add\",\"arguments\":{\"node-name\":\"n3-format\",\"read-only\":true,\"driver\":\"raw\","
                    + "\"file\":\"n3-storage\"}}",
                "{\"execute\":\"blockdev-insert-medium\",\"arguments\":{\"id\":\"cdrom0\",\"node-name\":\"n3-format\"}}",
                "{\"execute\":\"blockdev-remove-medium\",\"arguments\":{\"id\":\"cdrom0\"}}",
                "{\"execute\":\"blockdev-insert-medium\",\"arguments\":{\"id\":\"cdrom0\",\"node-name\":\"nowhere\"}}",
                "{\"execute\":\"blockdev-insert-medium\",\"arguments\":{\"id\":\"cdrom0\",\"node-name\":\"n3-format\"}}",
                "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"n3-format\"}}",
                "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"n3-storage\"}}",
                "{\"execute\":\"blockdev-close-tray\",\"arguments\":{\"id\":\"cdrom0\"}}")) {
            replies.add(QmpClient.text(qmp.execute(c)));
        }
        JsonObject inserted = (JsonObject) cdrom(qmp).members().get("inserted");
        replies.add("inserted=" + QmpClient.text(inserted.members().get("node-name")) + " "
            + QmpClient.text(inserted.members().get("file")) + " ro=" + QmpClient.text(inserted.members().get("ro")));
    }

    /** query-block's entry of drive cd0. */
    private static JsonObject cdrom(QmpClient qmp) throws IOException, InterruptedException {
        JsonObject block = qmp.execute("{\"execute\":\"query-block\"}");
        for (JsonValue v : ((JsonValue.JsonArray) block.members().get("return")).elements()) {
            if (((JsonObject) v).members().get("device").equals(new JsonValue.JsonString("cd0"))) {
                return (JsonObject) v;
            }
        }
        throw new AssertionError("no cd0 in " + QmpClient.text(block));
    }

    private static void await(LinkedBlockingQueue<String> lines, String marker, StringBuilder all) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(GUARD_SECONDS);
        while (System.nanoTime() < deadline) {
            String l = lines.poll(1, TimeUnit.SECONDS);
            if (l != null && l.endsWith(marker)) {
                return;
            }
        }
        synchronized (all) {
            throw new AssertionError("hang guard: no " + marker + " from the guest:\n" + all);
        }
    }

    private Path image(String name, int blocks, long seed) throws IOException {
        byte[] b = new byte[blocks * 2048];
        new Random(seed).nextBytes(b);
        return Files.write(dir.resolve(name), b);
    }

    private static String md5(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(Files.readAllBytes(p)));
    }

    @Test
    void theGuestReadsTheNewMediumAndItsEjectIsAnEvent() throws Exception {
        Path first = image("first.iso", 512, 1);
        Path second = image("second.iso", 768, 2);
        Path socket = dir.resolve("j.sock");
        Path disk = image("disk.raw", 4096, 3);
        Path third = image("third.iso", 640, 4);
        Outcome jvisor = scenario(JvisorProcess.command(List.of(), options(socket, first, disk).toArray(new String[0])), socket,
            second, third);
        byte[] trimmed = Arrays.copyOfRange(Files.readAllBytes(disk), 1 << 20, 2 << 20);
        assertArrayEquals(new byte[1 << 20], trimmed, "the guest's TRIM reached the image");
        assertEquals(List.of("trim=ok", "sr0a=" + md5(first) + " blocks=" + 512 * 4, "sr0b=" + md5(second) + " blocks=" + 768 * 4,
            "sr0c=" + md5(third) + " blocks=" + 640 * 4), jvisor.guest(), "what the guest read");
        assertEquals(List.of("\"cd0\" open=true", "\"cd0\" open=false", "\"cd0\" open=true", "\"cd0\" open=false",
            "\"cd0\" open=true"), jvisor.trayEvents(),
            "change-medium opens and closes the tray, the guest's eject opens it, libvirt's change closes it, then opens");
        assertEquals(QmpClient.text(QmpClient.parse("{\"return\":{}}")), jvisor.replies().get(0));
        assertTrue(jvisor.replies().get(1).contains("No such file or directory"), jvisor.replies().toString());
        assertTrue(jvisor.replies().get(2).contains("DeviceNotFound"), jvisor.replies().toString());
        assertEquals("locked=true", jvisor.replies().get(3), "the guest locked the tray");
        assertTrue(jvisor.replies().get(4).contains("is locked and force was not specified"), jvisor.replies().toString());
        assertEquals("tray_open=true", jvisor.replies().get(5));
        String ok = QmpClient.text(QmpClient.parse("{\"return\":{}}"));
        List<String> change = jvisor.replies().subList(6, jvisor.replies().size());
        assertEquals(ok, change.get(0), "blockdev-add of the file node");
        assertTrue(change.get(1).contains("Duplicate nodes with node-name='n3-storage'"), change.toString());
        assertTrue(change.get(2).contains("No such file or directory"), change.toString());
        assertEquals(ok, change.get(3), "blockdev-add of the raw node over it");
        assertTrue(change.get(4).contains("There already is a medium in the device"), change.toString());
        assertEquals(List.of(ok, ok), List.of(change.get(5), change.get(7)), "remove-medium, insert-medium");
        assertTrue(change.get(6).contains("nowhere"), change.toString());
        assertTrue(change.get(8).contains("Node n3-format is in use"), change.toString());
        assertTrue(change.get(9).contains("Block device n3-storage is in use"), change.toString());
        assertEquals(ok, change.get(10), "close-tray");
        assertEquals("inserted=\"n3-format\" \"" + third + "\" ro=true", change.get(11));
        assertEquals(List.of(ok, ok, ok, ok), change.subList(12, 16), "open, remove, and the nodes deleted once free");
        assertTrue(change.get(16).contains("Failed to find node with node-name='n3-storage'"), change.toString());

        Path qsocket = dir.resolve("q.sock");
        RequiredTools.assume(Files.isExecutable(Path.of("/usr/bin/qemu-system-x86_64")), "qemu-system-x86_64 not installed: no reference run");
        List<String> qemu = new ArrayList<>(List.of("/usr/bin/qemu-system-x86_64"));
        qemu.addAll(options(qsocket, first, image("qemu-disk.raw", 4096, 3)));
        Outcome ref = scenario(qemu, qsocket, second, third);
        assertEquals(ref.guest(), jvisor.guest(), "the guest's view, jvisor vs QEMU");
        assertEquals(ref.trayEvents(), jvisor.trayEvents(), "DEVICE_TRAY_MOVED, jvisor vs QEMU");
        assertEquals(ref.replies(), jvisor.replies(), "the replies, jvisor vs QEMU");
    }
}
