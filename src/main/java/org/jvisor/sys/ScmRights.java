package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * Passing descriptors over a Unix socket (unix(7), SCM_RIGHTS): sendmsg with the descriptors in a
 * control message, recvmsg that turns the ones received into owned {@link Fd}s. Each message is
 * a small native frame built per call; these are control messages (vhost-user setup), not a data
 * path.
 */
public final class ScmRights {
    /** The kernel's SCM_MAX_FD: descriptors per message. */
    public static final int MAX_FDS = 253;

    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int MSG_CMSG_CLOEXEC = 0x4000_0000;

    /** struct msghdr on x86-64. */
    private static final MemoryLayout MSGHDR = MemoryLayout.structLayout(
        ADDRESS.withName("msg_name"), JAVA_INT.withName("msg_namelen"), MemoryLayout.paddingLayout(4),
        ADDRESS.withName("msg_iov"), JAVA_LONG.withName("msg_iovlen"),
        ADDRESS.withName("msg_control"), JAVA_LONG.withName("msg_controllen"),
        JAVA_INT.withName("msg_flags"), MemoryLayout.paddingLayout(4));
    /** struct iovec. */
    private static final MemoryLayout IOVEC = MemoryLayout.structLayout(ADDRESS.withName("iov_base"), JAVA_LONG.withName("iov_len"));
    /** struct cmsghdr; the data follows at CMSG_ALIGN(sizeof(struct cmsghdr)) = 16. */
    private static final MemoryLayout CMSGHDR = MemoryLayout.structLayout(
        JAVA_LONG.withName("cmsg_len"), JAVA_INT.withName("cmsg_level"), JAVA_INT.withName("cmsg_type"));
    private static final long MSG_IOV = offset(MSGHDR, "msg_iov");
    private static final long MSG_IOVLEN = offset(MSGHDR, "msg_iovlen");
    private static final long MSG_CONTROL = offset(MSGHDR, "msg_control");
    private static final long MSG_CONTROLLEN = offset(MSGHDR, "msg_controllen");
    private static final long MSG_FLAGS = offset(MSGHDR, "msg_flags");
    private static final long CMSG_LEVEL = offset(CMSGHDR, "cmsg_level");
    private static final long CMSG_TYPE = offset(CMSGHDR, "cmsg_type");

    // downcall handles made on first use, one holder class each (see Mman)
    private static final class Sendmsg {
        static final MethodHandle H = Libc.capturing("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Recvmsg {
        static final MethodHandle H = Libc.capturing("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }

    private ScmRights() {
    }

    /**
     * What {@link #receive} got: the byte count (0 when the peer closed), the descriptors, now
     * this process's to close, and whether some were dropped because {@code maxFds} was too small.
     */
    public record Received(long bytes, List<Fd> fds, boolean truncated) {
        public Received {
            fds = List.copyOf(fds);
        }
    }

    private static long offset(MemoryLayout l, String field) {
        return l.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    /** CMSG_ALIGN: control data is padded to sizeof(size_t). */
    private static long align(long n) {
        return (n + 7) & ~7L;
    }

    /** Sends {@code data} (native memory) with {@code fds} attached; the bytes sent. No SIGPIPE on a closed peer (EPIPE instead). */
    public static long send(Fd socket, MemorySegment data, int... fds) throws SysException {
        if (fds.length > MAX_FDS) {
            throw new IllegalArgumentException(fds.length + " descriptors in one message; the kernel takes at most " + MAX_FDS);
        }
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment msg = header(a, data);
            if (fds.length > 0) {
                long len = CMSGHDR.byteSize() + 4L * fds.length;
                MemorySegment control = a.allocate(align(len), 8);
                control.set(JAVA_LONG, 0, len);
                control.set(JAVA_INT, CMSG_LEVEL, SOL_SOCKET);
                control.set(JAVA_INT, CMSG_TYPE, SCM_RIGHTS);
                for (int i = 0; i < fds.length; i++) {
                    control.set(JAVA_INT, CMSGHDR.byteSize() + 4L * i, fds[i]);
                }
                msg.set(ADDRESS, MSG_CONTROL, control);
                msg.set(JAVA_LONG, MSG_CONTROLLEN, control.byteSize());
            }
            long n = (long) Sendmsg.H.invokeExact(s.capture, socket.fd(), msg, MSG_NOSIGNAL);
            if (n < 0) {
                throw new SysException("sendmsg(" + socket.name() + ", " + fds.length + " fds)", s.errno());
            }
            return n;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /**
     * Receives up to {@code buf.byteSize()} bytes (native memory) and at least {@code maxFds}
     * descriptors (the control buffer is padded to 8 bytes, so one more may fit), opened
     * close-on-exec; the kernel closes those that did not fit. Waits if the socket is blocking.
     */
    public static Received receive(Fd socket, MemorySegment buf, int maxFds) throws SysException {
        if (maxFds < 0 || maxFds > MAX_FDS) {
            throw new IllegalArgumentException("maxFds " + maxFds + " (0.." + MAX_FDS + ")");
        }
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment msg = header(a, buf);
            if (maxFds > 0) {
                MemorySegment control = a.allocate(CMSGHDR.byteSize() + align(4L * maxFds), 8);
                msg.set(ADDRESS, MSG_CONTROL, control);
                msg.set(JAVA_LONG, MSG_CONTROLLEN, control.byteSize());
            }
            long n = (long) Recvmsg.H.invokeExact(s.capture, socket.fd(), msg, MSG_CMSG_CLOEXEC);
            if (n < 0) {
                throw new SysException("recvmsg(" + socket.name() + ")", s.errno());
            }
            List<Fd> fds = maxFds > 0 ? descriptors(msg, socket.name()) : List.of();
            return new Received(n, fds, (msg.get(JAVA_INT, MSG_FLAGS) & MSG_CTRUNC) != 0);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** A msghdr with one iovec over {@code data} and no control data yet. */
    private static MemorySegment header(Arena a, MemorySegment data) {
        MemorySegment msg = a.allocate(MSGHDR);
        MemorySegment iov = a.allocate(IOVEC);
        iov.set(ADDRESS, 0, data);
        iov.set(JAVA_LONG, 8, data.byteSize());
        msg.set(ADDRESS, MSG_IOV, iov);
        msg.set(JAVA_LONG, MSG_IOVLEN, 1);
        return msg;
    }

    /** The SCM_RIGHTS descriptors in the control messages the kernel filled in (CMSG_FIRSTHDR/CMSG_NXTHDR). */
    private static List<Fd> descriptors(MemorySegment msg, String from) {
        long length = msg.get(JAVA_LONG, MSG_CONTROLLEN);
        MemorySegment control = msg.get(ADDRESS, MSG_CONTROL).reinterpret(length);
        List<Fd> fds = new ArrayList<>();
        long at = 0;
        while (at + CMSGHDR.byteSize() <= length) {
            long len = control.get(JAVA_LONG, at);
            if (len < CMSGHDR.byteSize() || at + len > length) {
                break;
            }
            if (control.get(JAVA_INT, at + CMSG_LEVEL) == SOL_SOCKET && control.get(JAVA_INT, at + CMSG_TYPE) == SCM_RIGHTS) {
                for (long p = at + CMSGHDR.byteSize(); p + 4 <= at + len; p += 4) {
                    fds.add(Fd.adopt(control.get(JAVA_INT, p), "fd from " + from));
                }
            }
            at += align(len);
        }
        return fds;
    }
}
