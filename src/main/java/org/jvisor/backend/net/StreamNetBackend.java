package org.jvisor.backend.net;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.function.Consumer;

import org.jvisor.sys.Errno;
import org.jvisor.sys.EventFd;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Poll;
import org.jvisor.sys.Sockets;
import org.jvisor.sys.SysException;

/**
 * -netdev stream: Ethernet frames over a stream socket, each after a 4-byte big-endian length,
 * with no virtio-net header (QEMU 7.2 net/stream.c; passt and QEMU itself speak it). As a server
 * it listens and serves one peer at a time, taking the next when that one goes; as a client it
 * connects once, and a peer that goes leaves the link without a peer (7.2 does not reconnect).
 * Frames to or from no peer are dropped, as on an unplugged cable.
 *
 * <p>The frames carry no header, so no offload reaches the peer: {@link #carriesOffloads()} is
 * false and the device offers the guest none (QEMU does the same for a peer without a vnet
 * header). Received frames get a zero header (no checksum to complete, no segmentation).
 *
 * <p>The socket is non-blocking. Sent frames are queued in a bounded buffer and written at once;
 * what the peer does not take yet is written by the poller thread when the socket can take more,
 * and a frame that finds the buffer full is dropped, so a slow peer never holds the guest's
 * transmit queue. A peer announcing a frame length of 0 or beyond the largest frame is
 * disconnected with a message; the guest goes on.
 */
public final class StreamNetBackend implements NetBackend {
    /** The largest frame either way: 64 KiB of payload with the Ethernet header and a VLAN tag. */
    public static final int MAX_FRAME = 65536 + 18;
    /** Bytes queued for a slow peer before frames are dropped (QEMU holds one and stops the queue). */
    static final int TX_QUEUE_BYTES = 512 * 1024;
    /** Bytes read from the socket at once, many small frames per read. */
    static final int RX_BUFFER_BYTES = 256 * 1024;

    private final String description;
    private final int vnetHeaderSize;
    private final Fd listenSocket;
    private final Path socketPathToRemove;
    private final Consumer<String> log;
    private final EventFd wake;
    private final Poll poll = new Poll(3);
    private final StreamFrameDecoder decoder = new StreamFrameDecoder(MAX_FRAME, RX_BUFFER_BYTES);
    private final StreamFrameEncoder encoder = new StreamFrameEncoder(TX_QUEUE_BYTES);
    private final Object lock = new Object();
    private final Thread poller;
    private volatile Runnable listener;

    // Guarded by lock
    private Fd peer;
    private boolean armed;
    private boolean closed;
    private boolean loggedFull;
    private boolean loggedAcceptError;
    private long txDropped;
    private long disconnects;

    private StreamNetBackend(String description, int vnetHeaderSize, Fd listenSocket, Fd peer, Path socketPathToRemove,
                          Consumer<String> log) throws SysException {
        this.description = description;
        this.vnetHeaderSize = vnetHeaderSize;
        this.listenSocket = listenSocket;
        this.peer = peer;
        this.socketPathToRemove = socketPathToRemove;
        this.log = log;
        this.wake = EventFd.createNonBlocking();
        poll.watch(2, wake.fd(), Poll.POLLIN);
        poller = Thread.ofPlatform().daemon().name("stream-net(" + description + ")").unstarted(this::pollLoop);
        poller.start();
    }

    /** The address forms of {@link #open}. */
    public sealed interface Address {
        record Unix(Path path) implements Address {
        }

        record Inet(String host, int port) implements Address {
        }

        record Inherited(int fd) implements Address {
        }
    }

    /**
     * A -netdev stream backend described as {@code description} ("-netdev stream,id=n"): with
     * {@code server}, listening at {@code address} (a unix socket path that holds a stale socket is
     * replaced, as QEMU does), otherwise connected to it. An inherited descriptor must be a stream
     * socket, listening exactly when {@code server}. Fails with a message naming the address.
     */
    public static StreamNetBackend open(String description, boolean server, Address address, int vnetHeaderSize,
                                     Consumer<String> log) throws IOException {
        Fd fd = null;
        Path remove = null;
        try {
            switch (address) {
                case Address.Unix(Path path) -> {
                    if (server) {
                        replaceStaleSocket(description, path);
                        fd = Sockets.listen(path.toString(), 1);
                        remove = path;
                    } else {
                        fd = Sockets.connect(path.toString());
                    }
                }
                case Address.Inet(String host, int port) -> {
                    InetAddress ip;
                    try {
                        ip = InetAddress.getByName(host);
                    } catch (UnknownHostException e) {
                        throw new IOException(description + ": addr.host=" + host + ": unknown host", e);
                    }
                    fd = server ? Sockets.listenTcp(ip, port, 1) : Sockets.connectTcp(ip, port);
                }
                case Address.Inherited(int n) -> {
                    fd = Fd.inherit(n, "descriptor " + n);
                    if (!Sockets.isStream(fd)) {
                        throw new IOException(description + ": addr.str=" + n + " is not a stream socket");
                    }
                    if (Sockets.isListening(fd) != server) {
                        throw new IOException(description + ": addr.str=" + n + (server
                            ? " is not a listening socket (server=on listens on it)"
                            : " is a listening socket (server=off needs a connected one)"));
                    }
                }
            }
            fd.setNonBlocking();
            StreamNetBackend b = server
                ? new StreamNetBackend(description, vnetHeaderSize, fd, null, remove, log)
                : new StreamNetBackend(description, vnetHeaderSize, null, fd, null, log);
            fd = null;
            return b;
        } catch (SysException e) {
            throw new IOException(description + ": " + e.getMessage() + hint(address, server, e), e);
        } finally {
            if (fd != null) {
                fd.close();
                if (remove != null) {
                    Files.deleteIfExists(remove);
                }
            }
        }
    }

    /** A backend on a socket already connected to its peer (passt's, which jvisor started). */
    public static StreamNetBackend connected(String description, Fd socket, int vnetHeaderSize, Consumer<String> log)
            throws IOException {
        try {
            socket.setNonBlocking();
            return new StreamNetBackend(description, vnetHeaderSize, null, socket, null, log);
        } catch (SysException e) {
            socket.close();
            throw new IOException(description + ": " + e.getMessage(), e);
        }
    }

    private static String hint(Address address, boolean server, SysException e) {
        if (!server && (e.is(Errno.ENOENT) || e.is(Errno.ECONNREFUSED))) {
            return " (is the peer listening? start it first, or give this side server=on)";
        }
        if (server && e.is(Errno.EADDRINUSE)) {
            return " (another process listens there)";
        }
        if (address instanceof Address.Inherited && e.is(Errno.EBADF)) {
            return " (no such descriptor was passed to jvisor)";
        }
        return "";
    }

    /** QEMU unlinks the path before binding; only a socket is removed, never another kind of file. */
    private static void replaceStaleSocket(String description, Path path) throws IOException {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (java.nio.file.NoSuchFileException e) {
            return;
        }
        if (!a.isOther()) {
            throw new IOException(description + ": addr.path=" + path + " exists and is not a socket");
        }
        Files.delete(path);
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public int vnetHeaderSize() {
        return vnetHeaderSize;
    }

    @Override
    public boolean carriesOffloads() {
        return false;
    }

    @Override
    public void setOffloads(Offloads offloads) throws IOException {
        if (!offloads.equals(Offloads.NONE)) {
            throw new IOException(description + ": a stream peer takes no offloads (" + offloads + ")");
        }
    }

    /** Whether a peer is connected now. */
    public boolean connected() {
        synchronized (lock) {
            return peer != null;
        }
    }

    /** Frames dropped because the peer did not read fast enough. */
    public long txDropped() {
        synchronized (lock) {
            return txDropped;
        }
    }

    /** Peers that went away or were sent away. */
    public long disconnects() {
        synchronized (lock) {
            return disconnects;
        }
    }

    /** Queues the frame after {@code buf}'s header and writes what the socket takes. */
    @Override
    public void send(byte[] buf, int length) {
        int frame = length - vnetHeaderSize;
        if (frame <= 0 || frame > MAX_FRAME) {
            return;
        }
        synchronized (lock) {
            if (peer == null) {
                return;
            }
            boolean waiting = encoder.pendingBytes() != 0;
            if (!encoder.offer(buf, vnetHeaderSize, frame)) {
                txDropped++;
                if (!loggedFull) {
                    loggedFull = true;
                    log.accept(description + ": the peer is not reading; frames from the guest are dropped until it does");
                }
                return;
            }
            if (!waiting) {
                flushLocked();
                if (encoder.pendingBytes() != 0) {
                    wakePoller();   // to wait for room (POLLOUT)
                }
            }
        }
    }

    /** Writes queued bytes until the socket takes no more; a broken connection is dropped. */
    private void flushLocked() {
        while (peer != null && encoder.pendingBytes() != 0) {
            long n = peer.writeNow(encoder.buffer(), encoder.pendingOffset(), encoder.pendingBytes());
            if (n > 0) {
                encoder.written(n);
                loggedFull = false;
            } else if (n == -Errno.EAGAIN.code()) {
                return;
            } else if (n != -Errno.EINTR.code()) {
                disconnectLocked("write: " + Errno.describe((int) -n));
            }
        }
    }

    @Override
    public int receive(byte[] buf) {
        if (buf.length < vnetHeaderSize + MAX_FRAME) {
            throw new IllegalArgumentException("a receive buffer of " + buf.length + " bytes; frames need "
                + (vnetHeaderSize + MAX_FRAME));
        }
        synchronized (lock) {
            while (peer != null) {
                int n;
                try {
                    n = decoder.next(buf, vnetHeaderSize);
                } catch (StreamFrameDecoder.BogusLength e) {
                    disconnectLocked(e.getMessage() + "; disconnected");
                    return 0;
                }
                if (n > 0) {
                    Arrays.fill(buf, 0, vnetHeaderSize, (byte) 0);     // no offload: flags 0, GSO_NONE
                    return vnetHeaderSize + n;
                }
                long r = peer.readNow(decoder.buffer(), decoder.freeOffset(), decoder.freeBytes());
                if (r > 0) {
                    decoder.filled(r);
                } else if (r == 0) {
                    disconnectLocked(decoder.buffered() == 0 ? "the peer closed the connection"
                        : "the peer closed the connection in the middle of a frame");
                } else if (r == -Errno.EAGAIN.code()) {
                    return 0;
                } else if (r != -Errno.EINTR.code()) {
                    disconnectLocked("read: " + Errno.describe((int) -r));
                }
            }
            return 0;
        }
    }

    private void disconnectLocked(String reason) {
        disconnects++;
        log.accept(description + ": " + reason + (listenSocket != null ? "; waiting for a new peer"
            : "; the link has no peer from now on"));
        peer.close();
        peer = null;
        decoder.reset();
        encoder.reset();
        wakePoller();
    }

    private void wakePoller() {
        try {
            wake.signal(1);
        } catch (SysException e) {
            throw new IllegalStateException(description + ": cannot wake the poller: " + e.getMessage(), e);
        }
    }

    @Override
    public void setReceiveListener(Runnable listener) {
        this.listener = listener;
    }

    @Override
    public void armReceive() {
        synchronized (lock) {
            if (armed || closed) {
                return;
            }
            armed = true;
            wakePoller();
        }
    }

    @Override
    public void disarmReceive() {
        synchronized (lock) {
            armed = false;
        }
    }

    /**
     * Waits (poll) for what the current state needs: frames when armed, room when frames are
     * queued, a new peer when a server has none, and the eventfd that says the state changed.
     */
    private void pollLoop() {
        while (true) {
            Fd polled;
            synchronized (lock) {
                if (closed) {
                    return;
                }
                polled = peer;
                short events = (short) ((armed ? Poll.POLLIN : 0) | (encoder.pendingBytes() != 0 ? Poll.POLLOUT : 0));
                poll.watch(0, polled == null ? -1 : polled.fd(), events);
                poll.watch(1, listenSocket != null && polled == null ? listenSocket.fd() : -1, Poll.POLLIN);
            }
            try {
                poll.await(-1);
                if (poll.revents(2) != 0) {
                    wake.drain();
                }
            } catch (SysException e) {
                if (e.is(Errno.EINTR)) {
                    continue;
                }
                log.accept(description + ": " + e.getMessage() + "; no more frames are exchanged");
                return;
            }
            Runnable call = null;
            boolean acceptFailed = false;
            synchronized (lock) {
                if (closed) {
                    return;
                }
                short r = poll.revents(0);
                if (polled != null && polled == peer && r != 0) {
                    if ((r & Poll.POLLOUT) != 0) {
                        flushLocked();
                    }
                    if (peer != null && (r & (Poll.POLLIN | Poll.POLLHUP | Poll.POLLERR)) != 0) {
                        if (armed) {
                            armed = false;
                            call = listener;
                        } else if ((r & (Poll.POLLHUP | Poll.POLLERR)) != 0) {
                            disconnectLocked("the peer closed the connection");
                        }
                    }
                }
                if (peer == null && listenSocket != null && (poll.revents(1) & Poll.POLLIN) != 0) {
                    acceptFailed = !acceptLocked();
                }
            }
            if (acceptFailed) {
                // out of descriptors, say: the pending connection stays, so wait before trying again
                pauseAfterFailedAccept();
            }
            if (call != null) {
                try {
                    call.run();
                } catch (RuntimeException e) {
                    log.accept(description + ": receive: " + e);
                }
            }
        }
    }

    /** Takes a waiting peer; false if accept failed other than transiently (logged once per run of failures). */
    private boolean acceptLocked() {
        try {
            peer = Sockets.accept(listenSocket, Sockets.SOCK_NONBLOCK);
            loggedAcceptError = false;
            log.accept(description + ": a peer connected");
            return true;
        } catch (SysException e) {
            if (e.is(Errno.EAGAIN) || e.is(Errno.EINTR) || e.is(Errno.ECONNABORTED)) {
                return true;
            }
            if (!loggedAcceptError) {
                loggedAcceptError = true;
                log.accept(description + ": " + e.getMessage() + "; trying again");
            }
            return false;
        }
    }

    private static void pauseAfterFailedAccept() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the poller, closes the peer's and the listening socket (removing a socket file it made). */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            wakePoller();
        }
        try {
            poller.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (lock) {
            if (peer != null) {
                peer.close();
                peer = null;
            }
        }
        if (listenSocket != null) {
            listenSocket.close();
        }
        if (socketPathToRemove != null) {
            try {
                Files.deleteIfExists(socketPathToRemove);
            } catch (IOException e) {
                log.accept(description + ": cannot remove " + socketPathToRemove + ": " + e.getMessage());
            }
        }
        wake.close();
        poll.close();
    }
}
