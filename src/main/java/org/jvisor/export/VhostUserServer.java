package org.jvisor.export;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.function.Consumer;

import org.jvisor.backend.vhost.VhostUserException;
import org.jvisor.sys.Epoll;
import org.jvisor.sys.Errno;
import org.jvisor.sys.EventFd;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Sockets;
import org.jvisor.sys.SysException;

/**
 * A vhost-user backend program's socket (vhost-user.rst, "Back-end program conventions"): a
 * listening socket at {@code --socket-path} (or one inherited with {@code --fd}) whose frontends
 * are served one after another, each by a {@link VhostUserBackend}; when one disconnects, or is
 * dropped for breaking the protocol, the next is accepted. An inherited socket that is already
 * connected is served once. {@link #stop} (SIGTERM) ends the connection being served and
 * {@link #run}.
 */
public final class VhostUserServer implements AutoCloseable {
    private final Fd socket;
    private final boolean listening;
    private final Path path;
    private final VhostUserBackendDevice device;
    private final Consumer<String> log;
    private final EventFd stop;
    private int connections;

    private VhostUserServer(Fd socket, boolean listening, Path path, VhostUserBackendDevice device, Consumer<String> log)
            throws SysException {
        this.socket = socket;
        this.listening = listening;
        this.path = path;
        this.device = device;
        this.log = log;
        this.stop = EventFd.createNonBlocking();
    }

    /**
     * Listens at {@code path}. A socket left there by a backend that died is replaced; any other
     * file is not.
     */
    public static VhostUserServer listen(Path path, VhostUserBackendDevice device, Consumer<String> log) throws IOException {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!a.isOther()) {
                throw new IOException(path + " exists and is not a socket");
            }
            Files.delete(path);
        }
        Fd fd = Sockets.listen(path.toString(), 1);
        try {
            return new VhostUserServer(fd, true, path, device, log);
        } catch (SysException e) {
            fd.close();
            throw e;
        }
    }

    /** The socket inherited as descriptor {@code fd}: listening (frontends served in turn) or connected (served once). */
    public static VhostUserServer inherit(int fd, VhostUserBackendDevice device, Consumer<String> log) throws SysException {
        Fd s = Fd.inherit(fd, "fd " + fd);
        try {
            return new VhostUserServer(s, Sockets.isListening(s), null, device, log);
        } catch (SysException e) {
            s.close();
            throw e;
        }
    }

    /** Where frontends connect, for log lines. */
    public String address() {
        return path != null ? path.toString() : "descriptor " + socket.fd();
    }

    /** Frontends served so far. */
    public int connections() {
        return connections;
    }

    /** Serves frontends until {@link #stop}, or until the one inherited connection ends. */
    public void run() throws SysException {
        if (!listening) {
            serve(socket);
            return;
        }
        try (Epoll epoll = Epoll.create(2)) {
            epoll.add(socket.fd(), Epoll.EPOLLIN, 0);
            epoll.add(stop.fd(), Epoll.EPOLLIN, 1);
            while (true) {
                int n;
                try {
                    n = epoll.await(-1);
                } catch (SysException e) {
                    if (e.is(Errno.EINTR)) {
                        continue;
                    }
                    throw e;
                }
                for (int i = 0; i < n; i++) {
                    if (epoll.data(i) == 1) {
                        return;
                    }
                }
                if (serve(Sockets.accept(socket)) == VhostUserBackend.Ending.STOPPED) {
                    return;
                }
            }
        }
    }

    private VhostUserBackend.Ending serve(Fd connection) throws SysException {
        connections++;
        String name = "vhost-user frontend " + connections + " on " + address();
        log.accept(name + ": connected");
        try (VhostUserBackend backend = new VhostUserBackend(connection, name, device, log)) {
            VhostUserBackend.Ending e = backend.serve(stop.fd());
            log.accept(name + (e == VhostUserBackend.Ending.STOPPED ? ": closed (stopping)"
                : ": disconnected" + (listening ? "; waiting for the next frontend" : "")));
            return e;
        } catch (VhostUserException e) {
            log.accept(e.getMessage() + "; connection dropped" + (listening ? ", waiting for the next frontend" : ""));
            return VhostUserBackend.Ending.DISCONNECTED;
        }
    }

    /** Ends {@link #run}: the connection being served is closed and no other is accepted. Any thread. */
    public void stop() {
        try {
            stop.signal(1);
        } catch (SysException e) {
            log.accept("stopping the vhost-user server: " + e.getMessage());
        }
    }

    /** Closes the socket (removing it from the file system if this server made it); {@link #run} must have ended. */
    @Override
    public void close() {
        socket.close();
        stop.close();
        if (path != null) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                log.accept("removing " + path + ": " + e.getMessage());
            }
        }
    }
}
