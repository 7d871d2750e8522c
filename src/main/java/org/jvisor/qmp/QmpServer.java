package org.jvisor.qmp;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.ByteChannel;
import java.nio.file.Files;
import java.util.function.Consumer;

import org.jvisor.api.ChardevInfo;
import org.jvisor.backend.chr.UnixSocketServerBackend;
import org.jvisor.sys.Fd;
import org.jvisor.sys.FdChannel;
import org.jvisor.sys.Sockets;

/**
 * One monitor's listening socket. As QEMU's socket chardev, it serves one client at a time:
 * the next connection is accepted when the current client leaves (libvirt counts on having the
 * monitor to itself).
 */
final class QmpServer implements AutoCloseable {
    private final MonitorConfig config;
    private final Listener server;
    private final QmpService service;
    private final Consumer<String> log;
    private final MonitorConfig.Address address;
    private volatile ByteChannel first;
    private volatile QmpSession current;
    private volatile boolean closed;
    private Thread acceptor;
    /** getfd's descriptors: the monitor's, kept across its clients as QEMU keeps them. */
    private final MonitorFds fds = new MonitorFds();

    /** Where clients come from: a JDK server channel, or a listening descriptor jvisor inherited. */
    private interface Listener extends AutoCloseable {
        ByteChannel accept() throws IOException;

        @Override
        void close() throws IOException;

        static Listener of(ServerSocketChannel channel) {
            return new Listener() {
                @Override
                public ByteChannel accept() throws IOException {
                    return channel.accept();
                }

                @Override
                public void close() throws IOException {
                    channel.close();
                }
            };
        }

        /** accept(2) on the descriptor; close shuts it down first, so a blocked accept returns. */
        static Listener of(Fd listening) {
            return new Listener() {
                @Override
                public ByteChannel accept() throws IOException {
                    return new FdChannel(Sockets.accept(listening));
                }

                @Override
                public void close() {
                    Sockets.shutdown(listening, Sockets.SHUT_RDWR);
                    listening.close();
                }
            };
        }
    }

    private QmpServer(MonitorConfig config, MonitorConfig.Address address, Listener server, QmpService service,
                      Consumer<String> log) {
        this.config = config;
        this.address = address;
        this.server = server;
        this.service = service;
        this.log = log;
    }

    /** Binds the socket; with wait=on, also waits for the first client, as QEMU does before it starts the machine. */
    static QmpServer listen(MonitorConfig config, QmpService service, Consumer<String> log)
            throws IOException {
        Listener listener;
        MonitorConfig.Address address = config.address();
        switch (config.address()) {
            // through jvisor's own sockets, not the JDK's: the JDK cannot receive descriptors (getfd's SCM_RIGHTS)
            case MonitorConfig.Address.Unix u -> listener = Listener.of(listenUnix(u.path()));
            case MonitorConfig.Address.Inherited i -> {
                Fd fd = Fd.inherit(i.fd(), "monitor socket");
                if (!Sockets.isListening(fd)) {
                    throw new IOException("descriptor " + i.fd() + " is not a listening socket");
                }
                listener = Listener.of(fd);
            }
            case MonitorConfig.Address.Tcp t -> {
                ServerSocketChannel server = ServerSocketChannel.open();
                try {
                    server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                    server.bind(t.host().isEmpty() ? new InetSocketAddress(t.port()) : new InetSocketAddress(t.host(), t.port()));
                } catch (IOException | RuntimeException e) {
                    server.close();
                    throw new IOException("cannot listen on " + t.host() + ":" + t.port() + ": " + e.getMessage(), e);
                }
                // port=0 picks a free port: report the one the kernel gave
                address = new MonitorConfig.Address.Tcp(t.host(), ((InetSocketAddress) server.getLocalAddress()).getPort());
                listener = Listener.of(server);
            }
        }
        QmpServer s = new QmpServer(config, address, listener, service, log);
        if (config.waitForClient()) {
            log.accept("QMP: waiting for a connection on " + address.qemuName());
            s.first = listener.accept();
        }
        return s;
    }

    /** A Unix socket listening at {@code path}; a socket left there (by an earlier run) is replaced, as QEMU does. */
    private static Fd listenUnix(java.nio.file.Path path) throws IOException {
        UnixSocketServerBackend.removeStaleSocket(path);
        try {
            return Sockets.listen(path.toString(), 16);
        } catch (org.jvisor.sys.SysException e) {
            throw new IOException("cannot listen on " + path + ": " + e.getMessage(), e);
        }
    }

    /** Where it listens (for tcp port=0, the port chosen). */
    MonitorConfig.Address address() {
        return address;
    }

    void start() {
        acceptor = Thread.ofPlatform().daemon().name("qmp " + config.label()).start(this::serve);
    }

    private void serve() {
        while (!closed) {
            ByteChannel client = first;
            first = null;
            try {
                if (client == null) {
                    client = server.accept();
                }
            } catch (IOException e) {
                if (!closed) {
                    log.accept("QMP " + address.qemuName() + ": accept failed: " + e.getMessage());
                }
                return;
            }
            QmpSession session = new QmpSession(client, service, config.pretty(), log, fds);
            current = session;
            if (closed) {
                session.finish();
            }
            session.run("qmp " + config.label());
            current = null;
        }
    }

    /** query-chardev's entry: "disconnected:" while no client is connected. */
    ChardevInfo chardevInfo() {
        return new ChardevInfo(config.label(), (current == null ? "disconnected:" : "") + address.qemuName(), true);
    }

    /** Stops accepting; the current client gets what is queued for it, then its connection closes. */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            // closing is all that was asked
        }
        QmpSession s = current;
        if (s != null) {
            s.finish();
            s.awaitWriter();
        }
        fds.close();
        if (config.address() instanceof MonitorConfig.Address.Unix u) {
            try {
                Files.deleteIfExists(u.path());
            } catch (IOException e) {
                log.accept("QMP: " + u.path() + ": " + e.getMessage());
            }
        }
    }
}
