package org.jvisor.gdb;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * The gdbstub's listening socket: one client at a time, each served to its end before the next
 * is accepted (others wait in the backlog), as QEMU's gdbstub takes one connection. Closing the
 * server ends the current client's connection too (the machine has ended: gdb sees the remote
 * connection close, as with QEMU when the guest ends it).
 */
public final class GdbServer implements AutoCloseable {
    private final ServerSocketChannel server;
    private final Path socketFile;
    private final DebugTarget target;
    private final Consumer<String> log;
    private final Thread acceptor;
    private volatile SocketChannel client;
    private volatile boolean closed;

    private GdbServer(ServerSocketChannel server, Path socketFile, DebugTarget target, Consumer<String> log) {
        this.server = server;
        this.socketFile = socketFile;
        this.target = target;
        this.log = log;
        this.acceptor = Thread.ofPlatform().daemon().name("jvisor-gdbstub").unstarted(this::serve);
    }

    /**
     * Listens on {@code endpoint} for gdb clients of {@code target}; {@code log} takes jvisor's
     * messages (without the "jvisor: " prefix).
     *
     * @throws IOException if the socket cannot be opened (the message names it)
     */
    public static GdbServer open(GdbEndpoint endpoint, DebugTarget target, Consumer<String> log) throws IOException {
        ServerSocketChannel ch;
        Path file = null;
        try {
            switch (endpoint) {
                case GdbEndpoint.Tcp t -> {
                    ch = ServerSocketChannel.open(StandardProtocolFamily.INET);
                    ch.bind(t.host().isEmpty() ? new InetSocketAddress(t.port()) : new InetSocketAddress(t.host(), t.port()));
                }
                case GdbEndpoint.Unix u -> {
                    file = u.path();
                    if (Files.exists(file) && !Files.isRegularFile(file) && !Files.isDirectory(file)) {
                        Files.delete(file);   // a socket a previous run left (QEMU unlinks it too)
                    }
                    ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                    ch.bind(UnixDomainSocketAddress.of(file));
                }
            }
        } catch (IOException e) {
            throw new IOException("-gdb " + endpoint + ": cannot listen: " + e.getMessage(), e);
        }
        GdbServer s = new GdbServer(ch, file, target, log);
        s.acceptor.start();
        return s;
    }

    /** The TCP port listened on (a port 0 asked for one), or -1 for a UNIX socket. */
    public int port() {
        try {
            return server.getLocalAddress() instanceof InetSocketAddress a ? a.getPort() : -1;
        } catch (IOException e) {
            return -1;
        }
    }

    private void serve() {
        while (!closed) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (IOException e) {
                if (!closed) {
                    log.accept("gdbstub: accept failed: " + e.getMessage());
                }
                return;
            }
            client = c;
            if (closed) {
                close(c);
                return;
            }
            try {
                if (c.getRemoteAddress() instanceof InetSocketAddress) {
                    c.socket().setTcpNoDelay(true);    // one small packet at a time, each awaited
                }
                RspChannel rsp = new RspChannel(Channels.newInputStream(c), Channels.newOutputStream(c), c);
                new GdbSession(rsp, target, log).run();
            } catch (IOException e) {
                log.accept("gdbstub: " + e.getMessage());
            } finally {
                close(c);
                client = null;
            }
        }
    }

    private static void close(SocketChannel c) {
        try {
            c.close();
        } catch (IOException e) {
            // gone already
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            // nothing more to release
        }
        SocketChannel c = client;
        if (c != null) {
            close(c);
        }
        try {
            acceptor.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (socketFile != null) {
            try {
                Files.deleteIfExists(socketFile);
            } catch (IOException e) {
                // left behind: the next run removes it
            }
        }
    }
}
