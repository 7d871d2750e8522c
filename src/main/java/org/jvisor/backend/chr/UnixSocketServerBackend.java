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
 */
public final class UnixSocketServerBackend implements CharBackend {
    /** S_IFMT and S_IFSOCK of st_mode (inode(7)). */
    private static final int S_IFMT = 0xF000;
    private static final int S_IFSOCK = 0xC000;

    private final Path path;
    private final ServerSocketChannel server;
    private final Consumer<String> log;
    private final Object writeLock = new Object();
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
    public void write(int b) {
        synchronized (writeLock) {
            out.clear();
            out.put((byte) b);
            send();
        }
    }

    @Override
    public void write(byte[] data, int offset, int length) {
        synchronized (writeLock) {
            int done = 0;
            while (done < length) {
                int n = Math.min(out.capacity(), length - done);
                out.clear();
                out.put(data, offset + done, n);
                if (!send()) {
                    return;
                }
                done += n;
            }
        }
    }

    /** Sends what is in {@code out} to the client; false (output dropped) if there is none or it went away. */
    private boolean send() {
        SocketChannel c = client;
        if (c == null) {
            return false;
        }
        out.flip();
        try {
            while (out.hasRemaining()) {
                c.write(out);
            }
            return true;
        } catch (IOException e) {
            // the reader sees the disconnect too and reports it; the output is lost, as with QEMU
            return false;
        }
    }

    @Override
    public void start(Sink sink) {
        Thread.ofPlatform().daemon().name("chr-socket " + path.getFileName()).start(() -> serve(sink));
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
        closed = true;
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
