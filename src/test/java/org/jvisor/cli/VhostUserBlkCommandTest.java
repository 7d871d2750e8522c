package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.block.DiscardMode;
import org.jvisor.qmp.json.JsonValue;

/** {@code jvisor vhost-user-blk}'s command line: the backend conventions' options and QEMU's -blockdev spelling. */
class VhostUserBlkCommandTest {
    private static VhostUserBlkCommand.Options parse(String... args) throws UsageException {
        String[] all = new String[args.length + 1];
        all[0] = "vhost-user-blk";
        System.arraycopy(args, 0, all, 1, args.length);
        return VhostUserBlkCommand.parse(all);
    }

    private static String fails(String... args) {
        return assertThrows(UsageException.class, () -> parse(args)).getMessage();
    }

    @Test
    void theConventionsOptionsInBothSpellings() throws Exception {
        VhostUserBlkCommand.Options o = parse("--socket-path=/run/vu.sock", "--blockdev", "disk.img", "--read-only",
            "--num-queues=4", "--serial=abc");
        assertEquals(Path.of("/run/vu.sock"), o.socketPath());
        assertEquals("disk.img", o.blockdev());
        assertTrue(o.readOnly());
        assertEquals(4, o.numQueues());
        assertEquals("abc", o.serial());
        VhostUserBlkCommand.Options fd = parse("--fd", "3", "--blk-file=disk.img");
        assertEquals(3, fd.fd());
        assertNull(fd.socketPath());
        assertEquals(1, fd.numQueues());
    }

    @Test
    void mistakesAreNamed() {
        assertTrue(fails("--blockdev=d").contains("exactly one of --socket-path=PATH and --fd=N"));
        assertTrue(fails("--socket-path=s", "--fd=3", "--blockdev=d").contains("exactly one of"));
        assertTrue(fails("--socket-path=s").contains("--blockdev=FILE-or-SPEC is required"));
        assertTrue(fails("--socket-path=s", "--blockdev=a", "--blk-file=b").contains("one disk per backend"));
        assertTrue(fails("--socket-path=s", "--blockdev=a", "--num-queues=0").contains("out of range (1-64)"));
        assertTrue(fails("--socket-path=s", "--blockdev=a", "--num-queues=x").contains("is not a number"));
        assertTrue(fails("--socket-path=s", "--blockdev=a", "--bogus").contains("unknown option '--bogus'"));
        assertTrue(fails("--socket-path").contains("--socket-path requires an argument"));
    }

    @Test
    void blockdevTakesAFileNameOrQemusSpelling() throws Exception {
        VhostUserBlkCommand.Image plain = VhostUserBlkCommand.image("disk.img", false);
        assertEquals(new VhostUserBlkCommand.Image(Path.of("disk.img"), null, false, CacheMode.WRITEBACK, DiscardMode.UNMAP), plain,
            "a file name: the format is probed, discards punch holes (QEMU's contrib vhost-user-blk)");
        assertEquals(new VhostUserBlkCommand.Image(Path.of("d.qcow2"), "qcow2", false, CacheMode.WRITEBACK, DiscardMode.IGNORE),
            VhostUserBlkCommand.image("driver=qcow2,file.driver=file,file.filename=d.qcow2", false), "-blockdev's default discard=ignore");
        assertEquals(new VhostUserBlkCommand.Image(Path.of("d.qcow2"), "qcow2", false, CacheMode.WRITEBACK, DiscardMode.UNMAP),
            VhostUserBlkCommand.image("driver=qcow2,discard=unmap,file.driver=file,file.filename=d.qcow2", false));
        assertEquals(DiscardMode.UNMAP, VhostUserBlkCommand.image("driver=file,filename=d.raw,discard=on", false).discard());
        assertEquals(DiscardMode.IGNORE, VhostUserBlkCommand.image("driver=raw,file.filename=d.raw,discard=off", false).discard());
        assertTrue(assertThrows(UsageException.class, () -> VhostUserBlkCommand.image("driver=raw,file.filename=d,discard=trim",
            false)).getMessage().contains("discard=trim (expected ignore, off, unmap or on)"));
        assertEquals(new VhostUserBlkCommand.Image(Path.of("d.raw"), "raw", true, CacheMode.NONE, DiscardMode.IGNORE),
            VhostUserBlkCommand.image("driver=file,filename=d.raw,read-only=on,cache.direct=on", false));
        assertEquals(new VhostUserBlkCommand.Image(Path.of("d.raw"), "raw", true, CacheMode.WRITEBACK, DiscardMode.IGNORE),
            VhostUserBlkCommand.image("driver=raw,file.filename=d.raw", true), "--read-only wins");
        assertEquals(new VhostUserBlkCommand.Image(Path.of("d.qcow2"), "qcow2", false, CacheMode.WRITEBACK, DiscardMode.UNMAP),
            VhostUserBlkCommand.image("{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"d.qcow2\"},\"discard\":\"unmap\"}", false));
        assertTrue(assertThrows(UsageException.class, () -> VhostUserBlkCommand.image("driver=vmdk,file.filename=x", false))
            .getMessage().contains("driver 'vmdk'"));
        assertTrue(assertThrows(UsageException.class, () -> VhostUserBlkCommand.image("driver=raw", false))
            .getMessage().contains("'file.filename' is missing"));
        assertTrue(assertThrows(UsageException.class, () -> VhostUserBlkCommand.image("driver=raw,file.driver=nbd,file=x",
            false)).getMessage().contains("file.driver=nbd"));
    }

    @Test
    void printCapabilitiesIsTheSchemasBlockObject() throws Exception {
        PrintStream out = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = Main.run(new String[] {"vhost-user-blk", "--print-capabilities"}, System.err);
        } finally {
            System.setOut(out);
        }
        assertEquals(0, status);
        JsonValue v = org.jvisor.qmp.json.JsonReader.parse(captured.toString(StandardCharsets.UTF_8));
        JsonValue.JsonObject o = (JsonValue.JsonObject) v;
        assertEquals(new JsonValue.JsonString("block"), o.members().get("type"), "VHostUserBackendType 'block'");
        assertEquals(new JsonValue.JsonArray(java.util.List.of(new JsonValue.JsonString("read-only"),
            new JsonValue.JsonString("blk-file"))), o.members().get("features"));
    }

    @Test
    void aMissingImageIsOneLineAndStatusOne() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(new String[] {"vhost-user-blk", "--socket-path=/nonexistent/vu.sock", "--blockdev=/nonexistent/d.img"},
            new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(1, status);
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.startsWith("jvisor: vhost-user-blk: /nonexistent/d.img: ") && e.lines().count() == 1, e);
    }
}
