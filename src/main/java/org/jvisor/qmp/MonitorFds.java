package org.jvisor.qmp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jvisor.sys.Fd;

/**
 * The descriptors of one monitor: those a client passed (SCM_RIGHTS) and not yet consumed, and
 * those getfd named. As QEMU 7.2 keeps them (chardev/char-socket.c tcp_chr_recv and
 * tcp_get_msgfds; monitor/misc.c qmp_getfd, qmp_closefd, monitor_get_fd):
 * <ul>
 * <li>a read that brings descriptors closes the ones an earlier read brought and no command took,
 *     so a client that sends descriptors without getfd holds at most one message's worth;</li>
 * <li>getfd takes the first of them (closing the others) and names it; a name given again
 *     replaces, and closes, the descriptor it had;</li>
 * <li>the passed ones go with the client's connection; the named ones stay with the monitor (a
 *     client that reconnects, as libvirtd after a restart, still has them) until closefd, until a
 *     command such as netdev_add takes them, or until the monitor closes.</li>
 * </ul>
 * Thread-safe: the connection's reader adds, commands take, the monitor's end closes.
 */
final class MonitorFds implements AutoCloseable {
    private final Map<String, Fd> named = new LinkedHashMap<>();
    private List<Fd> passed = List.of();
    private boolean closed;

    /** A read brought {@code fds}: they replace (and close) those an earlier read left. */
    void passed(List<Fd> fds) {
        List<Fd> old;
        boolean refused;
        synchronized (this) {
            old = passed;
            refused = closed;
            passed = refused ? List.of() : List.copyOf(fds);
        }
        old.forEach(Fd::close);
        if (refused) {
            fds.forEach(Fd::close);     // the monitor is gone: nothing will take them
        }
    }

    /** The connection ended: what it passed and no command took is closed (named ones stay). */
    void disconnected() {
        passed(List.of());
    }

    /** qemu_chr_fe_get_msgfd: the first descriptor passed and not yet taken (the rest are closed), or null. */
    Fd takePassed() {
        List<Fd> fds;
        synchronized (this) {
            fds = passed;
            passed = List.of();
        }
        if (fds.isEmpty()) {
            return null;
        }
        fds.subList(1, fds.size()).forEach(Fd::close);
        return fds.getFirst();
    }

    /** getfd: names {@code fd}, closing the descriptor the name had. */
    void name(String name, Fd fd) {
        Fd old;
        synchronized (this) {
            if (closed) {
                old = fd;
            } else {
                old = named.put(name, fd);
            }
        }
        if (old != null) {
            old.close();
        }
    }

    /** monitor_get_fd: takes descriptor {@code name} out (the caller closes it), or null if there is none. */
    synchronized Fd take(String name) {
        return named.remove(name);
    }

    /** closefd: closes descriptor {@code name}; false if there is none. */
    boolean close(String name) {
        Fd fd = take(name);
        if (fd == null) {
            return false;
        }
        fd.close();
        return true;
    }

    /** The names getfd gave and nothing took, in order. */
    synchronized List<String> names() {
        return List.copyOf(named.keySet());
    }

    /** The monitor closes: every descriptor it holds is closed. */
    @Override
    public void close() {
        List<Fd> all = new ArrayList<>();
        synchronized (this) {
            closed = true;
            all.addAll(passed);
            all.addAll(named.values());
            passed = List.of();
            named.clear();
        }
        all.forEach(Fd::close);
    }
}
