package org.jvisor.guest;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/** A strict reader of newc cpio archives, written for the tests (independent of CpioWriter). */
final class CpioReader {

    record Entry(String name, long ino, int mode, int uid, int gid, int nlink, long mtime,
                 int rdevMajor, int rdevMinor, byte[] data, long headerOffset) {
        int type() {
            return mode & 0170000;
        }

        int perm() {
            return mode & 07777;
        }

        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    /** All entries before the trailer; checks magic, alignment, check field, and zero padding. */
    static List<Entry> read(byte[] archive) {
        List<Entry> entries = new ArrayList<>();
        int pos = 0;
        while (true) {
            if (pos % 4 != 0) {
                throw new IllegalStateException("header not 4-byte aligned at " + pos);
            }
            String magic = new String(archive, pos, 6, StandardCharsets.US_ASCII);
            if (!magic.equals("070701")) {
                throw new IllegalStateException("bad magic '" + magic + "' at " + pos);
            }
            long[] f = new long[13];
            for (int i = 0; i < 13; i++) {
                f[i] = Long.parseLong(new String(archive, pos + 6 + 8 * i, 8, StandardCharsets.US_ASCII), 16);
            }
            int nameSize = (int) f[11];
            if (f[12] != 0) {
                throw new IllegalStateException("check field not 0");
            }
            int nameStart = pos + 110;
            if (archive[nameStart + nameSize - 1] != 0) {
                throw new IllegalStateException("name not NUL-terminated");
            }
            String name = new String(archive, nameStart, nameSize - 1, StandardCharsets.UTF_8);
            int dataStart = align4(nameStart + nameSize);
            checkZero(archive, nameStart + nameSize, dataStart);
            int size = (int) f[6];
            if (name.equals("TRAILER!!!")) {
                checkZero(archive, dataStart, archive.length);
                return entries;
            }
            byte[] data = Arrays.copyOfRange(archive, dataStart, dataStart + size);
            entries.add(new Entry(name, f[0], (int) f[1], (int) f[2], (int) f[3], (int) f[4], f[5],
                    (int) f[9], (int) f[10], data, pos));
            int next = align4(dataStart + size);
            checkZero(archive, dataStart + size, next);
            pos = next;
        }
    }

    static List<Entry> readGzip(byte[] gz) {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
            return read(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Map<String, Entry> byName(List<Entry> entries) {
        Map<String, Entry> m = new LinkedHashMap<>();
        for (Entry e : entries) {
            if (m.put(e.name(), e) != null) {
                throw new IllegalStateException("duplicate " + e.name());
            }
        }
        return m;
    }

    private static int align4(int n) {
        return (n + 3) & ~3;
    }

    private static void checkZero(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] != 0) {
                throw new IllegalStateException("non-zero padding at " + i);
            }
        }
    }
}
