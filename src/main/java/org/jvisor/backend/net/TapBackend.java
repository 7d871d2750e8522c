package org.jvisor.backend.net;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * A TAP device through /dev/net/tun (Linux Documentation/networking/tuntap.rst): opened with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, so each frame carries the virtio-net header and checksum and
 * segmentation offloads reach the host kernel; the header size is set with TUNSETVNETHDRSZ, the
 * offloads the guest accepts with TUNSETOFFLOAD. As QEMU does, it attaches to the tap named
 * {@code ifname} if it exists and creates it otherwise (a created tap goes away when jvisor ends).
 * The fd is non-blocking; one poller thread waits (poll) for frames only while armed.
 */
public final class TapBackend implements NetBackend {
    private final String netdevId;
    private final String ifname;
    private final int fd;
    private final int eventFd;
    private final int vnetHeaderSize;
    private final Consumer<String> log;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment rxErrno = TunLibc.newErrnoSegment(arena);
    private final MemorySegment txErrno = TunLibc.newErrnoSegment(arena);
    private final MemorySegment ctlErrno = TunLibc.newErrnoSegment(arena);
    private final MemorySegment pollFds = arena.allocate(16, 8);
    private final MemorySegment pollErrno = TunLibc.newErrnoSegment(arena);
    private final MemorySegment one = arena.allocate(JAVA_LONG);
    private final Object lock = new Object();
    private final Thread poller;
    private volatile Runnable listener;
    private boolean armed;
    private boolean closed;
    private byte[] rxArray;
    private MemorySegment rxHeap;
    private byte[] txArray;
    private MemorySegment txHeap;
    private boolean loggedDown;
    private int loggedErrors;

    private TapBackend(String netdevId, String ifname, int fd, int eventFd, int vnetHeaderSize, Consumer<String> log) {
        this.netdevId = netdevId;
        this.ifname = ifname;
        this.fd = fd;
        this.eventFd = eventFd;
        this.vnetHeaderSize = vnetHeaderSize;
        this.log = log;
        pollFds.set(JAVA_INT, 0, fd);
        pollFds.set(JAVA_SHORT, 4, TunLibc.POLLIN);
        pollFds.set(JAVA_INT, 8, eventFd);
        pollFds.set(JAVA_SHORT, 12, TunLibc.POLLIN);
        one.set(JAVA_LONG, 0, 1);
        poller = Thread.ofPlatform().daemon().name("tap-rx(" + ifname + ")").unstarted(this::pollLoop);
        poller.start();
    }

    /**
     * Opens (or creates) tap {@code ifname} for {@code -netdev tap,id=netdevId}; a null or empty
     * name lets the kernel pick tapN. Fails with a message naming the netdev and the tap when the
     * name is not a valid interface name, /dev/net/tun is missing or not accessible, the process may
     * not create or attach to the tap, the tap is in use, or the name belongs to another kind of
     * interface.
     */
    public static TapBackend open(String netdevId, String ifname, int vnetHeaderSize, Consumer<String> log) throws IOException {
        String what = "-netdev tap,id=" + netdevId;
        String name = ifname == null ? "" : ifname;
        if (!name.isEmpty()) {
            checkName(what, name);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = TunLibc.newErrnoSegment(a);
            int fd = (int) TunLibc.OPEN.invokeExact(err, a.allocateFrom("/dev/net/tun"),
                TunLibc.O_RDWR | TunLibc.O_NONBLOCK | TunLibc.O_CLOEXEC);
            if (fd < 0) {
                int e = TunLibc.errno(err);
                throw new IOException(what + ": cannot open /dev/net/tun: " + TunLibc.strerror(e)
                    + (e == TunLibc.ENOENT || e == TunLibc.ENODEV || e == TunLibc.ENXIO ? " (is the tun module loaded?)"
                    : e == TunLibc.EACCES || e == TunLibc.EPERM ? " (run as root, or give this user access to /dev/net/tun)" : ""));
            }
            boolean ok = false;
            try {
                MemorySegment feats = a.allocate(JAVA_INT);
                int rc = (int) TunLibc.IOCTL_PTR.invokeExact(err, fd, TunLibc.TUNGETFEATURES, feats);
                if (rc == 0 && (feats.get(JAVA_INT, 0) & TunLibc.IFF_VNET_HDR) == 0) {
                    throw new IOException(what + ": this kernel's tun driver has no IFF_VNET_HDR (virtio-net headers)");
                }
                MemorySegment ifr = a.allocate(TunLibc.IFREQ_SIZE, 8);
                byte[] n = name.getBytes(StandardCharsets.US_ASCII);
                MemorySegment.copy(n, 0, ifr, JAVA_BYTE, 0, n.length);
                ifr.set(JAVA_SHORT, TunLibc.IFNAMSIZ, (short) (TunLibc.IFF_TAP | TunLibc.IFF_NO_PI | TunLibc.IFF_VNET_HDR));
                rc = (int) TunLibc.IOCTL_PTR.invokeExact(err, fd, TunLibc.TUNSETIFF, ifr);
                if (rc < 0) {
                    throw new IOException(what + ": " + setIffError(name, TunLibc.errno(err)));
                }
                String actual = ifr.getString(0, StandardCharsets.US_ASCII);
                MemorySegment sz = a.allocate(JAVA_INT);
                sz.set(JAVA_INT, 0, vnetHeaderSize);
                rc = (int) TunLibc.IOCTL_PTR.invokeExact(err, fd, TunLibc.TUNSETVNETHDRSZ, sz);
                if (rc < 0) {
                    throw new IOException(what + ": tap " + actual + " refused a virtio-net header of " + vnetHeaderSize
                        + " bytes (TUNSETVNETHDRSZ): " + TunLibc.strerror(TunLibc.errno(err)));
                }
                rc = (int) TunLibc.IOCTL_LONG.invokeExact(err, fd, TunLibc.TUNSETOFFLOAD, 0L);
                if (rc < 0) {
                    throw new IOException(what + ": tap " + actual + ": TUNSETOFFLOAD: " + TunLibc.strerror(TunLibc.errno(err)));
                }
                int efd = (int) TunLibc.EVENTFD.invokeExact(err, 0, TunLibc.EFD_NONBLOCK | TunLibc.EFD_CLOEXEC);
                if (efd < 0) {
                    throw new IOException(what + ": eventfd: " + TunLibc.strerror(TunLibc.errno(err)));
                }
                ok = true;
                return new TapBackend(netdevId, actual, fd, efd, vnetHeaderSize, log);
            } finally {
                if (!ok) {
                    TunLibc.close(fd);
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The kernel's dev_valid_name: 1-15 bytes, not "." or "..", no '/', ':' or white space. */
    static void checkName(String what, String name) throws IOException {
        String bad = null;
        if (name.length() >= TunLibc.IFNAMSIZ) {
            bad = "longer than " + (TunLibc.IFNAMSIZ - 1) + " characters";
        } else if (name.equals(".") || name.equals("..")) {
            bad = "reserved";
        } else {
            for (int i = 0; i < name.length(); i++) {
                char c = name.charAt(i);
                if (c == '/' || c == ':' || Character.isWhitespace(c) || c < 0x21 || c > 0x7e) {
                    bad = "it contains '" + c + "'";
                    break;
                }
            }
        }
        if (bad != null) {
            throw new IOException(what + ": ifname=" + name + " is not a valid interface name (" + bad + ")");
        }
    }

    private static String setIffError(String name, int errno) {
        String tap = name.isEmpty() ? "a new tap" : "tap '" + name + "'";
        return switch (errno) {
            case TunLibc.EPERM, TunLibc.EACCES -> "no permission to create or attach to " + tap
                + " (needs CAP_NET_ADMIN, or a tap made for this user: ip tuntap add NAME mode tap user USER)";
            case TunLibc.EBUSY -> tap + " is busy: another process (another jvisor or QEMU?) is attached to it";
            case TunLibc.EINVAL -> "cannot attach to " + tap + ": an interface of that name exists but is not a tap"
                + " (a tun, a multiqueue tap, or another kind of device)";
            default -> "TUNSETIFF on " + tap + ": " + TunLibc.strerror(errno);
        };
    }

    /** The interface name (as the kernel chose it when none was given). */
    public String ifname() {
        return ifname;
    }

    @Override
    public String describe() {
        return "-netdev tap,id=" + netdevId + " (" + ifname + ")";
    }

    @Override
    public int vnetHeaderSize() {
        return vnetHeaderSize;
    }

    @Override
    public void setOffloads(Offloads o) throws IOException {
        long flags = 0;
        if (o.csum()) {
            flags |= TunLibc.TUN_F_CSUM;
            // TUNSETOFFLOAD refuses segmentation offloads without checksum offload.
            if (o.tso4()) {
                flags |= TunLibc.TUN_F_TSO4;
            }
            if (o.tso6()) {
                flags |= TunLibc.TUN_F_TSO6;
            }
            if (o.ecn() && (o.tso4() || o.tso6())) {
                flags |= TunLibc.TUN_F_TSO_ECN;
            }
        }
        int rc;
        synchronized (ctlErrno) {
            try {
                rc = (int) TunLibc.IOCTL_LONG.invokeExact(ctlErrno, fd, TunLibc.TUNSETOFFLOAD, flags);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            if (rc < 0) {
                throw new IOException(describe() + ": TUNSETOFFLOAD " + flags + ": " + TunLibc.strerror(TunLibc.errno(ctlErrno)));
            }
        }
    }

    @Override
    public void send(byte[] buf, int length) throws IOException {
        if (buf != txArray) {
            txArray = buf;
            txHeap = MemorySegment.ofArray(buf);
        }
        long n;
        try {
            n = (long) TunLibc.WRITE.invokeExact(txErrno, fd, txHeap, (long) length);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (n < 0) {
            int e = TunLibc.errno(txErrno);
            if (e == TunLibc.EIO) {
                // The tap is down (the kernel drops frames written to it), as a cable unplugged on the host side.
                if (!loggedDown) {
                    loggedDown = true;
                    log.accept(describe() + ": the tap is down; frames from the guest are dropped until it is up");
                }
                return;
            }
            if (e == TunLibc.EAGAIN || e == TunLibc.EINTR) {
                return;     // the host's queue is full: dropped, as a real NIC would on a full link
            }
            throw new IOException(describe() + ": write: " + TunLibc.strerror(e));
        }
        loggedDown = false;
    }

    @Override
    public int receive(byte[] buf) throws IOException {
        if (buf != rxArray) {
            rxArray = buf;
            rxHeap = MemorySegment.ofArray(buf);
        }
        while (true) {
            long n;
            try {
                n = (long) TunLibc.READ.invokeExact(rxErrno, fd, rxHeap, (long) buf.length);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            if (n >= 0) {
                return (int) n;
            }
            int e = TunLibc.errno(rxErrno);
            if (e == TunLibc.EAGAIN) {
                return 0;
            }
            if (e != TunLibc.EINTR) {
                throw new IOException(describe() + ": read: " + TunLibc.strerror(e));
            }
        }
    }

    @Override
    public void setReceiveListener(Runnable listener) {
        this.listener = listener;
    }

    @Override
    public void armReceive() {
        synchronized (lock) {
            armed = true;
            lock.notifyAll();
        }
    }

    @Override
    public void disarmReceive() {
        synchronized (lock) {
            armed = false;
        }
    }

    /** Waits while disarmed; while armed, polls the tap (and the eventfd that ends the thread). */
    private void pollLoop() {
        while (true) {
            synchronized (lock) {
                while (!armed && !closed) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) {
                    return;
                }
            }
            pollFds.set(JAVA_SHORT, 6, (short) 0);
            pollFds.set(JAVA_SHORT, 14, (short) 0);
            int rc;
            try {
                rc = (int) TunLibc.POLL.invokeExact(pollErrno, pollFds, 2L, -1);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            if (rc < 0) {
                int e = TunLibc.errno(pollErrno);
                if (e == TunLibc.EINTR) {
                    continue;
                }
                log.accept(describe() + ": poll: " + TunLibc.strerror(e) + "; no more frames are received");
                return;
            }
            if (pollFds.get(JAVA_SHORT, 14) != 0) {
                return;
            }
            if (pollFds.get(JAVA_SHORT, 6) != 0) {
                Runnable l;
                synchronized (lock) {
                    if (!armed) {
                        continue;
                    }
                    armed = false;
                    l = listener;
                }
                if (l != null) {
                    try {
                        l.run();
                    } catch (RuntimeException e) {
                        if (loggedErrors++ < 10) {
                            log.accept(describe() + ": receive: " + e);
                        }
                    }
                }
            }
        }
    }

    /** Stops the poller and closes the tap (a tap jvisor created goes away with it). */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            lock.notifyAll();
        }
        try {
            long n = (long) TunLibc.WRITE_NATIVE.invokeExact(eventFd, one, 8L);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        try {
            poller.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        TunLibc.close(fd);
        TunLibc.close(eventFd);
        arena.close();
    }
}
