package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;

/**
 * Unix domain sockets (unix(7)) as descriptors: socket pairs, a listening socket at a path,
 * connect, accept. The JDK's own channels cannot carry descriptors; these can, with
 * {@link ScmRights} (vhost-user hands memory and eventfds over such a socket). TCP sockets
 * (ip(7), ipv6(7)) too, for backends that also take an inherited descriptor (-netdev stream).
 */
public final class Sockets {
    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_SEQPACKET = 5;
    public static final int SOCK_NONBLOCK = 0x800;
    public static final int SOCK_CLOEXEC = 0x80000;

    /** struct sockaddr_un: sa_family_t sun_family, char sun_path[108]. */
    private static final MemoryLayout SOCKADDR_UN = MemoryLayout.structLayout(
        JAVA_SHORT.withName("sun_family"), MemoryLayout.sequenceLayout(108, JAVA_BYTE).withName("sun_path"));
    private static final long SUN_PATH = 2;

    // downcall handles made on first use, one holder class each (see Mman)
    private static final class Socket {
        static final MethodHandle H = Libc.capturing("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Socketpair {
        static final MethodHandle H = Libc.capturing("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class Bind {
        static final MethodHandle H = Libc.capturing("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Listen {
        static final MethodHandle H = Libc.capturing("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Link {
        static final MethodHandle H = Libc.capturing("link", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }
    private static final class Connect {
        static final MethodHandle H = Libc.capturing("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Accept4 {
        static final MethodHandle H = Libc.capturing("accept4",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    }

    private static final class Shutdown {
        static final MethodHandle H = Libc.capturing("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Getsockopt {
        static final MethodHandle H = Libc.capturing("getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }
    /** shutdown(2)'s how: no more receptions and transmissions. */
    public static final int SHUT_RDWR = 2;
    private static final int SOL_SOCKET = 1;
    private static final int SO_ACCEPTCONN = 30;
    private static final int SO_REUSEADDR = 2;
    private static final int SO_TYPE = 3;
    private static final class Setsockopt {
        static final MethodHandle H = Libc.capturing("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }

    private Sockets() {
    }

    /**
     * shutdown(2): ends the socket's traffic; a thread blocked in read or accept on it returns (a
     * plain close would leave it waiting). Errors (a socket already shut) are of no interest.
     */
    public static void shutdown(Fd fd, int how) {
        try {
            int rc = (int) Shutdown.H.invokeExact(Libc.scratch().capture, fd.fd(), how);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** Whether {@code fd} is a socket that listens (SO_ACCEPTCONN); false for any other descriptor. */
    public static boolean isListening(Fd fd) {
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = a.allocate(JAVA_INT);
            MemorySegment len = a.allocateFrom(JAVA_INT, 4);
            int rc = (int) Getsockopt.H.invokeExact(s.capture, fd.fd(), SOL_SOCKET, SO_ACCEPTCONN, value, len);
            return rc == 0 && value.get(JAVA_INT, 0) != 0;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** Whether {@code fd} is a stream socket (SO_TYPE is SOCK_STREAM); false for any other descriptor. */
    public static boolean isStream(Fd fd) {
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = a.allocate(JAVA_INT);
            MemorySegment len = a.allocateFrom(JAVA_INT, 4);
            int rc = (int) Getsockopt.H.invokeExact(s.capture, fd.fd(), SOL_SOCKET, SO_TYPE, value, len);
            return rc == 0 && value.get(JAVA_INT, 0) == SOCK_STREAM;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /**
     * A TCP socket bound to {@code address}:{@code port} (SO_REUSEADDR, as QEMU sets it, so a
     * restarted server may bind while old connections linger) and listening.
     */
    public static Fd listenTcp(InetAddress address, int port, int backlog) throws SysException {
        String what = tcpName(address, port);
        Fd fd = tcpSocket(address, what);
        boolean ok = false;
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocateFrom(JAVA_INT, 1);
            if ((int) Setsockopt.H.invokeExact(s.capture, fd.fd(), SOL_SOCKET, SO_REUSEADDR, one, 4) != 0) {
                throw new SysException("setsockopt(" + what + ", SO_REUSEADDR)", s.errno());
            }
            MemorySegment addr = inetAddress(a, address, port);
            if ((int) Bind.H.invokeExact(s.capture, fd.fd(), addr, (int) addr.byteSize()) != 0) {
                throw new SysException("bind(" + what + ")", s.errno());
            }
            if ((int) Listen.H.invokeExact(s.capture, fd.fd(), backlog) != 0) {
                throw new SysException("listen(" + what + ")", s.errno());
            }
            ok = true;
            return fd;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        } finally {
            if (!ok) {
                fd.close();
            }
        }
    }

    /** A TCP socket connected to {@code address}:{@code port} (waits as connect(2) does). */
    public static Fd connectTcp(InetAddress address, int port) throws SysException {
        String what = tcpName(address, port);
        Fd fd = tcpSocket(address, what);
        boolean ok = false;
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = inetAddress(a, address, port);
            if ((int) Connect.H.invokeExact(s.capture, fd.fd(), addr, (int) addr.byteSize()) != 0) {
                throw new SysException("connect(" + what + ")", s.errno());
            }
            ok = true;
            return fd;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        } finally {
            if (!ok) {
                fd.close();
            }
        }
    }

    private static String tcpName(InetAddress address, int port) {
        return (address instanceof Inet6Address ? "[" + address.getHostAddress() + "]" : address.getHostAddress()) + ":" + port;
    }

    private static Fd tcpSocket(InetAddress address, String what) throws SysException {
        int family = address instanceof Inet6Address ? AF_INET6 : AF_INET;
        Libc.Scratch s = Libc.scratch();
        int fd;
        try {
            fd = (int) Socket.H.invokeExact(s.capture, family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (fd < 0) {
            throw new SysException("socket(" + (family == AF_INET6 ? "AF_INET6" : "AF_INET") + ", SOCK_STREAM)", s.errno());
        }
        return Fd.adopt(fd, what);
    }

    /** struct sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes); the port in network byte order. */
    private static MemorySegment inetAddress(Arena a, InetAddress address, int port) {
        byte[] ip = address.getAddress();
        boolean v6 = address instanceof Inet6Address;
        MemorySegment addr = a.allocate(v6 ? 28 : 16, 4);
        addr.set(JAVA_SHORT, 0, (short) (v6 ? AF_INET6 : AF_INET));
        addr.set(JAVA_BYTE, 2, (byte) (port >>> 8));
        addr.set(JAVA_BYTE, 3, (byte) port);
        MemorySegment.copy(ip, 0, addr, JAVA_BYTE, v6 ? 8 : 4, ip.length);
        if (v6 && address instanceof Inet6Address a6) {
            addr.set(JAVA_INT, 24, a6.getScopeId());
        }
        return addr;
    }

    /** Two connected sockets; closing the pair closes both. */
    public record Pair(Fd first, Fd second) implements AutoCloseable {
        @Override
        public void close() {
            first.close();
            second.close();
        }
    }

    /** socketpair(AF_UNIX, type | SOCK_CLOEXEC): {@code type} is SOCK_STREAM, SOCK_SEQPACKET or SOCK_DGRAM. */
    public static Pair socketPair(int type) throws SysException {
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sv = a.allocate(JAVA_INT, 2);
            int rc = (int) Socketpair.H.invokeExact(s.capture, AF_UNIX, type | SOCK_CLOEXEC, 0, sv);
            if (rc != 0) {
                throw new SysException("socketpair(AF_UNIX, " + type + ")", s.errno());
            }
            return new Pair(Fd.adopt(sv.getAtIndex(JAVA_INT, 0), "socketpair"),
                Fd.adopt(sv.getAtIndex(JAVA_INT, 1), "socketpair"));
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /**
     * A stream socket bound to {@code path} and listening (the path must not exist yet; if it does,
     * EADDRINUSE as bind(2) says it). The path appears only once the socket listens: a bound socket
     * refuses connections until listen(2), and on a cold JVM the Java between the two calls takes
     * milliseconds, long enough for a client that waits for the path and then connects (a script,
     * QEMU as a vhost-user front end) to meet ECONNREFUSED. So the socket is bound under a name of
     * this process's beside {@code path}, listens, and is then linked to {@code path}: link(2) is
     * atomic and, unlike rename(2), never replaces another server's socket. Where that name would
     * not fit sun_path, the socket is bound at {@code path} directly.
     */
    public static Fd listen(String path, int backlog) throws SysException {
        String staging = stagingName(path);
        if (staging == null) {
            return listenAt(path, path, backlog);
        }
        unlinkQuietly(staging);                                  // left by an earlier process of this pid
        Fd fd = listenAt(staging, path, backlog);
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            int rc = (int) Link.H.invokeExact(s.capture, a.allocateFrom(staging), a.allocateFrom(path));
            if (rc != 0) {
                int errno = s.errno();
                fd.close();
                throw new SysException("bind(" + path + ")", errno == Errno.EEXIST.code() ? Errno.EADDRINUSE.code() : errno);
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            fd.close();
            throw Libc.unexpected(t);
        } finally {
            unlinkQuietly(staging);
        }
        return fd;
    }

    /** {@code .NAME.PID.listen} beside {@code path}, or null where it would not fit sun_path. */
    private static String stagingName(String path) {
        int slash = path.lastIndexOf('/');
        String staging = path.substring(0, slash + 1) + "." + path.substring(slash + 1) + "."
            + ProcessHandle.current().pid() + ".listen";
        return staging.getBytes(StandardCharsets.UTF_8).length < SOCKADDR_UN.byteSize() - SUN_PATH ? staging : null;
    }

    private static void unlinkQuietly(String path) {
        try {
            java.nio.file.Files.deleteIfExists(java.nio.file.Path.of(path));
        } catch (java.io.IOException | java.nio.file.InvalidPathException e) {
            // the link is made or refused either way; a leftover name is harmless and replaced next time
        }
    }

    /** A socket bound at {@code bindPath} and listening; errors name {@code path}, the caller's. */
    private static Fd listenAt(String bindPath, String path, int backlog) throws SysException {
        Fd fd = addressed(bindPath, path, Bind.H, "bind");
        Libc.Scratch s = Libc.scratch();
        int rc;
        try {
            rc = (int) Listen.H.invokeExact(s.capture, fd.fd(), backlog);
        } catch (Throwable t) {
            fd.close();
            throw Libc.unexpected(t);
        }
        if (rc != 0) {
            SysException e = new SysException("listen(" + path + ")", s.errno());
            fd.close();
            throw e;
        }
        return fd;
    }

    /** A stream socket connected to the listener at {@code path}. */
    public static Fd connect(String path) throws SysException {
        return addressed(path, Connect.H, "connect");
    }

    /** A new stream socket given {@code path} by {@code call} (bind or connect); closed again if that fails. */
    private static Fd addressed(String path, MethodHandle call, String callName) throws SysException {
        return addressed(path, path, call, callName);
    }

    /** As {@link #addressed(String, MethodHandle, String)}, the descriptor and errors named {@code name}. */
    private static Fd addressed(String path, String name, MethodHandle call, String callName) throws SysException {
        Fd fd = socket(name);
        boolean ok = false;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = address(a, callName, path);
            Libc.Scratch s = Libc.scratch();
            int rc = (int) call.invokeExact(s.capture, fd.fd(), addr, (int) addr.byteSize());
            if (rc != 0) {
                throw new SysException(callName + "(" + name + ")", s.errno());
            }
            ok = true;
            return fd;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        } finally {
            if (!ok) {
                fd.close();
            }
        }
    }

    /** Waits for and accepts a connection on {@code listener}. */
    public static Fd accept(Fd listener) throws SysException {
        return accept(listener, 0);
    }

    /** accept4(2) with {@code flags} (SOCK_NONBLOCK) besides SOCK_CLOEXEC; on a non-blocking listener, EAGAIN when none waits. */
    public static Fd accept(Fd listener, int flags) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int fd;
        try {
            fd = (int) Accept4.H.invokeExact(s.capture, listener.fd(), MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC | flags);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (fd < 0) {
            throw new SysException("accept(" + listener.name() + ")", s.errno());
        }
        return Fd.adopt(fd, listener.name());
    }

    private static Fd socket(String path) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int fd;
        try {
            fd = (int) Socket.H.invokeExact(s.capture, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (fd < 0) {
            throw new SysException("socket(AF_UNIX, SOCK_STREAM)", s.errno());
        }
        return Fd.adopt(fd, path);
    }

    /** sockaddr_un for {@code path}; too long a path is refused as the kernel would (its sun_path has 108 bytes with the NUL). */
    private static MemorySegment address(Arena a, String call, String path) throws SysException {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        long room = SOCKADDR_UN.byteSize() - SUN_PATH;
        if (p.length >= room) {
            throw new SysException(call + "(" + path + ": " + p.length + " bytes, at most " + (room - 1) + ")",
                Errno.ENAMETOOLONG.code());
        }
        MemorySegment addr = a.allocate(SOCKADDR_UN);
        addr.set(JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(p, 0, addr, JAVA_BYTE, SUN_PATH, p.length);
        return addr;
    }
}
