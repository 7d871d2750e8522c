package org.jvisor.backend.chr;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * {@code -chardev socket,path=P,server=on}: a Unix domain socket server (or, for the human
 * monitor's -monitor tcp:, a TCP one: {@link #listenTcp}) with one client at a time,
 * as QEMU's. Output goes to the connected client and is dropped while there is none; when the
 * client disconnects the next one is accepted. Connects and disconnects are reported to the sink
 * (virtio-console turns them into PORT_OPEN messages).
 * <p>
 * Output passes through a bounded buffer that a thread of its own writes to the client, so the
 * device's thread (a vCPU writing the UART) never blocks on the socket. A client that reads
 * slowly, or stops reading, holds the guest back rather than losing output: {@link #offer}
 * refuses bytes while the buffer is full and {@link #whenWritable} calls back when the client has
 * read and there is room again (the UART keeps THR busy, virtio-console keeps the transmit buffer),
 * as QEMU's chardev frontends do with can_write and a G_IO_OUT watch. Only with no client at all is
 * output dropped, as QEMU's. {@link #write}, for callers that cannot wait on a device's terms,
 * waits {@link #STALL_NANOS} at most for room and then drops what is left, said once, as it drops
 * every later blocking write until the client has read again.
 */
public final class UnixSocketServerBackend implements CharBackend {
    /** S_IFMT and S_IFSOCK of st_mode (inode(7)). */
    private static final int S_IFMT = 0xF000;
    private static final int S_IFSOCK = 0xC000;

    /** The socket's file, or null for a TCP socket. */
    private final Path path;
    /** How messages and thread names call it: "unix:PATH" or "tcp:HOST:PORT". */
    private final String name;
    private final ServerSocketChannel server;
    private final Consumer<String> log;
    /** Output not yet written to the client (bytes in [head, head + count) of a ring). */
    private static final int BUFFER = 64 * 1024;
    /** How long one blocking {@link #write} may wait for room before its output is dropped. */
    static final long STALL_NANOS = 1_000_000_000L;
    private final byte[] ring = new byte[BUFFER];
    private int head;
    private int count;
    /** A blocking write dropped output since the last time there was room (guarded by ring). */
    private boolean dropped;
    /** A device waiting for room after a refused offer (guarded by ring). */
    private Runnable writable;
    /** The writer thread is sending bytes it took from the ring (guarded by ring). */
    private boolean inFlight;
    private final byte[] single = new byte[1];
    private final ByteBuffer out = ByteBuffer.allocateDirect(4096);
    private volatile SocketChannel client;
    private volatile boolean closed;

    private UnixSocketServerBackend(Path path, String name, ServerSocketChannel server, Consumer<String> log) {
        this.path = path;
        this.name = name;
        this.server = server;
        this.log = log;
    }

    /**
     * Listens on {@code path} (a stale socket there is replaced, anything else is refused). With
     * {@code waitForClient}, blocks until the first client connects, as QEMU's wait=on.
     */
    public static UnixSocketServerBackend listen(Path path, boolean waitForClient, Consumer<String> log)
            throws IOException {
        ServerSocketChannel server = bind(path);
        return waitIfAsked(new UnixSocketServerBackend(path, "unix:" + path, server, log), waitForClient);
    }

    /**
     * The same server on TCP: {@code host} (empty: every interface) and {@code port} (0: one the
     * kernel picks, {@link #port()} tells which). The human monitor's -monitor tcp: is one.
     */
    public static UnixSocketServerBackend listenTcp(String host, int port, boolean waitForClient, Consumer<String> log)
            throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open();
        try {
            server.setOption(java.net.StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(host.isEmpty() ? new java.net.InetSocketAddress(port) : new java.net.InetSocketAddress(host, port));
        } catch (IOException | RuntimeException e) {
            server.close();
            throw new IOException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        int bound = ((java.net.InetSocketAddress) server.getLocalAddress()).getPort();
        return waitIfAsked(new UnixSocketServerBackend(null, "tcp:" + host + ":" + bound, server, log), waitForClient);
    }

    /** QEMU's wait=on: blocks until the first client connects. */
    private static UnixSocketServerBackend waitIfAsked(UnixSocketServerBackend b, boolean waitForClient) throws IOException {
        if (waitForClient) {
            b.log.accept("waiting for a connection on " + b.name + ",server=on");
            try {
                b.client = b.server.accept();
            } catch (IOException e) {
                b.server.close();
                throw e;
            }
        }
        return b;
    }

    /** The TCP port it listens on (a port=0 server's is the one chosen); -1 for a Unix socket. */
    public int port() {
        try {
            return server.getLocalAddress() instanceof java.net.InetSocketAddress a ? a.getPort() : -1;
        } catch (IOException e) {
            return -1;
        }
    }

    /**
     * Before listening at {@code path}: a stale socket there (an earlier run's) is removed, as QEMU
     * replaces it; anything else that exists is refused.
     */
    public static void removeStaleSocket(Path path) throws IOException {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if ((mode & S_IFMT) != S_IFSOCK) {
                throw new IOException(path + " exists and is not a socket");
            }
            Files.delete(path);
        }
    }

    /**
     * A Unix domain socket server bound to {@code path}: a stale socket there is replaced (as
     * QEMU does), anything else that exists is refused.
     */
    public static ServerSocketChannel bind(Path path) throws IOException {
        removeStaleSocket(path);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(path));
        } catch (IOException e) {
            server.close();
            throw new IOException("cannot listen on " + path + ": " + e.getMessage(), e);
        }
        return server;
    }

    public Path path() {
        return path;
    }

    @Override
    public boolean connected() {
        return client != null;
    }

    @Override
    public boolean offer(int b) {
        synchronized (ring) {
            single[0] = (byte) b;
            return offer(single, 0, 1) == 1;
        }
    }

    /** Takes as many bytes as the buffer has room for, at once; a full buffer takes none. */
    @Override
    public int offer(byte[] data, int offset, int length) {
        if (client == null) {
            return length;        // no client: dropped, as QEMU's
        }
        synchronized (ring) {
            if (closed) {
                return length;
            }
            int n = Math.min(BUFFER - count, length);
            put(data, offset, n);
            return n;
        }
    }

    @Override
    public void whenWritable(Runnable callback) {
        synchronized (ring) {
            if (count == BUFFER && !closed && client != null) {
                writable = callback;
                return;
            }
            writable = null;
        }
        callback.run();
    }

    /** Appends {@code n} bytes that fit to the ring and wakes the writer thread; guarded by ring. */
    private void put(byte[] data, int offset, int n) {
        if (n == 0) {
            return;
        }
        int tail = (head + count) % BUFFER;
        int first = Math.min(n, BUFFER - tail);
        System.arraycopy(data, offset, ring, tail, first);
        System.arraycopy(data, offset + first, ring, 0, n - first);
        count += n;
        ring.notifyAll();
    }

    /** Takes the pending writable callback if there is room now (or output is dropped); guarded by ring. */
    private Runnable takeWritable() {
        Runnable w = writable;
        if (w != null && (count < BUFFER || closed || client == null)) {
            writable = null;
            return w;
        }
        return null;
    }

    @Override
    public void write(int b) {
        synchronized (ring) {
            single[0] = (byte) b;
            write(single, 0, 1);
        }
    }

    @Override
    public void write(byte[] data, int offset, int length) {
        if (client == null) {
            return; // no client: dropped, as QEMU's
        }
        synchronized (ring) {
            long deadline = System.nanoTime() + STALL_NANOS;
            int done = 0;
            while (done < length && !closed) {
                int room = BUFFER - count;
                if (room == 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0 || dropped) {     // once dropped, no further wait until the client reads
                        if (!dropped) {
                            dropped = true;
                            log.accept(name + ": the client does not read; output is dropped");
                        }
                        return;
                    }
                    try {
                        ring.wait(Math.max(1, left / 1_000_000));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                    continue;
                }
                int n = Math.min(room, length - done);
                put(data, offset + done, n);
                done += n;
            }
        }
    }

    /**
     * The writer thread: moves buffered output to the client, blocking on the socket itself (the
     * kernel wakes it when the client has read), and calls a pending writable callback once there
     * is room again.
     */
    private void drain() {
        while (!closed) {
            Runnable ready;
            synchronized (ring) {
                while (count == 0 && !closed) {
                    try {
                        ring.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                int n = Math.min(Math.min(count, out.capacity()), BUFFER - head);
                out.clear();
                out.put(ring, head, n);
                head = (head + n) % BUFFER;
                count -= n;
                dropped = false;
                inFlight = true;
                ring.notifyAll();
                ready = takeWritable();
            }
            if (ready != null) {
                ready.run();
            }
            send();
            synchronized (ring) {
                inFlight = false;
                ring.notifyAll();
                ready = takeWritable();
            }
            if (ready != null) {
                ready.run();
            }
        }
    }

    /** Sends what is in {@code out} to the client; the output is lost if there is none or it went away. */
    private void send() {
        SocketChannel c = client;
        if (c == null) {
            return;
        }
        out.flip();
        try {
            while (out.hasRemaining()) {
                c.write(out);
            }
        } catch (IOException e) {
            // the reader sees the disconnect too and reports it; the output is lost, as with QEMU
        }
    }

    @Override
    public void start(Sink sink) {
        String label = path != null ? path.getFileName().toString() : name;
        Thread.ofPlatform().daemon().name("chr-socket " + label).start(() -> serve(sink));
        Thread.ofPlatform().daemon().name("chr-socket-out " + label).start(this::drain);
    }

    private void serve(Sink sink) {
        byte[] data = new byte[4096];
        ByteBuffer in = ByteBuffer.wrap(data);
        while (!closed) {
            SocketChannel c = client;
            if (c == null) {
                try {
                    c = server.accept();
                } catch (IOException e) {
                    if (!closed) {
                        log.accept(name + ": accept failed: " + e.getMessage());
                    }
                    return;
                }
                client = c;
            }
            sink.connectionChanged(true);
            try {
                int n;
                while ((n = c.read(in.clear())) > 0) {
                    sink.receive(data, n);
                }
            } catch (IOException e) {
                // a reset connection is a disconnect like any other
            }
            // a client that only shut down its sending side still reads what its input caused
            // (socat sends a monitor's commands, then waits for the answers): that goes out first
            awaitDrained();
            client = null;
            try {
                c.close();
            } catch (IOException e) {
                // already gone
            }
            wakeWriter();       // with no client offers are taken (dropped): a waiting device moves on
            if (!closed) {
                sink.connectionChanged(false);
            }
        }
    }

    /** Waits, {@link #STALL_NANOS} at most, until the buffered output has been handed to the client. */
    private void awaitDrained() {
        synchronized (ring) {
            awaitDrainedLocked(() -> closed);
        }
    }

    /**
     * With {@code ring} held: waits, {@link #STALL_NANOS} at most, until the buffered output has
     * been handed to the client or {@code giveUp} holds.
     */
    private void awaitDrainedLocked(java.util.function.BooleanSupplier giveUp) {
        long deadline = System.nanoTime() + STALL_NANOS;
        while ((count > 0 || inFlight) && !giveUp.getAsBoolean()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            try {
                ring.wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Runs a pending writable callback if offers are taken again (no client, or closed). */
    private void wakeWriter() {
        Runnable ready;
        synchronized (ring) {
            ready = takeWritable();
        }
        if (ready != null) {
            ready.run();
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        synchronized (ring) {
            // what the guest wrote before the end still reaches a client that reads
            awaitDrainedLocked(() -> client == null);
            closed = true;
            ring.notifyAll();
        }
        wakeWriter();
        try {
            SocketChannel c = client;
            if (c != null) {
                c.close();
            }
            server.close();
            if (path != null) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            log.accept(name + ": " + e.getMessage());
        }
    }
}
