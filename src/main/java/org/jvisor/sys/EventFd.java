package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

/**
 * A Linux eventfd (eventfd(2)): a 64-bit counter behind a descriptor, the doorbell between KVM
 * (irqfd, ioeventfd), the VMM's threads and, later, other processes. Writes add to the counter and
 * wake a reader; a read returns the counter and clears it. Signal and read use the calling
 * thread's scratch word, so they allocate nothing and any number of threads may signal at once.
 */
public final class EventFd implements AutoCloseable {
    public static final int EFD_SEMAPHORE = 0x1;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;

    // downcall handles made on first use, one holder class each (see Mman)
    private static final class Eventfd {
        static final MethodHandle H = Libc.capturing("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Read {
        static final MethodHandle H = Libc.capturing("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Write {
        static final MethodHandle H = Libc.capturing("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }

    private final Fd fd;

    private EventFd(Fd fd) {
        this.fd = fd;
    }

    /** A blocking eventfd: {@link #await()} waits for a signal. */
    public static EventFd create() throws SysException {
        return create(0);
    }

    /** A non-blocking eventfd, for a reader that waits in epoll or poll and then {@link #drain()}s it. */
    public static EventFd createNonBlocking() throws SysException {
        return create(EFD_NONBLOCK);
    }

    private static EventFd create(int flags) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int fd;
        try {
            fd = (int) Eventfd.H.invokeExact(s.capture, 0, EFD_CLOEXEC | flags);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (fd < 0) {
            throw new SysException("eventfd(0, " + ((flags & EFD_NONBLOCK) != 0 ? "EFD_CLOEXEC|EFD_NONBLOCK" : "EFD_CLOEXEC") + ")",
                s.errno());
        }
        return new EventFd(Fd.adopt(fd, "eventfd"));
    }

    public int fd() {
        return fd.fd();
    }

    /** Adds {@code n} to the counter, waking a reader (or making KVM inject the interrupt). */
    public void signal(long n) throws SysException {
        Libc.Scratch s = Libc.scratch();
        s.word.set(JAVA_LONG, 0, n);
        long rc;
        try {
            rc = (long) Write.H.invokeExact(s.capture, fd.fd(), s.word, 8L);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (rc != 8) {
            throw new SysException("write(eventfd " + fd.fd() + ")", s.errno());
        }
    }

    /**
     * Returns the counter and clears it; a blocking eventfd waits until it is non-zero, a
     * non-blocking one fails with EAGAIN when it is zero.
     */
    public long await() throws SysException {
        Libc.Scratch s = Libc.scratch();
        int errno = read(s);
        if (errno != 0) {
            throw new SysException("read(eventfd " + fd.fd() + ")", errno);
        }
        return s.word.get(JAVA_LONG, 0);
    }

    /** Returns and clears the counter without waiting: 0 when it was 0 (a non-blocking eventfd only). */
    public long drain() throws SysException {
        Libc.Scratch s = Libc.scratch();
        int errno = read(s);
        if (errno == Errno.EAGAIN.code()) {
            return 0;
        }
        if (errno != 0) {
            throw new SysException("read(eventfd " + fd.fd() + ")", errno);
        }
        return s.word.get(JAVA_LONG, 0);
    }

    /** Reads the counter into the scratch word: 0, or the errno (the counter may use all 64 bits). */
    private int read(Libc.Scratch s) {
        long rc;
        try {
            rc = (long) Read.H.invokeExact(s.capture, fd.fd(), s.word, 8L);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        return rc == 8 ? 0 : s.errno();
    }

    @Override
    public void close() {
        fd.close();
    }
}
