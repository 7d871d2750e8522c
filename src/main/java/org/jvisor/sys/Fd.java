package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An open file descriptor, owned: {@link #close()} closes it once (a second close must not close
 * a number the kernel has since handed to someone else). The name (a path, "eventfd") is what
 * error messages show. Reads and writes allocate nothing: errno goes to the calling thread's
 * capture segment.
 */
public final class Fd implements AutoCloseable {
    // fcntl.h, x86-64 values
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_ACCMODE = 3;
    public static final int O_CREAT = 0x40;
    public static final int O_EXCL = 0x80;
    public static final int O_NOCTTY = 0x100;
    public static final int O_TRUNC = 0x200;
    public static final int O_APPEND = 0x400;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_DSYNC = 0x1000;
    public static final int O_DIRECT = 0x4000;
    public static final int O_DIRECTORY = 0x10000;
    public static final int O_NOFOLLOW = 0x20000;
    public static final int O_CLOEXEC = 0x80000;
    public static final int O_SYNC = 0x101000;

    /** fallocate(2) modes (linux/falloc.h). */
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;

    private static final int F_OFD_SETLK = 37;
    private static final int F_ADD_SEALS = 1033;
    /** memfd seals (fcntl(2), "File seals"). */
    public static final int F_SEAL_SEAL = 0x1;
    public static final int F_SEAL_SHRINK = 0x2;
    public static final int F_SEAL_GROW = 0x4;
    private static final short F_RDLCK = 0;
    private static final short F_WRLCK = 1;
    /** struct flock on x86-64: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid. */
    private static final MemoryLayout FLOCK = MemoryLayout.structLayout(
        JAVA_SHORT.withName("l_type"), JAVA_SHORT.withName("l_whence"), MemoryLayout.paddingLayout(4),
        JAVA_LONG.withName("l_start"), JAVA_LONG.withName("l_len"), JAVA_INT.withName("l_pid"),
        MemoryLayout.paddingLayout(4));

    static final FlagNames OPEN_FLAGS = new FlagNames("O_RDONLY")
        .field(O_ACCMODE, O_RDONLY, "O_RDONLY").field(O_ACCMODE, O_WRONLY, "O_WRONLY").field(O_ACCMODE, O_RDWR, "O_RDWR")
        .bit(O_CREAT, "O_CREAT").bit(O_EXCL, "O_EXCL").bit(O_NOCTTY, "O_NOCTTY").bit(O_TRUNC, "O_TRUNC")
        .bit(O_APPEND, "O_APPEND").bit(O_NONBLOCK, "O_NONBLOCK").field(O_SYNC, O_SYNC, "O_SYNC").bit(O_DSYNC, "O_DSYNC")
        .bit(O_DIRECT, "O_DIRECT").bit(O_DIRECTORY, "O_DIRECTORY").bit(O_NOFOLLOW, "O_NOFOLLOW").bit(O_CLOEXEC, "O_CLOEXEC");

    // downcall handles made on first use, one holder class each (see Mman)
    private static final class Open {
        static final MethodHandle H = Libc.variadic("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), 2);
    }
    private static final class Close {
        static final MethodHandle H = Libc.plain("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class Read {
        static final MethodHandle H = Libc.capturing("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Write {
        static final MethodHandle H = Libc.capturing("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class ReadNow {
        static final MethodHandle H = Libc.critical("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class WriteNow {
        static final MethodHandle H = Libc.critical("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    /** The same calls with the buffer as a plain address: a native buffer at an offset, without a slice object. */
    private static final class ReadAtAddress {
        static final MethodHandle H = Libc.critical("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG));
    }
    private static final class WriteAtAddress {
        static final MethodHandle H = Libc.critical("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG));
    }
    private static final class Pread {
        static final MethodHandle H = Libc.capturing("pread",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    }
    private static final class Pwrite {
        static final MethodHandle H = Libc.capturing("pwrite",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    }
    private static final class Fstat {
        static final MethodHandle H = Libc.capturing("fstat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    }
    /** sizeof(struct stat) and offsetof(st_size) on x86-64. */
    private static final long STAT_SIZE = 144;
    private static final long ST_SIZE = 48;
    private static final class Fsync {
        static final MethodHandle H = Libc.capturing("fsync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class Fdatasync {
        static final MethodHandle H = Libc.capturing("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class Ftruncate {
        static final MethodHandle H = Libc.capturing("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    }
    private static final class Fallocate {
        static final MethodHandle H = Libc.capturing("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    }
    private static final class FcntlInt {
        static final MethodHandle H = Libc.variadic("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), 2);
    }
    private static final int F_GETFD = 1;
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int F_SETFD = 2;
    private static final int FD_CLOEXEC = 1;
    private static final class FcntlPtr {
        static final MethodHandle H = Libc.variadic("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), 2);
    }

    private final int fd;
    private final String name;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Fd(int fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /** open(path, flags); {@link #O_CLOEXEC} is the caller's to add, as in C. */
    public static Fd open(String path, int flags) throws SysException {
        return open(path, flags, 0);
    }

    /** open(path, flags, mode), the mode applying when O_CREAT makes the file. */
    public static Fd open(String path, int flags, int mode) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int fd;
        try (Arena a = Arena.ofConfined()) {
            fd = (int) Open.H.invokeExact(s.capture, a.allocateFrom(path), flags, mode);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (fd < 0) {
            throw new SysException("open(" + path + ", " + OPEN_FLAGS.format(flags) + ")", s.errno());
        }
        return new Fd(fd, path);
    }

    /**
     * Takes ownership of a descriptor a system call returned (KVM_CREATE_VM, accept, a received
     * SCM_RIGHTS message); {@code name} is what error messages call it.
     */
    public static Fd adopt(int fd, String name) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a descriptor: " + fd + " (" + name + ")");
        }
        return new Fd(fd, name);
    }

    /**
     * Takes ownership of descriptor {@code fd} inherited from the parent process (a socket or
     * file libvirt passed with fd=N or -add-fd): checks that it is open and marks it close-on-exec,
     * so it goes to no process jvisor starts.
     *
     * @throws SysException EBADF if no such descriptor is open
     */
    public static Fd inherit(int fd, String name) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int flags;
        try {
            flags = fd < 0 ? -1 : (int) FcntlInt.H.invokeExact(s.capture, fd, F_GETFD, 0);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (flags < 0) {
            throw new SysException("descriptor " + fd + " (" + name + ")", fd < 0 ? Errno.EBADF.code() : s.errno());
        }
        try {
            int rc = (int) FcntlInt.H.invokeExact(s.capture, fd, F_SETFD, flags | FD_CLOEXEC);
            if (rc < 0) {
                throw new SysException("fcntl(" + fd + ", F_SETFD)", s.errno());
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        return new Fd(fd, name);
    }

    /** The descriptor number, for calls that take it (ioctl arguments, epoll, poll). */
    public int fd() {
        return fd;
    }

    public String name() {
        return name;
    }

    @Override
    public String toString() {
        return name + " (fd " + fd + ")";
    }

    /** read(2) into {@code buf} (native memory); the count, 0 at end of file. */
    public long read(MemorySegment buf) throws SysException {
        return checked("read", transfer(Read.H, buf, buf.byteSize()));
    }

    /** write(2) of {@code buf} (native memory); the count written. */
    public long write(MemorySegment buf) throws SysException {
        return checked("write", transfer(Write.H, buf, buf.byteSize()));
    }

    /**
     * read(2) of up to {@code length} bytes on a <em>non-blocking</em> descriptor, into native or
     * heap memory (a critical call: it must not wait, and it reads straight into a byte[]): the
     * count, or -errno (-EAGAIN when nothing is there).
     */
    public long readNow(MemorySegment buf, long length) {
        return transfer(ReadNow.H, buf, length);
    }

    /** write(2) of {@code length} bytes on a non-blocking descriptor, as {@link #readNow}: the count, or -errno. */
    public long writeNow(MemorySegment buf, long length) {
        return transfer(WriteNow.H, buf, length);
    }

    /**
     * {@link #readNow} into bytes {@code [offset, offset + length)} of a native buffer (a ring or
     * staging buffer read at its free end): no slice is made, so nothing is allocated.
     */
    public long readNow(MemorySegment nativeBuf, long offset, long length) {
        return transferAt(ReadAtAddress.H, nativeBuf, offset, length);
    }

    /** {@link #writeNow} of bytes {@code [offset, offset + length)} of a native buffer, as {@link #readNow(MemorySegment, long, long)}. */
    public long writeNow(MemorySegment nativeBuf, long offset, long length) {
        return transferAt(WriteAtAddress.H, nativeBuf, offset, length);
    }

    private long transferAt(MethodHandle h, MemorySegment buf, long offset, long length) {
        if (!buf.isNative()) {
            throw new IllegalArgumentException("not a native buffer: " + buf);
        }
        Objects.checkFromIndexSize(offset, length, buf.byteSize());
        Libc.Scratch s = Libc.scratch();
        long n;
        try {
            n = (long) h.invokeExact(s.capture, fd, buf.address() + offset, length);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        return n < 0 ? -s.errno() : n;
    }


    /** pread(2) into {@code buf} (native memory) from {@code offset}; the count, 0 at end of file. */
    public long pread(MemorySegment buf, long offset) throws SysException {
        return checkedAt("pread", offset, positioned(Pread.H, buf, offset));
    }

    /** pwrite(2) of {@code buf} (native memory) at {@code offset}; the count written. */
    public long pwrite(MemorySegment buf, long offset) throws SysException {
        return checkedAt("pwrite", offset, positioned(Pwrite.H, buf, offset));
    }

    /** read or write through {@code h}: the count, or -errno. */
    private long transfer(MethodHandle h, MemorySegment buf, long length) {
        Libc.Scratch s = Libc.scratch();
        long n;
        try {
            n = (long) h.invokeExact(s.capture, fd, buf, length);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        return n < 0 ? -s.errno() : n;
    }

    /** pread or pwrite of the whole of {@code buf} through {@code h}: the count, or -errno. */
    private long positioned(MethodHandle h, MemorySegment buf, long offset) {
        Libc.Scratch s = Libc.scratch();
        long n;
        try {
            n = (long) h.invokeExact(s.capture, fd, buf, buf.byteSize(), offset);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        return n < 0 ? -s.errno() : n;
    }

    /** {@code n}, or the failure of {@code call} on this descriptor when it is -errno. */
    private long checked(String call, long n) throws SysException {
        if (n < 0) {
            throw new SysException(call + "(" + name + ")", (int) -n);
        }
        return n;
    }

    private long checkedAt(String call, long offset, long n) throws SysException {
        if (n < 0) {
            throw new SysException(call + "(" + name + ", offset " + offset + ")", (int) -n);
        }
        return n;
    }

    /**
     * fstat(2)'s st_size: the length of the file (or memfd) behind the descriptor, so a mapping
     * of it can be checked to end inside it (touching a mapped page past the end is SIGBUS).
     */
    public long size() throws SysException {
        Libc.Scratch s = Libc.scratch();
        int rc;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(STAT_SIZE, 8);
            rc = (int) Fstat.H.invokeExact(s.capture, fd, st);
            if (rc == 0) {
                return st.get(JAVA_LONG, ST_SIZE);
            }
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        throw new SysException("fstat(" + name + ")", s.errno());
    }

    public void fsync() throws SysException {
        checked("fsync", call(Fsync.H));
    }

    public void fdatasync() throws SysException {
        checked("fdatasync", call(Fdatasync.H));
    }

    private int call(MethodHandle h) {
        Libc.Scratch s = Libc.scratch();
        try {
            int rc = (int) h.invokeExact(s.capture, fd);
            return rc < 0 ? -s.errno() : rc;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    public void ftruncate(long length) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int rc;
        try {
            rc = (int) Ftruncate.H.invokeExact(s.capture, fd, length);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (rc < 0) {
            throw new SysException("ftruncate(" + name + ", " + length + ")", s.errno());
        }
    }

    /** fallocate(2): {@code mode} 0 allocates; FALLOC_FL_* punch holes or zero ranges. */
    public void fallocate(int mode, long offset, long length) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int rc;
        try {
            rc = (int) Fallocate.H.invokeExact(s.capture, fd, mode, offset, length);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (rc < 0) {
            throw new SysException("fallocate(" + name + ", mode " + mode + ", offset " + offset + ", " + length + " bytes)",
                s.errno());
        }
    }

    /**
     * Takes an open-file-description lock on the whole file (fcntl F_OFD_SETLK), exclusive or
     * shared, without waiting: true if taken, false if another description holds a conflicting one
     * (EAGAIN/EACCES). OFD locks belong to this open, so they conflict with other opens in this
     * process too and survive the closing of other descriptors of the file, unlike POSIX locks.
     * EINVAL means a kernel older than 3.15, without OFD locks.
     */
    public boolean tryLock(boolean exclusive) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int rc;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment flock = a.allocate(FLOCK); // zeroed: SEEK_SET, start 0, length 0 = whole file
            flock.set(JAVA_SHORT, 0, exclusive ? F_WRLCK : F_RDLCK);
            rc = (int) FcntlPtr.H.invokeExact(s.capture, fd, F_OFD_SETLK, flock);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (rc == 0) {
            return true;
        }
        int e = s.errno();
        if (e == Errno.EAGAIN.code() || e == Errno.EACCES.code()) {
            return false;
        }
        throw new SysException("fcntl(" + name + ", F_OFD_SETLK, " + (exclusive ? "F_WRLCK" : "F_RDLCK") + ")", e);
    }

    /**
     * Sets O_NONBLOCK on the open file description (fcntl F_SETFL), so a read or write of this
     * descriptor never waits (EAGAIN instead). The description may be shared with another process
     * (a received descriptor): the flag is then set for it too.
     */
    public void setNonBlocking() throws SysException {
        Libc.Scratch s = Libc.scratch();
        try {
            int flags = (int) FcntlInt.H.invokeExact(s.capture, fd, F_GETFL, 0);
            if (flags < 0) {
                throw new SysException("fcntl(" + name + ", F_GETFL)", s.errno());
            }
            if ((flags & O_NONBLOCK) == 0 && (int) FcntlInt.H.invokeExact(s.capture, fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                throw new SysException("fcntl(" + name + ", F_SETFL, O_NONBLOCK)", s.errno());
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** fcntl(F_ADD_SEALS): a memfd created with MFD_ALLOW_SEALING refuses what {@code seals} forbid from now on. */
    public void addSeals(int seals) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int rc;
        try {
            rc = (int) FcntlInt.H.invokeExact(s.capture, fd, F_ADD_SEALS, seals);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (rc < 0) {
            throw new SysException("fcntl(" + name + ", F_ADD_SEALS, " + seals + ")", s.errno());
        }
    }

    /** ioctl with an integer argument; {@code requestName} is for the message. */
    public int ioctl(String requestName, long request, long arg) throws SysException {
        return checkIoctl(requestName, Ioctl.raw(fd, request, arg));
    }

    /** ioctl with a pointer argument; {@code requestName} is for the message. */
    public int ioctl(String requestName, long request, MemorySegment arg) throws SysException {
        return checkIoctl(requestName, Ioctl.raw(fd, request, arg));
    }

    private int checkIoctl(String requestName, int rc) throws SysException {
        if (rc < 0) {
            throw new SysException("ioctl(" + name + ", " + requestName + ")", -rc);
        }
        return rc;
    }

    /**
     * Closes the descriptor, once. Errors are not reported: Linux frees the number whatever close
     * returns, so there is nothing to retry, and data errors surface through fsync.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                int unused = (int) Close.H.invokeExact(fd);
            } catch (Throwable t) {
                throw Libc.unexpected(t);
            }
        }
    }
}
