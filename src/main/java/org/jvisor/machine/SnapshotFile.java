package org.jvisor.machine;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The snapshot file's framing: a header, then sections, each with its own CRC32C.
 *
 * <pre>
 * file    := magic "JVSNAPSH" (8 bytes), format version u32, section*, END section
 * section := tag (4 ASCII bytes), payload length u64, payload, CRC32C u32 of tag and payload
 * </pre>
 *
 * All numbers are big-endian. The sections, in order: {@code CONF} (the machine's {@link
 * SnapshotConfig}, checked before anything else is read), {@code CPUS} (the vCPUs' {@code
 * VcpuState}s), {@code DEVS} (each device's id and state record), {@code RAM } (below) and
 * {@code END } (empty). State payloads are in the generic record encoding of {@code
 * StateEncoder}. The RAM payload is the RAM size u64 and page size u32, then runs of non-zero
 * pages: first page index u64, page count u32, the pages; a first page index of -1 ends it. All-zero
 * pages are not written: a restore starts from fresh (zero) RAM.
 */
final class SnapshotFile {
    static final byte[] MAGIC = "JVSNAPSH".getBytes(StandardCharsets.US_ASCII);
    /** The framing's version; each record inside carries its own. */
    static final int FORMAT_VERSION = 1;
    static final String CONF = "CONF", CPUS = "CPUS", DEVS = "DEVS", RAM = "RAM ", END = "END ";
    static final int PAGE = 4096;
    /** Pages per run at most: runs are written with one channel write each. */
    private static final int MAX_RUN = 256;

    private SnapshotFile() {
    }

    /** Writes a snapshot: to a temporary file beside {@code path}, renamed over it once complete. */
    static final class Writer implements AutoCloseable {
        private final Path path;
        private final Path partial;
        private final FileChannel ch;
        private boolean done;

        Writer(Path path) throws IOException {
            this.path = path;
            Path dir = path.toAbsolutePath().getParent();
            this.partial = dir.resolve("." + path.getFileName() + ".partial");
            // Owner-only: the file holds guest memory (keys, passwords), as a core dump would.
            Files.deleteIfExists(partial);
            this.ch = FileChannel.open(partial, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            ByteBuffer head = ByteBuffer.allocate(12);
            head.put(MAGIC).putInt(FORMAT_VERSION).flip();
            writeFully(head);
        }

        void section(String tag, byte[] payload) throws IOException {
            CRC32C crc = new CRC32C();
            ByteBuffer head = header(tag, payload.length);
            crc.update(tag.getBytes(StandardCharsets.US_ASCII));
            crc.update(payload);
            writeFully(head);
            writeFully(ByteBuffer.wrap(payload));
            writeFully(ByteBuffer.allocate(4).putInt((int) crc.getValue()).flip());
        }

        /** The RAM section from {@code ram} (its whole host mapping); returns the bytes of pages written. */
        long ram(MemorySegment ram) throws IOException {
            long start = ch.position();
            CRC32C crc = new CRC32C();
            crc.update(RAM.getBytes(StandardCharsets.US_ASCII));
            writeFully(header(RAM, 0)); // length patched below
            ByteBuffer meta = ByteBuffer.allocate(12).putLong(ram.byteSize()).putInt(PAGE).flip();
            crc.update(meta.duplicate());
            writeFully(meta);
            long pages = ram.byteSize() / PAGE;
            MemorySegment zero = MemorySegment.ofArray(new byte[PAGE]);
            long written = 0;
            long p = 0;
            while (p < pages) {
                if (isZero(ram, p, zero)) {
                    p++;
                    continue;
                }
                long first = p;
                while (p < pages && p - first < MAX_RUN && !isZero(ram, p, zero)) {
                    p++;
                }
                int count = (int) (p - first);
                ByteBuffer run = ByteBuffer.allocate(12).putLong(first).putInt(count).flip();
                crc.update(run.duplicate());
                writeFully(run);
                ByteBuffer data = ram.asSlice(first * PAGE, (long) count * PAGE).asByteBuffer();
                crc.update(data.duplicate());
                writeFully(data);
                written += (long) count * PAGE;
            }
            ByteBuffer end = ByteBuffer.allocate(8).putLong(-1).flip();
            crc.update(end.duplicate());
            writeFully(end);
            long length = ch.position() - start - 12;
            ByteBuffer real = header(RAM, length);
            while (real.hasRemaining()) {
                ch.write(real, start + real.position());
            }
            writeFully(ByteBuffer.allocate(4).putInt((int) crc.getValue()).flip());
            return written;
        }

        /** The END section, flushed to disk, and the file renamed to its name. */
        void finish() throws IOException {
            section(END, new byte[0]);
            ch.force(true);
            ch.close();
            Files.move(partial, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            done = true;
        }

        private void writeFully(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }

        /** Without {@link #finish()}, the partial file is removed: a failed save leaves nothing behind. */
        @Override
        public void close() throws IOException {
            if (!done) {
                ch.close();
                Files.deleteIfExists(partial);
            }
        }
    }

    private static boolean isZero(MemorySegment ram, long page, MemorySegment zero) {
        return MemorySegment.mismatch(ram, page * PAGE, page * PAGE + PAGE, zero, 0, PAGE) < 0;
    }

    private static ByteBuffer header(String tag, long length) {
        return ByteBuffer.allocate(12).put(tag.getBytes(StandardCharsets.US_ASCII)).putLong(length).flip();
    }

    /** Reads a snapshot section by section; every problem is a {@link SnapshotException} naming the file. */
    static final class Reader implements AutoCloseable {
        private final Path path;
        private final FileChannel ch;
        private final long size;

        Reader(Path path) throws SnapshotException {
            this.path = path;
            try {
                this.ch = FileChannel.open(path, StandardOpenOption.READ);
                this.size = ch.size();
            } catch (IOException e) {
                throw new SnapshotException(path + ": cannot open: " + e.getMessage(), e);
            }
            ByteBuffer head = read(12, "the header");
            byte[] magic = new byte[8];
            head.get(magic);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                throw fail("is not a jvisor snapshot (no JVSNAPSH magic)");
            }
            int version = head.getInt();
            if (version != FORMAT_VERSION) {
                throw fail("is snapshot format version " + version + "; this jvisor reads version " + FORMAT_VERSION);
            }
        }

        /** The next section, which must be {@code tag}; its payload after the CRC check. */
        byte[] section(String tag) throws SnapshotException {
            long length = expect(tag);
            if (length > Integer.MAX_VALUE - 16) {
                throw fail("section " + tag + " claims " + length + " bytes; the file is corrupt");
            }
            ByteBuffer payload = read((int) length, "section " + tag);
            CRC32C crc = new CRC32C();
            crc.update(tag.getBytes(StandardCharsets.US_ASCII));
            crc.update(payload.duplicate());
            checkCrc(tag, crc);
            byte[] b = new byte[(int) length];
            payload.get(b);
            return b;
        }

        /** The RAM section, into {@code ram} (fresh, all zero, of the snapshot's size), CRC checked at its end. */
        void ram(MemorySegment ram) throws SnapshotException {
            long length = expect(RAM);
            long end = position() + length;
            CRC32C crc = new CRC32C();
            crc.update(RAM.getBytes(StandardCharsets.US_ASCII));
            ByteBuffer meta = read(12, "the RAM section");
            crc.update(meta.duplicate());
            long ramSize = meta.getLong();
            int page = meta.getInt();
            if (ramSize != ram.byteSize() || page != PAGE) {
                throw fail(String.format("holds %d bytes of RAM in %d-byte pages; this machine has %d in %d-byte pages",
                    ramSize, page, ram.byteSize(), PAGE));
            }
            long pages = ramSize / PAGE;
            while (true) {
                ByteBuffer first = read(8, "the RAM section");
                crc.update(first.duplicate());
                long firstPage = first.getLong();
                if (firstPage == -1) {
                    break;
                }
                ByteBuffer countBuf = read(4, "the RAM section");
                crc.update(countBuf.duplicate());
                int count = countBuf.getInt();
                if (firstPage < 0 || count <= 0 || count > MAX_RUN || firstPage + count > pages) {
                    throw fail(String.format("is corrupt: a RAM run of %d pages at page %d (RAM has %d pages)",
                        count, firstPage, pages));
                }
                ByteBuffer into = ram.asSlice(firstPage * PAGE, (long) count * PAGE).asByteBuffer();
                if (position() + into.remaining() > end) {
                    throw fail("is corrupt: a RAM run goes past the end of its section");
                }
                readFully(into, "the RAM section");
                crc.update(into.flip());
            }
            if (position() != end) {
                throw fail("is corrupt: the RAM section's length does not match its contents");
            }
            checkCrc(RAM, crc);
        }

        private long expect(String tag) throws SnapshotException {
            ByteBuffer head = read(12, "section " + tag);
            byte[] t = new byte[4];
            head.get(t);
            String got = new String(t, StandardCharsets.US_ASCII);
            if (!got.equals(tag)) {
                throw fail(String.format("is corrupt: section '%s' where '%s' belongs (byte %d)", printable(got), tag,
                    position() - 12));
            }
            long length = head.getLong();
            if (length < 0 || length > size - position()) {
                throw fail(String.format("is truncated: section %s claims %d bytes, %d are left", tag, length,
                    size - position()));
            }
            return length;
        }

        private void checkCrc(String tag, CRC32C crc) throws SnapshotException {
            ByteBuffer b = read(4, "the CRC of section " + tag);
            int stored = b.getInt();
            if (stored != (int) crc.getValue()) {
                throw fail(String.format("is corrupt: section %s fails its CRC32C check (stored %08x, computed %08x)",
                    tag, stored, (int) crc.getValue()));
            }
        }

        private long position() throws SnapshotException {
            try {
                return ch.position();
            } catch (IOException e) {
                throw new SnapshotException(path + ": " + e.getMessage(), e);
            }
        }

        private ByteBuffer read(int n, String what) throws SnapshotException {
            ByteBuffer b = ByteBuffer.allocate(n);
            readFully(b, what);
            return b.flip();
        }

        private void readFully(ByteBuffer b, String what) throws SnapshotException {
            try {
                while (b.hasRemaining()) {
                    if (ch.read(b) < 0) {
                        throw fail("is truncated: it ends in " + what + " (" + size + " bytes)");
                    }
                }
            } catch (IOException e) {
                throw new SnapshotException(path + ": reading " + what + ": " + e.getMessage(), e);
            }
        }

        SnapshotException fail(String what) {
            return new SnapshotException(path + " " + what);
        }

        @Override
        public void close() {
            try {
                ch.close();
            } catch (IOException e) {
                // read-only: nothing to lose
            }
        }
    }

    private static String printable(String s) {
        return s.chars().allMatch(c -> c >= 0x20 && c < 0x7F) ? s : "(binary)";
    }
}
