package org.jvisor.guest;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.zip.GZIPOutputStream;

/**
 * Writes a cpio archive in the "newc" format (magic {@code 070701}), the one the Linux initramfs
 * unpacker reads (Documentation/driver-api/early-userspace/buffer-format.rst).
 *
 * <p>Each entry is a 110-byte ASCII header (the magic and thirteen 8-digit hex fields: ino, mode,
 * uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check),
 * the NUL-terminated name padded to a multiple of 4 bytes (counting the header), then the data
 * padded to a multiple of 4. The archive ends with an entry named {@code TRAILER!!!}; we then pad
 * to 512 bytes as cpio(1) does (the kernel skips zero padding).
 *
 * <p>The output is deterministic: every entry has uid/gid 0, the same mtime (given at
 * construction, 0 by default) and inode numbers 1, 2, 3... in the order entries are written; the
 * gzip stream (when asked for) has no name and no timestamp. Missing parent directories are
 * created (mode 0755) before an entry, because the kernel's unpacker does not create them.
 *
 * <p>Names are stored relative to the root, without a leading {@code /} or {@code ./}.
 * Not thread-safe.
 */
public final class CpioWriter implements Closeable {

    /** File type bits of st_mode. */
    public static final int S_IFDIR = 0040000, S_IFREG = 0100000, S_IFLNK = 0120000,
            S_IFCHR = 0020000, S_IFBLK = 0060000;

    static final String MAGIC = "070701";
    static final String TRAILER = "TRAILER!!!";
    private static final int HEADER_SIZE = 110;

    private final OutputStream out;
    private final long mtime;
    private final Set<String> names = new HashSet<>();
    private long position;
    private int nextInode = 1;
    private boolean finished;

    /** An archive written to {@code out}, every entry with mtime 0. */
    public CpioWriter(OutputStream out) {
        this(out, 0);
    }

    /** An archive written to {@code out}, every entry with the given mtime (seconds since 1970). */
    public CpioWriter(OutputStream out, long mtime) {
        if (mtime < 0 || mtime > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("mtime out of range: " + mtime);
        }
        this.out = out;
        this.mtime = mtime;
    }

    /**
     * An archive compressed with gzip (the kernel's CONFIG_RD_GZIP), written to {@code out}.
     * Closing the writer finishes the archive, the gzip stream and closes {@code out}.
     */
    public static CpioWriter gzip(OutputStream out, long mtime) throws IOException {
        // GZIPOutputStream writes a fixed header (no name, MTIME 0, OS 0): reproducible.
        return new CpioWriter(new GZIPOutputStream(new BufferedOutputStream(out, 1 << 16), 1 << 16), mtime);
    }

    /** A directory with the given permission bits (e.g. 0755). */
    public CpioWriter directory(String path, int perm) throws IOException {
        String name = prepare(path);
        entry(name, S_IFDIR | perm(perm), 2, 0, 0, null);
        return this;
    }

    /** A regular file with the given permission bits and content. */
    public CpioWriter file(String path, int perm, byte[] data) throws IOException {
        String name = prepare(path);
        entry(name, S_IFREG | perm(perm), 1, 0, 0, data);
        return this;
    }

    /** A regular file with the given permission bits, its content read from {@code source}. */
    public CpioWriter file(String path, int perm, Path source) throws IOException {
        return file(path, perm, Files.readAllBytes(source));
    }

    /** A symbolic link {@code path -> target} (the target is stored as the link's data). */
    public CpioWriter symlink(String path, String target) throws IOException {
        if (target.isEmpty()) {
            throw new IllegalArgumentException("empty symlink target for " + path);
        }
        String name = prepare(path);
        entry(name, S_IFLNK | 0777, 1, 0, 0, target.getBytes(StandardCharsets.UTF_8));
        return this;
    }

    /** A character device node, e.g. {@code /dev/console} is 5,1. */
    public CpioWriter charDevice(String path, int perm, int major, int minor) throws IOException {
        String name = prepare(path);
        entry(name, S_IFCHR | perm(perm), 1, major, minor, null);
        return this;
    }

    /** A block device node, e.g. {@code /dev/vda} is 254,0 on most kernels. */
    public CpioWriter blockDevice(String path, int perm, int major, int minor) throws IOException {
        String name = prepare(path);
        entry(name, S_IFBLK | perm(perm), 1, major, minor, null);
        return this;
    }

    /** Bytes written so far (uncompressed). */
    public long size() {
        return position;
    }

    /** Writes the trailer and pads to 512 bytes; further entries are refused. Idempotent. */
    public void finish() throws IOException {
        if (finished) {
            return;
        }
        writeHeader(TRAILER, 0, 0, 1, 0, 0, 0);
        pad(512);
        out.flush();
        finished = true;
        if (out instanceof GZIPOutputStream gz) {
            gz.finish();
        }
    }

    /** Finishes the archive (if not done) and closes the underlying stream. */
    @Override
    public void close() throws IOException {
        try {
            finish();
        } finally {
            out.close();
        }
    }

    // ---- internals --------------------------------------------------------------------------

    /** Normalizes a path, rejects duplicates and bad names, and creates missing parents. */
    private String prepare(String path) throws IOException {
        if (finished) {
            throw new IllegalStateException("archive already finished");
        }
        String name = normalize(path);
        if (names.contains(name)) {
            throw new IllegalArgumentException("duplicate cpio entry: " + name);
        }
        int slash = name.lastIndexOf('/');
        if (slash > 0 && !names.contains(name.substring(0, slash))) {
            directory(name.substring(0, slash), 0755);
        }
        names.add(name);
        return name;
    }

    /** "/a/b", "./a/b", "a//b/" -> "a/b"; rejects "", "..", and NUL. */
    static String normalize(String path) {
        String p = path;
        while (p.startsWith("./")) {
            p = p.substring(2);
        }
        StringBuilder sb = new StringBuilder();
        for (String part : p.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..") || part.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("bad cpio path: " + path);
            }
            if (!sb.isEmpty()) {
                sb.append('/');
            }
            sb.append(part);
        }
        if (sb.isEmpty() || sb.toString().equals(TRAILER)) {
            throw new IllegalArgumentException("bad cpio path: '" + path + "'");
        }
        return sb.toString();
    }

    private static int perm(int perm) {
        if ((perm & ~07777) != 0) {
            throw new IllegalArgumentException("permission bits only (07777), got 0" + Integer.toOctalString(perm));
        }
        return perm;
    }

    private void entry(String name, int mode, int nlink, int rdevMajor, int rdevMinor, byte[] data)
            throws IOException {
        long size = data == null ? 0 : data.length;
        writeHeader(name, nextInode++, mode, nlink, size, rdevMajor, rdevMinor);
        if (data != null) {
            write(data);
            pad(4);
        }
    }

    private void writeHeader(String name, int ino, int mode, int nlink, long fileSize,
                             int rdevMajor, int rdevMinor) throws IOException {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder(HEADER_SIZE);
        h.append(MAGIC);
        hex(h, ino);
        hex(h, mode);
        hex(h, 0);              // uid
        hex(h, 0);              // gid
        hex(h, nlink);
        hex(h, mtime);
        hex(h, fileSize);
        hex(h, 0);              // devmajor (of the file system holding the file; unused)
        hex(h, 0);              // devminor
        hex(h, rdevMajor);
        hex(h, rdevMinor);
        hex(h, nameBytes.length + 1L);
        hex(h, 0);              // check: always 0 for 070701
        write(h.toString().getBytes(StandardCharsets.US_ASCII));
        write(nameBytes);
        write(new byte[] {0});
        pad(4);
    }

    private static void hex(StringBuilder h, long value) {
        if (value < 0 || value > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("value does not fit a newc field: " + value);
        }
        String s = Long.toHexString(value).toUpperCase();
        h.repeat('0', 8 - s.length()).append(s);
    }

    private void write(byte[] b) throws IOException {
        out.write(b);
        position += b.length;
    }

    private void pad(int alignment) throws IOException {
        int n = (int) ((alignment - position % alignment) % alignment);
        if (n > 0) {
            write(new byte[n]);
        }
    }
}
