package org.jvisor.testing;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import org.jvisor.sys.Fd;
import org.jvisor.sys.ScmRights;
import org.jvisor.sys.Sockets;
import org.jvisor.sys.SysException;

/**
 * A QMP client that passes descriptors as libvirt does: each command written with one sendmsg,
 * the descriptors attached as SCM_RIGHTS (unix(7)). Replies are read a line at a time (QMP ends
 * each with CRLF); events before a reply are skipped but kept for {@link #events()}.
 */
public final class ScmQmpClient implements AutoCloseable {
    private final Fd socket;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buf = arena.allocate(8192);
    private final StringBuilder pending = new StringBuilder();
    private final StringBuilder events = new StringBuilder();
    private boolean closed;

    public ScmQmpClient(Fd socket) {
        this.socket = socket;
    }

    /** Connects to a monitor's Unix socket and negotiates (greeting, qmp_capabilities). */
    public static ScmQmpClient connect(Path path) throws SysException {
        ScmQmpClient c = new ScmQmpClient(Sockets.connect(path.toString()));
        String greeting = c.line();
        if (!greeting.startsWith("{\"QMP\"")) {
            throw new AssertionError("no QMP greeting: " + greeting);
        }
        c.execute("{\"execute\":\"qmp_capabilities\"}");
        return c;
    }

    /** One line the server sent, without its CRLF. */
    public String line() throws SysException {
        while (pending.indexOf("\r\n") < 0) {
            long n = socket.read(buf);
            if (n == 0) {
                throw new AssertionError("the monitor closed the connection; it had sent: " + pending);
            }
            pending.append(new String(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
        }
        int end = pending.indexOf("\r\n");
        String l = pending.substring(0, end);
        pending.delete(0, end + 2);
        return l;
    }

    /** Sends {@code command} with {@code fds} attached; its reply (events before it are set aside). */
    public String execute(String command, Fd... fds) throws SysException {
        MemorySegment data = arena.allocateFrom(command, StandardCharsets.UTF_8);
        data = data.asSlice(0, data.byteSize() - 1);      // without the C string's NUL
        int[] numbers = new int[fds.length];
        for (int i = 0; i < fds.length; i++) {
            numbers[i] = fds[i].fd();
        }
        long sent = ScmRights.send(socket, data, numbers);
        if (sent != data.byteSize()) {
            throw new AssertionError("short sendmsg: " + sent + " of " + data.byteSize());
        }
        while (true) {
            String l = line();
            if (!l.startsWith("{\"timestamp\"")) {
                return l;
            }
            events.append(l).append('\n');
        }
    }

    /** Reads until event {@code name} comes (or was set aside before); the event. */
    public String awaitEvent(String name) throws SysException {
        String tag = "\"event\": \"" + name + "\"";
        for (String l : events.toString().split("\n")) {
            if (l.contains(tag)) {
                events.delete(events.indexOf(l), events.indexOf(l) + l.length() + 1);
                return l;
            }
        }
        while (true) {
            String l = line();
            if (l.startsWith("{\"timestamp\"") && l.contains(tag)) {
                return l;
            }
            events.append(l).append('\n');
        }
    }

    /** The events received so far, one a line. */
    public String events() {
        return events.toString();
    }

    /** Closes the connection (again: nothing). */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            socket.close();
            arena.close();
        }
    }
}
