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
 * {@code -chardev socket,path=P,server=on}: a Unix domain socket server with one client at a time,
 * as QEMU's. Output goes to the connected client and is dropped while there is none; when the
 * client disconnects the next one is accepted. Connects and disconnects are reported to the sink
 * (virtio-console turns them into PORT_OPEN messages).
 * <p>
 * Output passes through a bounded buffer that a thread of its own writes to the client, so the
 * device's thread (a vCPU writing the UART) never blocks on the socket. A client that reads
 * slowly slows the guest down: {@link #offer} refuses a byte while the buffer is full and
 * {@link #whenWritable} calls back when there is room (the UART holds the byte, THR busy, as on a
 * slow line); {@link #write} waits for room instead, {@link #STALL_NANOS} at most. A client that
 * stops reading for that long loses output rather than holding the guest.
 */
public final class UnixSocketServerBackend implements CharBackend {
    /** S_IFMT and S_IFSOCK of st_mode (inode(7)). */
    private static final int S_IFMT = 0xF000;
    private static final int S_IFSOCK = 0xC000;

    private final Path path;
    private final ServerSocketChannel server;
    private final Consumer<String> log;
    /** Output not yet written to the client (bytes in [head, head + count) of a ring). */
    private static final int BUFFER = 64 * 1024;
    /** How long one write may wait for room before output is dropped (the client stopped reading). */
    static final long STALL_NANOS = 1_000_000_000L;
    private final byte[] ring = new byte[BUFFER];
    private int head;
    private int count;
    /** Dropping output until the buffer has drained to half (guarded by ring). */
    private boolean dropping;
    /** When {@link #offer} first found the buffer full, or 0 (guarded by ring). */
    private long fullSince;
    /** A thread times a stall (guarded by ring). */
    private boolean stallWatch;
    /** A device waiting for room after a refused offer (guarded by ring). */
    private Runnable writable;
    /** The writer thread is sending bytes it took from the ring (guarded by ring). */
    private boolean inFlight;
    private final byte[] single = new byte[1];
    private final ByteBuffer out = ByteBuffer.allocateDirect(4096);
    private volatile SocketChannel client;
    private volatile boolean closed;

    private UnixSocketServerBackend(Path path, ServerSocketChannel server, Consumer<String> log) {
        this.path = path;
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
        UnixSocketServerBackend b = new UnixSocketServerBackend(path, server, log);
        if (waitForClient) {
            log.accept("waiting for a connection on unix:" + path + ",server=on");
            b.client = server.accept();
        }
        return b;
    }

    /**
     * A Unix domain socket server bound to {@code path}: a stale socket there is replaced (as
     * QEMU does), anything else that exists is refused.
     */
    public static ServerSocketChannel bind(Path path) throws IOException {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if ((mode & S_IFMT) != S_IFSOCK) {
                throw new IOException(path + " exists and is not a socket");
            }
            Files.delete(path);
        }
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
        if (client == null) {
            return true;        // no client: dropped, as QEMU's
        }
        synchronized (ring) {
            if (dropping || closed) {
                return true;
            }
            if (count == BUFFER) {
                long now = System.nanoTime();
                if (fullSince == 0) {
                    fullSince = now;
                } else if (now - fullSince > STALL_NANOS) {
                    startDropping();
                    return true;
                }
                return false;
            }
            fullSince = 0;
            ring[(head + count) % BUFFER] = (byte) b;
            count++;
            ring.notifyAll();
            return true;
        }
    }

    @Override
    public void whenWritable(Runnable callback) {
        synchronized (ring) {
            if (count < BUFFER || dropping || closed || client == null) {
                writable = null;
            } else {
                writable = callback;
                if (fullSince == 0) {
                    fullSince = System.nanoTime();
                }
                if (!stallWatch) {
                    stallWatch = true;
                    Thread.ofVirtual().name("chardev stall " + path.getFileName()).start(this::endStallLater);
                }
                return;
            }
        }
        callback.run();
    }

    /** The client stopped reading: output is dropped until the buffer has drained to half (guarded by ring). */
    private void startDropping() {
        dropping = true;
        fullSince = 0;
        log.accept("unix:" + path + ": the client does not read; output is dropped until it does");
    }

    /** Takes the pending writable callback if there is room now (or output is dropped); guarded by ring. */
    private Runnable takeWritable() {
        Runnable w = writable;
        if (w != null && (count < BUFFER || dropping || closed)) {
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
                if (dropping) {
                    return;
                }
                int room = BUFFER - count;
                if (room == 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        dropping = true;
                        log.accept("unix:" + path + ": the client does not read; output is dropped until it does");
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
                int tail = (head + count) % BUFFER;
                int first = Math.min(n, BUFFER - tail);
                System.arraycopy(data, offset + done, ring, tail, first);
                System.arraycopy(data, offset + done + first, ring, 0, n - first);
                count += n;
                done += n;
                ring.notifyAll();
            }
        }
    }

    /**
     * The writer thread: moves buffered output to the client, blocking on the socket itself, and
     * calls a pending writable callback once there is room again (or once the client has not read
     * for {@link #STALL_NANOS} and output is dropped).
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
                if (dropping && count <= BUFFER / 2) {
                    dropping = false;
                }
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

    /**
     * Ends a stall (started by {@link #whenWritable}, on a thread of its own: the writer thread may
     * be blocked on the socket): if the client takes nothing for {@link #STALL_NANOS} while a device
     * waits for room, output is dropped and the device told.
     */
    private void endStallLater() {
        Runnable ready = null;
        synchronized (ring) {
            stallWatch = true;
            long deadline = System.nanoTime() + STALL_NANOS;
            while (writable != null && count == BUFFER && !dropping && !closed) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    startDropping();
                    ready = takeWritable();
                    break;
                }
                try {
                    ring.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    break;
                }
            }
            stallWatch = false;
        }
        if (ready != null) {
            ready.run();
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
        Thread.ofPlatform().daemon().name("chr-socket " + path.getFileName()).start(() -> serve(sink));
        Thread.ofPlatform().daemon().name("chr-socket-out " + path.getFileName()).start(this::drain);
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
                        log.accept("unix:" + path + ": accept failed: " + e.getMessage());
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
            client = null;
            try {
                c.close();
            } catch (IOException e) {
                // already gone
            }
            if (!closed) {
                sink.connectionChanged(false);
            }
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        synchronized (ring) {
            // what the guest wrote before the end still reaches a client that reads
            long deadline = System.nanoTime() + STALL_NANOS;
            while ((count > 0 || inFlight) && client != null && !dropping) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                try {
                    ring.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            closed = true;
            ring.notifyAll();
        }
        try {
            SocketChannel c = client;
            if (c != null) {
                c.close();
            }
            server.close();
            Files.deleteIfExists(path);
        } catch (IOException e) {
            log.accept("unix:" + path + ": " + e.getMessage());
        }
    }
}
