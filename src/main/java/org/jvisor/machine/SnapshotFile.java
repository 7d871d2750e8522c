package org.jvisor.machine;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
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
 *
 * <p>A live migration's stream has {@code RAMP} sections between {@code CONF} and {@code CPUS}:
 * passes over RAM made while the guest ran, in the RAM payload's form, each overwriting the pages
 * it lists; its final {@code RAM } section then lists the pages written since the last pass, zero
 * or not. The same bytes go to a file, a socket or a pipe: nothing is written out of order.
 */
final class SnapshotFile {
    static final byte[] MAGIC = "JVSNAPSH".getBytes(StandardCharsets.US_ASCII);
    /** The framing's version; each record inside carries its own. */
    static final int FORMAT_VERSION = 1;
    static final String CONF = "CONF", CPUS = "CPUS", DEVS = "DEVS", RAM = "RAM ", END = "END ";
    /** A live migration's pass over RAM while the guest runs (zero or more, before CPUS). */
    static final String RAMP = "RAMP";
    static final int PAGE = 4096;
    /** Pages per run at most: runs are written with one channel write each. */
    private static final int MAX_RUN = 256;
    /** Any section but RAM: vCPU and device records are kilobytes; a stream cannot make the reader allocate more. */
    static final int MAX_SECTION = 64 << 20;

    private SnapshotFile() {
    }

    /**
     * Writes a snapshot to an endpoint's stream, front to back (no seeking: the same bytes go to a
     * file, a socket or a pipe). {@link #finish()} commits it: a file appears whole or not at all.
     */
    static final class Writer implements AutoCloseable {
        private final MigrationEndpoint.Outgoing out;
        private final WritableByteChannel ch;
        private long written;
        private java.util.function.BooleanSupplier cancelled = () -> false;

        Writer(MigrationEndpoint.Outgoing out) throws IOException {
            this.out = out;
            this.ch = out.channel();
            ByteBuffer head = ByteBuffer.allocate(12);
            head.put(MAGIC).putInt(FORMAT_VERSION).flip();
            writeFully(head);
        }

        /** Abandons the snapshot at the next run of pages once {@code cancelled} says so (migrate_cancel). */
        void cancelWhen(java.util.function.BooleanSupplier cancelled) {
            this.cancelled = cancelled;
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

        /**
         * The RAM section from {@code ram} (its whole host mapping; the guest is stopped, so it
         * holds still): its non-zero pages. Returns the bytes of pages written.
         */
        long ram(MemorySegment ram) throws IOException {
            return pages(RAM, ram, nonZeroPages(ram));
        }

        /**
         * A section ({@code RAM } or a live migration's {@code RAMP} pass) of the pages of
         * {@code ram} set in {@code set} (bit p of word p/64), whatever they hold now: the set,
         * not the contents, fixes the section's length, so a running guest may go on writing
         * (a page it writes meanwhile is in the next pass). Returns the bytes of pages written.
         */
        long pages(String tag, MemorySegment ram, long[] set) throws IOException {
            long pages = ram.byteSize() / PAGE;
            long length = 12 + 8;           // size and page size; the end marker
            for (long p = 0; p < pages; ) {
                if (!isSet(set, p)) {
                    p++;
                    continue;
                }
                long first = p;
                while (p < pages && p - first < MAX_RUN && isSet(set, p)) {
                    p++;
                }
                length += 12 + (p - first) * PAGE;
            }
            CRC32C crc = new CRC32C();
            crc.update(tag.getBytes(StandardCharsets.US_ASCII));
            writeFully(header(tag, length));
            ByteBuffer meta = ByteBuffer.allocate(12).putLong(ram.byteSize()).putInt(PAGE).flip();
            crc.update(meta.duplicate());
            writeFully(meta);
            long pageBytes = 0;
            ByteBuffer copy = ByteBuffer.allocateDirect(MAX_RUN * PAGE);
            ByteBuffer run = ByteBuffer.allocate(12);
            long p = 0;
            while (p < pages) {
                if (!isSet(set, p)) {
                    p++;
                    continue;
                }
                long first = p;
                while (p < pages && p - first < MAX_RUN && isSet(set, p)) {
                    p++;
                }
                int count = (int) (p - first);
                if (cancelled.getAsBoolean()) {
                    throw new java.io.InterruptedIOException("cancelled");
                }
                run.clear().putLong(first).putInt(count).flip();
                crc.update(run);
                writeFully(run.rewind());
                // a copy: the CRC and the bytes sent must be of the same contents while the guest
                // (or a device's host-side I/O, even with the vCPUs stopped) writes
                copy.clear().limit(count * PAGE);
                MemorySegment.ofBuffer(copy).copyFrom(ram.asSlice(first * PAGE, (long) count * PAGE));
                crc.update(copy);
                writeFully(copy.rewind());
                pageBytes += (long) count * PAGE;
            }
            ByteBuffer end = ByteBuffer.allocate(8).putLong(-1).flip();
            crc.update(end.duplicate());
            writeFully(end);
            writeFully(ByteBuffer.allocate(4).putInt((int) crc.getValue()).flip());
            return pageBytes;
        }

        /** The END section, then the endpoint's commit (a file flushed and renamed, a stream delivered). */
        void finish() throws IOException {
            end();
            commit();
        }

        /** The END section: the stream is complete on this side. */
        void end() throws IOException {
            section(END, new byte[0]);
        }

        /** The endpoint's commit, after {@link #end()}: a file flushed and renamed, a stream's delivery confirmed. */
        void commit() throws IOException {
            out.commit();
        }

        /** Bytes written so far. */
        long written() {
            return written;
        }

        private void writeFully(ByteBuffer b) throws IOException {
            written += b.remaining();
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }

        /** Without {@link #finish()}, what was written is abandoned (a partial file removed). */
        @Override
        public void close() throws IOException {
            out.close();
        }
    }

    /** A writer of the snapshot file {@code path} (written beside it, renamed into place by finish). */
    static Writer toFile(java.nio.file.Path path) throws IOException {
        return new Writer(new MigrationEndpoint.File(path).openOutgoing());
    }

    /** A reader of the snapshot file {@code path}; messages name the file. */
    static Reader fromFile(java.nio.file.Path path) throws SnapshotException {
        MigrationEndpoint.Incoming in;
        try {
            in = new MigrationEndpoint.File(path).openIncoming();
        } catch (IOException e) {
            throw new SnapshotException(path + ": cannot open: " + e.getMessage(), e);
        }
        return new Reader(in, path.toString());
    }

    /** How much RAM one comparison with zeros covers while looking for non-zero pages. */
    private static final int ZERO_SCAN = 64 << 10;

    /**
     * The pages of {@code ram} that are not all zero, as a page set. A fresh guest's RAM is mostly
     * zero: each comparison covers {@value #ZERO_SCAN} bytes and gives the first non-zero byte, so
     * the calls go by non-zero pages, not by pages (a live migration's first pass waits for this).
     */
    static long[] nonZeroPages(MemorySegment ram) {
        long pages = ram.byteSize() / PAGE;
        long[] set = new long[(int) ((pages + 63) >>> 6)];
        MemorySegment zero = MemorySegment.ofArray(new byte[ZERO_SCAN]);
        long p = 0;
        while (p < pages) {
            long end = Math.min(pages, p + ZERO_SCAN / PAGE);
            long at = MemorySegment.mismatch(ram, p * PAGE, end * PAGE, zero, 0, (end - p) * PAGE);
            if (at < 0) {
                p = end;
                continue;
            }
            long page = p + at / PAGE;
            set[(int) (page >>> 6)] |= 1L << page;
            p = page + 1;
        }
        return set;
    }

    private static boolean isSet(long[] set, long p) {
        int w = (int) (p >>> 6);
        return w < set.length && (set[w] & (1L << p)) != 0;
    }

    private static ByteBuffer header(String tag, long length) {
        return ByteBuffer.allocate(12).put(tag.getBytes(StandardCharsets.US_ASCII)).putLong(length).flip();
    }

    /** Reads a snapshot section by section; every problem is a {@link SnapshotException} naming the file. */
    static final class Reader implements AutoCloseable {
        private final String path;
        private final MigrationEndpoint.Incoming in;
        private final ReadableByteChannel ch;
        /** The stream's length if known (a file), else Long.MAX_VALUE (a stream: its end tells). */
        private final long size;
        private long position;
        /** A section header read ahead by {@link #nextIs}: its tag and length. */
        private String peeked;
        private long peekedLength;

        /** Reads from {@code in}; messages name the stream {@code name} (the file, or the URI). */
        Reader(MigrationEndpoint.Incoming in, String name) throws SnapshotException {
            this.path = name;
            this.in = in;
            this.ch = in.channel();
            this.size = in.size() < 0 ? Long.MAX_VALUE : in.size();
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
            if (length > MAX_SECTION) {
                throw fail("section " + tag + " claims " + length + " bytes (at most " + MAX_SECTION + "); it is corrupt");
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
            ram(RAM, ram);
        }

        /**
         * Whether the next section is {@code tag} (a live migration's RAMP passes come before the
         * CPUS section of the final state); the section itself is then read as usual.
         */
        boolean nextIs(String tag) throws SnapshotException {
            if (peeked == null) {
                ByteBuffer head = read(12, "a section header");
                byte[] t = new byte[4];
                head.get(t);
                peeked = new String(t, StandardCharsets.US_ASCII);
                peekedLength = head.getLong();
            }
            return peeked.equals(tag);
        }

        /** A section of RAM pages ({@code RAM } or {@code RAMP}) into {@code ram}: the pages it lists are overwritten. */
        void ram(String tag, MemorySegment ram) throws SnapshotException {
            String crcTag = tag;
            long length = expect(tag);
            long end = position() + length;
            CRC32C crc = new CRC32C();
            crc.update(crcTag.getBytes(StandardCharsets.US_ASCII));
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
            checkCrc(tag, crc);
        }

        private long expect(String tag) throws SnapshotException {
            String got;
            long length;
            if (peeked != null) {
                got = peeked;
                length = peekedLength;
                peeked = null;
            } else {
                ByteBuffer head = read(12, "section " + tag);
                byte[] t = new byte[4];
                head.get(t);
                got = new String(t, StandardCharsets.US_ASCII);
                length = head.getLong();
            }
            if (!got.equals(tag)) {
                throw fail(String.format("is corrupt: section '%s' where '%s' belongs (byte %d)", printable(got), tag,
                    position() - 12));
            }
            if (length < 0 || size != Long.MAX_VALUE && length > size - position()) {
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

        private long position() {
            return position;
        }

        private ByteBuffer read(int n, String what) throws SnapshotException {
            ByteBuffer b = ByteBuffer.allocate(n);
            readFully(b, what);
            return b.flip();
        }

        private void readFully(ByteBuffer b, String what) throws SnapshotException {
            try {
                while (b.hasRemaining()) {
                    int n = ch.read(b);
                    if (n < 0) {
                        throw fail("is truncated: it ends in " + what + " (" + position + " bytes)");
                    }
                    position += n;
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
                in.close();
            } catch (IOException e) {
                // read-only: nothing to lose
            }
        }
    }

    private static String printable(String s) {
        return s.chars().allMatch(c -> c >= 0x20 && c < 0x7F) ? s : "(binary)";
    }
}
