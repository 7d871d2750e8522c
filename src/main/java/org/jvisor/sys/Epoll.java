package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * An epoll instance (epoll(7)) with its event buffers: descriptors are added with a 64-bit datum
 * that {@link #await} hands back for each ready one. Registration may come from any thread (it is
 * serialised here); one thread waits. Waiting allocates nothing.
 */
public final class Epoll implements AutoCloseable {
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLPRI = 0x002;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    public static final int EPOLLRDHUP = 0x2000;
    public static final int EPOLLET = 1 << 31;

    private static final int EPOLL_CLOEXEC = 0x80000;
    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLL_CTL_DEL = 2;
    private static final int EPOLL_CTL_MOD = 3;

    /** struct epoll_event is packed on x86-64 (__EPOLL_PACKED): u32 events, then u64 data at offset 4. */
    static final MemoryLayout EPOLL_EVENT = MemoryLayout.structLayout(
        JAVA_INT.withName("events"), JAVA_LONG_UNALIGNED.withName("data"));
    private static final long DATA = EPOLL_EVENT.byteOffset(MemoryLayout.PathElement.groupElement("data"));

    // downcall handles made on first use, one holder class each (see Mman)
    private static final class Create {
        static final MethodHandle H = Libc.capturing("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class Ctl {
        static final MethodHandle H = Libc.capturing("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class Wait {
        static final MethodHandle H = Libc.capturing("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    }

    private final Fd epfd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment ctlEvent = arena.allocate(EPOLL_EVENT);
    private final int maxEvents;
    private final MemorySegment events;

    private Epoll(Fd epfd, int maxEvents) {
        this.epfd = epfd;
        this.maxEvents = maxEvents;
        this.events = arena.allocate(EPOLL_EVENT, maxEvents);
    }

    /** An epoll instance whose {@link #await} reports up to {@code maxEvents} ready descriptors at a time. */
    public static Epoll create(int maxEvents) throws SysException {
        if (maxEvents < 1) {
            throw new IllegalArgumentException("maxEvents " + maxEvents);
        }
        Libc.Scratch s = Libc.scratch();
        int fd;
        try {
            fd = (int) Create.H.invokeExact(s.capture, EPOLL_CLOEXEC);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (fd < 0) {
            throw new SysException("epoll_create1(EPOLL_CLOEXEC)", s.errno());
        }
        return new Epoll(Fd.adopt(fd, "epoll"), maxEvents);
    }

    /** Watches {@code fd} for {@code events} (EPOLLIN...); {@code data} comes back when it is ready. */
    public void add(int fd, int events, long data) throws SysException {
        ctl(EPOLL_CTL_ADD, "EPOLL_CTL_ADD", fd, events, data);
    }

    public void modify(int fd, int events, long data) throws SysException {
        ctl(EPOLL_CTL_MOD, "EPOLL_CTL_MOD", fd, events, data);
    }

    public void delete(int fd) throws SysException {
        ctl(EPOLL_CTL_DEL, "EPOLL_CTL_DEL", fd, 0, 0);
    }

    private synchronized void ctl(int op, String opName, int fd, int events, long data) throws SysException {
        ctlEvent.set(JAVA_INT, 0, events);
        ctlEvent.set(JAVA_LONG_UNALIGNED, DATA, data);
        Libc.Scratch s = Libc.scratch();
        int rc;
        try {
            rc = (int) Ctl.H.invokeExact(s.capture, epfd.fd(), op, fd, ctlEvent);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (rc < 0) {
            throw new SysException("epoll_ctl(" + opName + ", fd " + fd + ")", s.errno());
        }
    }

    /**
     * Waits up to {@code timeoutMillis} (-1: for ever) for ready descriptors: how many there are
     * (0 on timeout); {@link #data} and {@link #events} read them. A signal ends the wait with
     * EINTR, which the caller usually retries.
     */
    public int await(int timeoutMillis) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int n;
        try {
            n = (int) Wait.H.invokeExact(s.capture, epfd.fd(), events, maxEvents, timeoutMillis);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (n < 0) {
            throw new SysException("epoll_wait(" + epfd.fd() + ")", s.errno());
        }
        return n;
    }

    /** The datum of ready descriptor {@code i} of the last {@link #await}. */
    public long data(int i) {
        return events.get(JAVA_LONG_UNALIGNED, i * EPOLL_EVENT.byteSize() + DATA);
    }

    /** The ready events (EPOLLIN...) of descriptor {@code i} of the last {@link #await}. */
    public int events(int i) {
        return events.get(JAVA_INT, i * EPOLL_EVENT.byteSize());
    }

    /** Closes the instance; the waiter must have stopped. */
    @Override
    public void close() {
        epfd.close();
        arena.close();
    }
}
