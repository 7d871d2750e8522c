package org.jvisor.backend.block;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.jvisor.sys.Errno;
import org.jvisor.sys.Fd;
import org.jvisor.sys.SysException;

/**
 * A raw disk image in a host file. Positional reads and writes go through one {@link FileChannel}
 * (thread-safe, no shared file position) straight into the caller's buffers. The image is locked
 * with an advisory open-file-description lock for the life of the backend (exclusive when writable,
 * shared when read-only; a process-wide POSIX lock on kernels without OFD locks)
 * so a second jvisor on the same image is refused. {@link CacheMode#NONE} opens it O_DIRECT;
 * unaligned requests then go through an aligned bounce buffer.
 */
public final class RawFileBackend implements BlockBackend {
    public static final int SECTOR = 512;
    private static final int BOUNCE_SIZE = 1 << 20;
    private static final int ZERO_CHUNK = 1 << 16;

    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;
    private final boolean readOnly;
    private final boolean direct;
    /** A container file (the qcow2 layer's host file): writes past the end grow it. */
    private final boolean growable;
    private volatile long size;
    private final int alignment;
    private final ByteBuffer bounce;
    private final ByteBuffer zeros;
    /** A second descriptor of the image (FileChannel does not expose its own), for the OFD lock and fallocate(2). */
    private final Fd fd;
    /** discard=unmap: discards punch holes and write-zeroes may; with ignore neither gives space back. */
    private final boolean unmap;

    private RawFileBackend(Path path, FileChannel channel, FileLock lock, boolean readOnly, boolean direct, long size,
                           int alignment, Fd fd, boolean growable, boolean unmap) {
        this.path = path;
        this.unmap = unmap;
        this.growable = growable;
        this.channel = channel;
        this.lock = lock;
        this.readOnly = readOnly;
        this.direct = direct;
        this.size = size;
        this.alignment = alignment;
        this.fd = fd;
        this.bounce = direct ? ByteBuffer.allocateDirect(BOUNCE_SIZE + alignment).alignedSlice(alignment) : null;
        this.zeros = ByteBuffer.allocateDirect(ZERO_CHUNK + 4096).alignedSlice(4096).limit(ZERO_CHUNK).slice();
    }

    /** Opens a writable image with the page cache (cache=writeback). */
    public static RawFileBackend open(Path path) throws IOException {
        return open(path, false, CacheMode.WRITEBACK, msg -> System.err.println("jvisor: " + msg));
    }

    /**
     * Opens {@code path}. Fails with a message naming the image if it does not exist, cannot be
     * opened, is locked by another process, or is smaller than one 512-byte sector. If the
     * filesystem refuses O_DIRECT, {@code warn} is told and the image is opened with the page cache.
     */
    public static RawFileBackend open(Path path, boolean readOnly, CacheMode cache, Consumer<String> warn)
            throws IOException {
        return open(path, readOnly, cache, DiscardMode.UNMAP, warn, false);
    }

    /** As {@link #open(Path, boolean, CacheMode, Consumer)}, the guest's discards handled as {@code discard} says. */
    public static RawFileBackend open(Path path, boolean readOnly, CacheMode cache, DiscardMode discard,
                                      Consumer<String> warn) throws IOException {
        return open(path, readOnly, cache, discard, warn, false);
    }

    /**
     * Opens the host file under an image format (qcow2's "file" child, as QEMU's file-posix
     * protocol): any size is accepted and writes past the end grow the file.
     */
    public static RawFileBackend openContainer(Path path, boolean readOnly, CacheMode cache, Consumer<String> warn)
            throws IOException {
        return open(path, readOnly, cache, DiscardMode.UNMAP, warn, true);
    }

    /**
     * As {@link #openContainer(Path, boolean, CacheMode, Consumer)}; {@code discard} decides whether
     * the format layer's freed clusters are punched out of the file (QEMU's file node inherits it).
     */
    public static RawFileBackend openContainer(Path path, boolean readOnly, CacheMode cache, DiscardMode discard,
                                               Consumer<String> warn) throws IOException {
        return open(path, readOnly, cache, discard, warn, true);
    }

    private static RawFileBackend open(Path path, boolean readOnly, CacheMode cache, DiscardMode discard,
                                       Consumer<String> warn, boolean growable) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null, "disk image does not exist");
        }
        if (Files.isDirectory(path)) {
            throw new IOException("disk image " + path + " is a directory");
        }
        Fd fd;
        try {
            fd = Fd.open(path.toAbsolutePath().toString(), (readOnly ? Fd.O_RDONLY : Fd.O_RDWR) | Fd.O_CLOEXEC);
        } catch (SysException e) {
            throw new IOException(cannotOpen(path, readOnly) + e.getMessage(), e);
        }
        FileChannel ch = null;
        try {
            boolean direct = cache == CacheMode.NONE;
            if (direct) {
                try {
                    ch = openChannel(path, readOnly, true);
                } catch (IOException | UnsupportedOperationException e) {
                    warn.accept("disk image " + path + ": the filesystem refuses O_DIRECT (" + e.getMessage()
                        + "); cache=none falls back to the host page cache");
                    direct = false;
                }
            }
            if (ch == null) {
                try {
                    ch = openChannel(path, readOnly, false);
                } catch (IOException e) {
                    throw new IOException(cannotOpen(path, readOnly) + e, e);
                }
            }
            FileLock lock = lock(path, fd, ch, readOnly);
            long size = ch.size();
            if (size < SECTOR && !growable) {
                throw new IOException("disk image " + path + " is " + size + " bytes: smaller than one "
                    + SECTOR + "-byte sector");
            }
            int alignment = SECTOR;
            if (direct) {
                try {
                    alignment = (int) Math.max(SECTOR, Math.min(Files.getFileStore(path).getBlockSize(), 1 << 16));
                } catch (IOException | UnsupportedOperationException e) {
                    alignment = 4096;
                }
            }
            return new RawFileBackend(path, ch, lock, readOnly, direct, size, alignment, fd, growable,
                discard == DiscardMode.UNMAP);
        } catch (IOException | RuntimeException e) {
            if (ch != null) {
                ch.close();
            }
            fd.close();
            throw e;
        }
    }

    private static String cannotOpen(Path path, boolean readOnly) {
        return "cannot open disk image " + path + (readOnly ? "" : " for writing") + ": ";
    }

    /** The channel for the data path. */
    private static FileChannel openChannel(Path path, boolean readOnly, boolean direct) throws IOException {
        List<OpenOption> opts = new ArrayList<>();
        opts.add(StandardOpenOption.READ);
        if (!readOnly) {
            opts.add(StandardOpenOption.WRITE);
        }
        if (direct) {
            opts.add(ExtendedOpenOption.DIRECT);
        }
        return FileChannel.open(path, opts.toArray(new OpenOption[0]));
    }

    /**
     * Locks the image for this backend: an open-file-description lock (as QEMU), which conflicts
     * with other opens in this process too and which closing some other descriptor of the file does
     * not drop; on kernels without OFD locks (EINVAL), a process-wide POSIX lock through the channel.
     * Returns the POSIX lock, or null when the OFD lock holds it.
     */
    private static FileLock lock(Path path, Fd fd, FileChannel ch, boolean readOnly) throws IOException {
        boolean locked;
        FileLock lock = null;
        try {
            locked = fd.tryLock(!readOnly);
        } catch (SysException e) {
            if (!e.is(Errno.EINVAL)) {
                throw new IOException("disk image " + path + ": cannot lock it: " + e.getMessage(), e);
            }
            try {
                lock = ch.tryLock(0, Long.MAX_VALUE, readOnly);
            } catch (OverlappingFileLockException overlap) {
                lock = null;
            }
            locked = lock != null;
        }
        if (!locked) {
            throw new IOException("disk image " + path + " is locked: another jvisor (or another disk of this one) "
                + "is using it" + (readOnly ? " for writing" : ""));
        }
        return lock;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    /** Whether the image is really open O_DIRECT (cache=none was honoured). */
    public boolean direct() {
        return direct;
    }

    @Override
    public boolean synchronousOnPageCache() {
        return !direct;
    }

    @Override
    public String describe() {
        return path.toString();
    }

    private void checkRange(long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || offset + length > size || offset + length < offset) {
            throw new IOException(String.format("%s: access [%d, +%d) beyond the image size %d", path, offset, length, size));
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        checkRange(offset, dst.remaining());
        if (direct && !aligned(offset, dst)) {
            bounced(offset, dst, false);
            return;
        }
        long pos = offset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                throw new IOException(path + ": unexpected end of file at " + pos);
            }
            pos += n;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        if (readOnly) {
            throw new IOException(path + " is read-only");
        }
        if (growable) {
            if (offset < 0 || offset + src.remaining() < offset) {
                throw new IOException(String.format("%s: write at %d is not a file offset", path, offset));
            }
            grow(offset + src.remaining());
        } else {
            checkRange(offset, src.remaining());
        }
        if (direct && !aligned(offset, src)) {
            bounced(offset, src, true);
            return;
        }
        long pos = offset;
        while (src.hasRemaining()) {
            pos += channel.write(src, pos);
        }
    }

    private synchronized void grow(long end) {
        if (end > size) {
            size = end;
        }
    }

    private boolean aligned(long offset, ByteBuffer b) {
        if (!b.isDirect()) {
            return false;
        }
        long mask = alignment - 1;
        long addr = MemorySegment.ofBuffer(b).address();
        return (offset & mask) == 0 && (addr & mask) == 0 && (b.remaining() & mask) == 0;
    }

    /** O_DIRECT with an unaligned request: whole aligned blocks through the bounce buffer (read-modify-write). */
    private void bounced(long offset, ByteBuffer buf, boolean write) throws IOException {
        synchronized (bounce) {
            long mask = alignment - 1;
            while (buf.hasRemaining()) {
                long start = offset & ~mask;
                int lead = (int) (offset - start);
                int n = Math.min(buf.remaining(), BOUNCE_SIZE - lead);
                int span = (int) ((lead + n + mask) & ~mask);
                bounce.clear().limit(span);
                if (!write || lead != 0 || (n & mask) != 0) {
                    long pos = start;
                    while (bounce.hasRemaining()) {
                        int r = channel.read(bounce, pos);
                        if (r <= 0) {
                            break; // past the end of an image whose size is not block-aligned
                        }
                        pos += r;
                        if ((pos & mask) != 0) {
                            break; // a short read at the end of the file: O_DIRECT cannot read on from there
                        }
                    }
                    while (bounce.hasRemaining()) {
                        bounce.put((byte) 0);
                    }
                }
                if (write) {
                    bounce.put(lead, buf, buf.position(), n);
                    bounce.clear().limit(span);
                    long pos = start;
                    while (bounce.hasRemaining()) {
                        pos += channel.write(bounce, pos);
                    }
                    if (start + span > size) {
                        channel.truncate(size);
                    }
                } else {
                    buf.put(buf.position(), bounce, lead, n);
                }
                buf.position(buf.position() + n);
                offset += n;
            }
        }
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) {
            channel.force(true);
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        if (readOnly) {
            throw new IOException(path + " is read-only");
        }
        checkRange(offset, length);
        if (!unmap) {
            return;                                 // discard=ignore: completed, nothing changes
        }
        // A hint: punch a hole where the filesystem can, otherwise leave the data.
        fallocate(Fd.FALLOC_FL_KEEP_SIZE | Fd.FALLOC_FL_PUNCH_HOLE, offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        if (readOnly) {
            throw new IOException(path + " is read-only");
        }
        checkRange(offset, length);
        // QEMU drops the guest's may-unmap flag unless discard=unmap (bdrv_co_do_pwrite_zeroes)
        int mode = Fd.FALLOC_FL_KEEP_SIZE | (mayUnmap && unmap ? Fd.FALLOC_FL_PUNCH_HOLE : Fd.FALLOC_FL_ZERO_RANGE);
        if (fallocate(mode, offset, length)) {
            return;
        }
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int n = (int) Math.min(ZERO_CHUNK, end - pos);
            ByteBuffer z = zeros.duplicate().limit(n);
            write(pos, z);
            pos += n;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            if (lock != null && lock.isValid()) {
                lock.release();
            }
        } finally {
            channel.close();
            fd.close();
        }
    }

    /**
     * True if the filesystem did it; false if it could not (EOPNOTSUPP where the filesystem lacks
     * the mode), and the caller writes zeros or, for a discard, leaves the data.
     */
    private boolean fallocate(int mode, long offset, long length) {
        if (length == 0) {
            return true;
        }
        try {
            fd.fallocate(mode, offset, length);
            return true;
        } catch (SysException e) {
            return false;
        }
    }
}
