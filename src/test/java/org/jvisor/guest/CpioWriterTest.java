package org.jvisor.guest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.jvisor.testing.RequiredTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CpioWriterTest {

    static final long MTIME = 1_700_000_000L;

    /** An archive with one entry of each kind, including an auto-created parent and an empty file. */
    static byte[] sample() throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (CpioWriter w = new CpioWriter(bos, MTIME)) {
            w.directory("/bin", 0755);
            w.file("bin/hello", 0755, "#!/bin/sh\necho hi\n".getBytes(StandardCharsets.US_ASCII));
            w.symlink("bin/sh", "hello");
            w.charDevice("dev/console", 0600, 5, 1);          // parent "dev" created on the way
            w.blockDevice("./dev/vda", 0660, 254, 0);
            w.file("etc/empty", 0644, new byte[0]);
            w.file("a/b/c/odd", 0600, new byte[] {1, 2, 3});  // a, a/b, a/b/c created
            w.directory("tmp", 01777);
        }
        return bos.toByteArray();
    }

    @Test
    void entriesReadBackWithOwnReader() throws IOException {
        byte[] archive = sample();
        assertEquals(0, archive.length % 512, "padded to 512 like cpio(1)");
        List<CpioReader.Entry> entries = CpioReader.read(archive);
        List<String> names = entries.stream().map(CpioReader.Entry::name).toList();
        assertEquals(List.of("bin", "bin/hello", "bin/sh", "dev", "dev/console", "dev/vda", "etc", "etc/empty",
                "a", "a/b", "a/b/c", "a/b/c/odd", "tmp"), names);
        Map<String, CpioReader.Entry> m = CpioReader.byName(entries);

        CpioReader.Entry bin = m.get("bin");
        assertEquals(CpioWriter.S_IFDIR, bin.type());
        assertEquals(0755, bin.perm());
        assertEquals(2, bin.nlink());
        assertEquals(CpioWriter.S_IFREG, m.get("bin/hello").type());
        assertEquals("#!/bin/sh\necho hi\n", m.get("bin/hello").text());
        assertEquals(CpioWriter.S_IFLNK | 0777, m.get("bin/sh").mode());
        assertEquals("hello", m.get("bin/sh").text());
        CpioReader.Entry console = m.get("dev/console");
        assertEquals(CpioWriter.S_IFCHR | 0600, console.mode());
        assertEquals(5, console.rdevMajor());
        assertEquals(1, console.rdevMinor());
        assertEquals(CpioWriter.S_IFBLK | 0660, m.get("dev/vda").mode());
        assertEquals(254, m.get("dev/vda").rdevMajor());
        assertEquals(0, m.get("etc/empty").data().length);
        assertArrayEquals(new byte[] {1, 2, 3}, m.get("a/b/c/odd").data());
        assertEquals(01777, m.get("tmp").perm());

        long ino = 1;
        for (CpioReader.Entry e : entries) {
            assertEquals(0, e.uid());
            assertEquals(0, e.gid());
            assertEquals(MTIME, e.mtime());
            assertEquals(ino++, e.ino(), "inodes numbered in order for " + e.name());
        }
    }

    @Test
    void outputIsDeterministic() throws IOException {
        assertArrayEquals(sample(), sample());
        ByteArrayOutputStream a = new ByteArrayOutputStream(), b = new ByteArrayOutputStream();
        for (ByteArrayOutputStream bos : List.of(a, b)) {
            try (CpioWriter w = CpioWriter.gzip(bos, 0)) {
                w.file("init", 0755, "x".repeat(10000).getBytes(StandardCharsets.US_ASCII));
            }
        }
        assertArrayEquals(a.toByteArray(), b.toByteArray());
        byte[] gz = a.toByteArray();
        assertEquals(0x1f, gz[0] & 0xff);
        assertEquals(0x8b, gz[1] & 0xff);
        assertEquals(0, gz[4] | gz[5] | gz[6] | gz[7], "no timestamp in the gzip header");
        List<CpioReader.Entry> entries = CpioReader.readGzip(gz);
        assertEquals(1, entries.size());
        assertEquals(10000, entries.getFirst().data().length);
    }

    @Test
    void nameAndDataPaddingForAllNameLengths() throws IOException {
        // names of length 1..8 and data of length 0..4 exercise every padding case
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (CpioWriter w = new CpioWriter(bos)) {
            for (int n = 1; n <= 8; n++) {
                for (int d = 0; d <= 4; d++) {
                    w.file("x".repeat(n) + "/" + d, 0644, new byte[d]);
                }
            }
        }
        List<CpioReader.Entry> entries = CpioReader.read(bos.toByteArray());
        assertEquals(8 * 6, entries.size());
        for (CpioReader.Entry e : entries) {
            assertEquals(0, e.headerOffset() % 4);
        }
    }

    @Test
    void rejectsBadInput() throws IOException {
        CpioWriter w = new CpioWriter(new ByteArrayOutputStream());
        w.file("a", 0644, new byte[0]);
        assertThrows(IllegalArgumentException.class, () -> w.file("/a", 0644, new byte[0]), "duplicate");
        assertThrows(IllegalArgumentException.class, () -> w.file("../etc", 0644, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> w.file("/", 0644, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> w.file("TRAILER!!!", 0644, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> w.file("b", 0100644, new byte[0]), "type bits");
        assertThrows(IllegalArgumentException.class, () -> w.symlink("c", ""));
        assertThrows(IllegalArgumentException.class, () -> new CpioWriter(new ByteArrayOutputStream(), -1));
        w.finish();
        assertThrows(IllegalStateException.class, () -> w.file("d", 0644, new byte[0]));
        assertEquals("a/b", CpioWriter.normalize("./a//b/"));
    }

    @Test
    void systemCpioListsTheArchive(@TempDir Path tmp) throws Exception {
        RequiredTools.assume(Tools.onPath("cpio"), "cpio(1) not installed (apt-get install cpio): listing check skipped");
        Path archive = tmp.resolve("sample.cpio");
        Files.write(archive, sample());
        Tools.Run r = Tools.run(tmp, List.of("cpio", "-i", "-t", "-v", "-F", archive.toString()));
        assertEquals(0, r.status(), r.output());
        List<String> lines = new ArrayList<>(r.output().lines().filter(l -> !l.endsWith("blocks")).toList());
        assertEquals(13, lines.size(), r.output());
        // GNU cpio: "perm links owner group size date name" (devices: "major, minor" for size)
        assertTrue(lines.get(0).matches("drwxr-xr-x +2 root +root +0 .* bin"), lines.get(0));
        assertTrue(lines.get(1).matches("-rwxr-xr-x +1 root +root +18 .* bin/hello"), lines.get(1));
        assertTrue(lines.get(2).matches("lrwxrwxrwx +1 root +root +5 .* bin/sh -> hello"), lines.get(2));
        assertTrue(lines.get(4).matches("crw------- +1 root +root +5, +1 .* dev/console"), lines.get(4));
        assertTrue(lines.get(5).matches("brw-rw---- +1 root +root +254, +0 .* dev/vda"), lines.get(5));
        assertTrue(lines.get(12).matches("drwxrwxrwt .* tmp"), lines.get(12));
        assertTrue(r.output().contains("2023"), "mtime 1700000000 is in November 2023: " + r.output());
    }

    @Test
    void systemCpioExtractsFilesAndLinks(@TempDir Path tmp) throws Exception {
        RequiredTools.assume(Tools.onPath("cpio"), "cpio(1) not installed (apt-get install cpio): extraction check skipped");
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        byte[] big = new byte[100_003];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 31);
        }
        try (CpioWriter w = new CpioWriter(bos)) {
            w.file("d/big.bin", 0640, big);
            w.symlink("d/link", "big.bin");
            w.file("top", 0600, "top\n".getBytes(StandardCharsets.US_ASCII));
        }
        Path out = Files.createDirectory(tmp.resolve("out"));
        Path archive = tmp.resolve("x.cpio");
        Files.write(archive, bos.toByteArray());
        Tools.Run r = Tools.run(out, List.of("cpio", "-i", "-d", "-m", "--no-absolute-filenames", "-F", archive.toString()));
        assertEquals(0, r.status(), r.output());
        assertArrayEquals(big, Files.readAllBytes(out.resolve("d/big.bin")));
        assertEquals("big.bin", Files.readSymbolicLink(out.resolve("d/link")).toString());
        assertEquals("top\n", Files.readString(out.resolve("top")));
        assertFalse(Files.exists(out.resolve("TRAILER!!!")));
    }
}
