package org.jvisor.backend.net;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

import org.jvisor.sys.Errno;
import org.jvisor.sys.EventFd;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Poll;
import org.jvisor.sys.SysException;

/**
 * A TAP device through /dev/net/tun (Linux Documentation/networking/tuntap.rst): opened with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, so each frame carries the virtio-net header and checksum and
 * segmentation offloads reach the host kernel; the header size is set with TUNSETVNETHDRSZ, the
 * offloads the guest accepts with TUNSETOFFLOAD. As QEMU does, it attaches to the tap named
 * {@code ifname} if it exists and creates it otherwise (a created tap goes away when jvisor ends).
 * The fd is non-blocking, so frames move between the device's byte[] and the tap with critical
 * calls and no copy; one poller thread waits (poll) for frames only while armed.
 */
public final class TapBackend implements NetBackend {
    private final String netdevId;
    private final String ifname;
    private final Fd tap;
    /** Signalled by {@link #close()} to end the poller. */
    private final EventFd stop;
    private final Poll poll = new Poll(2);
    private final int vnetHeaderSize;
    private final Consumer<String> log;
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

    private TapBackend(String netdevId, String ifname, Fd tap, EventFd stop, int vnetHeaderSize, Consumer<String> log) {
        this.netdevId = netdevId;
        this.ifname = ifname;
        this.tap = tap;
        this.stop = stop;
        this.vnetHeaderSize = vnetHeaderSize;
        this.log = log;
        poll.watch(0, tap.fd(), Poll.POLLIN);
        poll.watch(1, stop.fd(), Poll.POLLIN);
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
        Fd fd;
        try {
            fd = Fd.open(Tun.DEVICE, Fd.O_RDWR | Fd.O_NONBLOCK | Fd.O_CLOEXEC);
        } catch (SysException e) {
            throw new IOException(what + ": cannot open " + Tun.DEVICE + ": " + e.getMessage() + switch (e.errno()) {
                case ENOENT, ENODEV, ENXIO -> " (is the tun module loaded?)";
                case EACCES, EPERM -> " (run as root, or give this user access to " + Tun.DEVICE + ")";
                default -> "";
            }, e);
        }
        boolean ok = false;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment feats = a.allocate(JAVA_INT);
            try {
                fd.ioctl("TUNGETFEATURES", Tun.TUNGETFEATURES, feats);
                if ((feats.get(JAVA_INT, 0) & Tun.IFF_VNET_HDR) == 0) {
                    throw new IOException(what + ": this kernel's tun driver has no IFF_VNET_HDR (virtio-net headers)");
                }
            } catch (SysException e) {
                // a kernel without TUNGETFEATURES: TUNSETIFF tells
            }
            MemorySegment ifr = a.allocate(Tun.IFREQ_SIZE, 8);
            byte[] n = name.getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(n, 0, ifr, JAVA_BYTE, 0, n.length);
            ifr.set(JAVA_SHORT, Tun.IFNAMSIZ, (short) (Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR));
            try {
                fd.ioctl("TUNSETIFF", Tun.TUNSETIFF, ifr);
            } catch (SysException e) {
                throw new IOException(what + ": " + setIffError(name, e), e);
            }
            String actual = ifr.getString(0, StandardCharsets.US_ASCII);
            TapBackend b = attached(what, netdevId, actual, fd, vnetHeaderSize, log);
            ok = true;
            return b;
        } finally {
            if (!ok) {
                fd.close();
            }
        }
    }

    /**
     * For {@code -netdev tap,fd=N} and netdev_add's {@code fd=NAME}: takes over {@code fd}, a
     * /dev/net/tun descriptor another process (libvirt) already attached to a tap with
     * TUNSETIFF, and closes it on failure as QEMU does. It must be a tap (not a tun) opened with
     * IFF_VNET_HDR, which libvirt sets for virtio NICs; TUNGETIFF tells, as QEMU 7.2's
     * tap_probe_vnet_hdr asks it (net/tap-linux.c), and its failure is reported in QEMU's words.
     * The descriptor is made non-blocking (QEMU does too: SCM_RIGHTS keeps the sender's mode).
     */
    public static TapBackend adopt(String netdevId, Fd fd, int vnetHeaderSize, Consumer<String> log) throws IOException {
        String what = "-netdev tap,id=" + netdevId + ",fd=" + fd.fd();
        boolean ok = false;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(Tun.IFREQ_SIZE, 8);
            try {
                fd.ioctl("TUNGETIFF", Tun.TUNGETIFF, ifr);
            } catch (SysException e) {
                throw new IOException(what + ": Unable to query TUNGETIFF on FD " + fd.fd() + ": " + e.errno().description()
                    + " (the descriptor must be /dev/net/tun attached to a tap, as libvirt passes it)", e);
            }
            String name = ifr.getString(0, StandardCharsets.US_ASCII);
            int flags = Short.toUnsignedInt(ifr.get(JAVA_SHORT, Tun.IFNAMSIZ));
            if ((flags & Tun.IFF_TAP) == 0) {
                throw new IOException(what + ": " + name + " is a tun (IP) device, not a tap: virtio-net needs Ethernet frames");
            }
            if ((flags & Tun.IFF_VNET_HDR) == 0) {
                throw new IOException(what + ": tap " + name + " was attached without IFF_VNET_HDR; jvisor's virtio-net"
                    + " needs the virtio-net header on the tap (libvirt sets it for model type='virtio')");
            }
            try {
                fd.setNonBlocking();
            } catch (SysException e) {
                throw new IOException(what + ": " + netdevId + ": Can't use file descriptor " + fd.fd() + ": " + e.getMessage(), e);
            }
            TapBackend b = attached(what, netdevId, name, fd, vnetHeaderSize, log);
            ok = true;
            return b;
        } finally {
            if (!ok) {
                fd.close();
            }
        }
    }

    /** Sets up tap {@code name} on {@code fd} (attached, non-blocking, IFF_VNET_HDR) and starts its poller. */
    private static TapBackend attached(String what, String netdevId, String name, Fd fd, int vnetHeaderSize,
                                       Consumer<String> log) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sz = a.allocate(JAVA_INT);
            sz.set(JAVA_INT, 0, vnetHeaderSize);
            try {
                fd.ioctl("TUNSETVNETHDRSZ", Tun.TUNSETVNETHDRSZ, sz);
            } catch (SysException e) {
                throw new IOException(what + ": tap " + name + " refused a virtio-net header of " + vnetHeaderSize
                    + " bytes: " + e.getMessage(), e);
            }
            EventFd stop;
            try {
                fd.ioctl("TUNSETOFFLOAD", Tun.TUNSETOFFLOAD, 0L);
                stop = EventFd.createNonBlocking();
            } catch (SysException e) {
                throw new IOException(what + ": tap " + name + ": " + e.getMessage(), e);
            }
            return new TapBackend(netdevId, name, fd, stop, vnetHeaderSize, log);
        }
    }

    /** The kernel's dev_valid_name: 1-15 bytes, not "." or "..", no '/', ':' or white space. */
    static void checkName(String what, String name) throws IOException {
        String bad = null;
        if (name.length() >= Tun.IFNAMSIZ) {
            bad = "longer than " + (Tun.IFNAMSIZ - 1) + " characters";
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

    private static String setIffError(String name, SysException e) {
        String tap = name.isEmpty() ? "a new tap" : "tap '" + name + "'";
        return switch (e.errno()) {
            case EPERM, EACCES -> "no permission to create or attach to " + tap
                + " (needs CAP_NET_ADMIN, or a tap made for this user: ip tuntap add NAME mode tap user USER)";
            case EBUSY -> tap + " is busy: another process (another jvisor or QEMU?) is attached to it";
            case EINVAL -> "cannot attach to " + tap + ": an interface of that name exists but is not a tap"
                + " (a tun, a multiqueue tap, or another kind of device)";
            default -> tap + ": " + e.getMessage();
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
    public boolean carriesOffloads() {
        return true;
    }

    @Override
    public void setOffloads(Offloads o) throws IOException {
        long flags = 0;
        if (o.csum()) {
            flags |= Tun.TUN_F_CSUM;
            // TUNSETOFFLOAD refuses segmentation offloads without checksum offload.
            if (o.tso4()) {
                flags |= Tun.TUN_F_TSO4;
            }
            if (o.tso6()) {
                flags |= Tun.TUN_F_TSO6;
            }
            if (o.ecn() && (o.tso4() || o.tso6())) {
                flags |= Tun.TUN_F_TSO_ECN;
            }
        }
        try {
            tap.ioctl("TUNSETOFFLOAD", Tun.TUNSETOFFLOAD, flags);
        } catch (SysException e) {
            throw new IOException(describe() + ": offloads " + flags + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void send(byte[] buf, int length) throws IOException {
        if (buf != txArray) {
            txArray = buf;
            txHeap = MemorySegment.ofArray(buf);
        }
        long n = tap.writeNow(txHeap, length);
        if (n < 0) {
            int e = (int) -n;
            if (e == Errno.EIO.code()) {
                // The tap is down (the kernel drops frames written to it), as a cable unplugged on the host side.
                if (!loggedDown) {
                    loggedDown = true;
                    log.accept(describe() + ": the tap is down; frames from the guest are dropped until it is up");
                }
                return;
            }
            if (e == Errno.EAGAIN.code() || e == Errno.EINTR.code()) {
                return;     // the host's queue is full: dropped, as a real NIC would on a full link
            }
            throw new IOException(describe() + ": write: " + Errno.describe(e));
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
            long n = tap.readNow(rxHeap, buf.length);
            if (n >= 0) {
                return (int) n;
            }
            int e = (int) -n;
            if (e == Errno.EAGAIN.code()) {
                return 0;
            }
            if (e != Errno.EINTR.code()) {
                throw new IOException(describe() + ": read: " + Errno.describe(e));
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
            try {
                poll.await(-1);
            } catch (SysException e) {
                if (e.is(Errno.EINTR)) {
                    continue;
                }
                log.accept(describe() + ": " + e.getMessage() + "; no more frames are received");
                return;
            }
            if (poll.revents(1) != 0) {
                return;
            }
            if (poll.revents(0) != 0) {
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
            stop.signal(1);
        } catch (SysException e) {
            // the poller would never end: say so rather than wait for ever
            throw new IllegalStateException(describe() + ": cannot stop the receive thread: " + e.getMessage(), e);
        }
        try {
            poller.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        tap.close();
        stop.close();
        poll.close();
    }
}
