package org.jvisor.backend.block;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
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
    private final long size;
    private final int alignment;
    private final ByteBuffer bounce;
    private final ByteBuffer zeros;
    private final int nativeFd;

    private RawFileBackend(Path path, FileChannel channel, FileLock lock, boolean readOnly, boolean direct, long size,
                           int alignment, int nativeFd) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
        this.readOnly = readOnly;
        this.direct = direct;
        this.size = size;
        this.alignment = alignment;
        this.nativeFd = nativeFd;
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
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null, "disk image does not exist");
        }
        if (Files.isDirectory(path)) {
            throw new IOException("disk image " + path + " is a directory");
        }
        List<OpenOption> opts = new ArrayList<>();
        opts.add(StandardOpenOption.READ);
        if (!readOnly) {
            opts.add(StandardOpenOption.WRITE);
        }
        boolean direct = cache == CacheMode.NONE;
        FileChannel ch = null;
        if (direct) {
            List<OpenOption> d = new ArrayList<>(opts);
            d.add(ExtendedOpenOption.DIRECT);
            try {
                ch = FileChannel.open(path, d.toArray(new OpenOption[0]));
            } catch (IOException | UnsupportedOperationException e) {
                warn.accept("disk image " + path + ": the filesystem refuses O_DIRECT (" + e.getMessage()
                    + "); cache=none falls back to the host page cache");
                direct = false;
            }
        }
        if (ch == null) {
            try {
                ch = FileChannel.open(path, opts.toArray(new OpenOption[0]));
            } catch (IOException e) {
                throw new IOException("cannot open disk image " + path + (readOnly ? "" : " for writing") + ": " + e, e);
            }
        }
        int fd = -1;
        try {
            fd = Native.open(path, readOnly);
            if (fd < 0) {
                throw new IOException("cannot open disk image " + path + (readOnly ? "" : " for writing"));
            }
            // An open-file-description lock (as QEMU): it conflicts with other opens in this process
            // too, and closing some other descriptor of the file does not drop it.
            int rc = Native.ofdLock(fd, !readOnly);
            FileLock lock = null;
            if (rc == Native.EINVAL) {
                // kernel without OFD locks: a process-wide POSIX lock through the channel
                try {
                    lock = ch.tryLock(0, Long.MAX_VALUE, readOnly);
                } catch (OverlappingFileLockException e) {
                    lock = null;
                }
                rc = lock == null ? Native.EAGAIN : 0;
            }
            if (rc != 0) {
                throw new IOException("disk image " + path + " is locked: another jvisor (or another disk of this one) "
                    + "is using it" + (readOnly ? " for writing" : "") + (rc == Native.EAGAIN || rc == Native.EACCES
                    ? "" : " (lock error " + rc + ")"));
            }
            long size = ch.size();
            if (size < SECTOR) {
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
            return new RawFileBackend(path, ch, lock, readOnly, direct, size, alignment, fd);
        } catch (IOException | RuntimeException e) {
            ch.close();
            Native.close(fd);
            throw e;
        }
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
        checkRange(offset, src.remaining());
        if (direct && !aligned(offset, src)) {
            bounced(offset, src, true);
            return;
        }
        long pos = offset;
        while (src.hasRemaining()) {
            pos += channel.write(src, pos);
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
        // A hint: punch a hole where the filesystem can, otherwise leave the data.
        Native.fallocate(nativeFd, Native.FALLOC_FL_KEEP_SIZE | Native.FALLOC_FL_PUNCH_HOLE, offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        if (readOnly) {
            throw new IOException(path + " is read-only");
        }
        checkRange(offset, length);
        int mode = Native.FALLOC_FL_KEEP_SIZE | (mayUnmap ? Native.FALLOC_FL_PUNCH_HOLE : Native.FALLOC_FL_ZERO_RANGE);
        if (Native.fallocate(nativeFd, mode, offset, length)) {
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
            Native.close(nativeFd);
        }
    }

    /**
     * A second descriptor of the image (FileChannel does not expose its own) for the OFD lock and
     * fallocate(2).
     */
    private static final class Native {
        static final int O_RDONLY = 0;
        static final int O_RDWR = 2;
        static final int F_OFD_SETLK = 37;
        static final int F_RDLCK = 0;
        static final int F_WRLCK = 1;
        static final int EACCES = 13;
        static final int EAGAIN = 11;
        static final int EINVAL = 22;
        static final int O_CLOEXEC = 0x80000;
        static final int FALLOC_FL_KEEP_SIZE = 1;
        static final int FALLOC_FL_PUNCH_HOLE = 2;
        static final int FALLOC_FL_ZERO_RANGE = 0x10;
        private static final MethodHandle OPEN;
        private static final MethodHandle CLOSE;
        private static final MethodHandle FALLOCATE;
        private static final MethodHandle FCNTL;
        private static final java.lang.foreign.StructLayout CAPTURE = Linker.Option.captureStateLayout();
        private static final java.lang.invoke.VarHandle ERRNO = CAPTURE.varHandle(
            java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));

        static {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            OPEN = linker.downcallHandle(libc.find("open").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            CLOSE = linker.downcallHandle(libc.find("close").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            FALLOCATE = linker.downcallHandle(libc.find("fallocate").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
            FCNTL = linker.downcallHandle(libc.find("fcntl").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS),
                Linker.Option.firstVariadicArg(2), Linker.Option.captureCallState("errno"));
        }

        /** Takes a whole-file OFD lock; returns 0 or the errno (EAGAIN/EACCES: held by someone else). */
        static int ofdLock(int fd, boolean exclusive) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment flock = arena.allocate(32, 8); // struct flock on x86-64, zeroed
                flock.set(ValueLayout.JAVA_SHORT, 0, (short) (exclusive ? F_WRLCK : F_RDLCK));
                flock.set(ValueLayout.JAVA_SHORT, 2, (short) 0); // SEEK_SET, start 0, len 0 = whole file
                MemorySegment state = arena.allocate(CAPTURE);
                int rc = (int) FCNTL.invokeExact(state, fd, F_OFD_SETLK, flock);
                return rc == 0 ? 0 : (int) ERRNO.get(state, 0L);
            } catch (Throwable t) {
                return EINVAL;
            }
        }

        static int open(Path path, boolean readOnly) {
            try (Arena arena = Arena.ofConfined()) {
                return (int) OPEN.invokeExact(arena.allocateFrom(path.toAbsolutePath().toString()),
                    (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
            } catch (Throwable t) {
                return -1;
            }
        }

        static void close(int fd) {
            if (fd >= 0) {
                try {
                    int unused = (int) CLOSE.invokeExact(fd);
                } catch (Throwable t) {
                    // nothing to do
                }
            }
        }

        /** True if the filesystem did it. */
        static boolean fallocate(int fd, int mode, long offset, long length) {
            if (fd < 0 || length == 0) {
                return fd >= 0;
            }
            try {
                return (int) FALLOCATE.invokeExact(fd, mode, offset, length) == 0;
            } catch (Throwable t) {
                return false;
            }
        }
    }
}
