package org.jvisor.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A Linux eventfd: the doorbell between KVM (irqfd/ioeventfd) and the VMM's threads. */
public final class EventFd implements AutoCloseable {
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment writeBuf = arena.allocate(ValueLayout.JAVA_LONG);
    private final MemorySegment writeErrno = Libc.newErrnoSegment(arena);
    private final MemorySegment readBuf = arena.allocate(ValueLayout.JAVA_LONG);
    private final MemorySegment readErrno = Libc.newErrnoSegment(arena);

    private EventFd(int fd) {
        this.fd = fd;
    }

    static EventFd create() {
        return create(0);
    }

    /** A non-blocking eventfd, for a reader that waits in epoll and then {@link #drain()}s it. */
    static EventFd createNonBlocking() {
        return create(Libc.EFD_NONBLOCK);
    }

    private static EventFd create(int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Libc.newErrnoSegment(a);
            int fd = (int) Libc.EVENTFD.invokeExact(err, 0, Libc.EFD_CLOEXEC | flags);
            if (fd < 0) {
                throw new KvmException("eventfd", Libc.errno(err));
            }
            return new EventFd(fd);
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public int fd() {
        return fd;
    }

    /** Adds {@code n} to the counter, waking a reader (or making KVM inject the interrupt). */
    public synchronized void signal(long n) {
        writeBuf.set(ValueLayout.JAVA_LONG, 0, n);
        try {
            long rc = (long) Libc.WRITE.invokeExact(writeErrno, fd, writeBuf, 8L);
            if (rc != 8) {
                throw new KvmException("eventfd write", Libc.errno(writeErrno));
            }
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Blocks until the counter is non-zero, then returns and clears it. One reader thread only. */
    public long await() {
        try {
            long rc = (long) Libc.READ.invokeExact(readErrno, fd, readBuf, 8L);
            if (rc != 8) {
                throw new KvmException("eventfd read", Libc.errno(readErrno));
            }
            return readBuf.get(ValueLayout.JAVA_LONG, 0);
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Returns and clears the counter without waiting: 0 when it was 0 (a non-blocking eventfd only). */
    long drain() {
        try {
            long rc = (long) Libc.READ.invokeExact(readErrno, fd, readBuf, 8L);
            if (rc == 8) {
                return readBuf.get(ValueLayout.JAVA_LONG, 0);
            }
            int errno = Libc.errno(readErrno);
            if (errno == Libc.EAGAIN) {
                return 0;
            }
            throw new KvmException("eventfd read", errno);
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    @Override
    public void close() {
        Libc.close(fd);
        arena.close();
    }
}
