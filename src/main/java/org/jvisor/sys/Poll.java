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

/**
 * A fixed set of descriptors to wait on with poll(2), for a thread that watches a few (a tap and
 * the eventfd that stops it). The array of struct pollfd lives with this object, so waiting
 * allocates nothing; one thread waits.
 */
public final class Poll implements AutoCloseable {
    public static final short POLLIN = 0x001;
    public static final short POLLPRI = 0x002;
    public static final short POLLOUT = 0x004;
    public static final short POLLERR = 0x008;
    public static final short POLLHUP = 0x010;
    public static final short POLLNVAL = 0x020;

    /** struct pollfd: int fd, short events, short revents. */
    private static final MemoryLayout POLLFD = MemoryLayout.structLayout(
        JAVA_INT.withName("fd"), JAVA_SHORT.withName("events"), JAVA_SHORT.withName("revents"));
    private static final long EVENTS = 4;
    private static final long REVENTS = 6;

    // downcall handles made on first use, one holder class each (see Mman)
    private static final class PollCall {
        static final MethodHandle H = Libc.capturing("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }

    private final Arena arena = Arena.ofShared();
    private final int count;
    private final MemorySegment fds;

    /** A set of {@code count} entries, each ignored (fd -1) until {@link #watch} sets it. */
    public Poll(int count) {
        this.count = count;
        this.fds = arena.allocate(POLLFD, count);
        for (int i = 0; i < count; i++) {
            fds.set(JAVA_INT, i * POLLFD.byteSize(), -1);
        }
    }

    /** Entry {@code i} waits for {@code events} (POLLIN...) on {@code fd}. */
    public void watch(int i, int fd, short events) {
        long at = i * POLLFD.byteSize();
        fds.set(JAVA_INT, at, fd);
        fds.set(JAVA_SHORT, at + EVENTS, events);
    }

    /**
     * Waits up to {@code timeoutMillis} (-1: for ever) until an entry is ready: how many are (0 on
     * timeout); {@link #revents} tells which. A signal ends the wait with EINTR.
     */
    public int await(int timeoutMillis) throws SysException {
        for (int i = 0; i < count; i++) {
            fds.set(JAVA_SHORT, i * POLLFD.byteSize() + REVENTS, (short) 0);
        }
        Libc.Scratch s = Libc.scratch();
        int n;
        try {
            n = (int) PollCall.H.invokeExact(s.capture, fds, (long) count, timeoutMillis);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (n < 0) {
            throw new SysException("poll(" + count + " fds)", s.errno());
        }
        return n;
    }

    /** What the last {@link #await} found on entry {@code i} (POLLIN, POLLHUP...; 0 if nothing). */
    public short revents(int i) {
        return fds.get(JAVA_SHORT, i * POLLFD.byteSize() + REVENTS);
    }

    /** Frees the set; the waiter must have stopped. */
    @Override
    public void close() {
        arena.close();
    }
}
