package org.jvisor.backend.vhost;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.sys.Fd;
import org.jvisor.sys.Poll;
import org.jvisor.sys.ScmRights;
import org.jvisor.sys.SysException;

/**
 * One vhost-user connection, either side of it: whole messages out (descriptors attached as
 * SCM_RIGHTS) and messages in, each read completely or refused with the reason (a peer that closes
 * mid-message, sends a bogus size or goes silent for {@code replyTimeoutMillis}). A frontend
 * reads replies ({@link #receive}), a backend reads requests with their descriptors
 * ({@link #receiveRequest}). Not thread-safe: its owner serializes messages.
 */
public final class VhostUserChannel implements AutoCloseable {
    private final Fd socket;
    private final String name;
    private final int replyTimeoutMillis;
    private final String peer;
    private final Poll poll = new Poll(1);
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * @param socket             a connected stream socket, now owned by this channel
     * @param name               the backend as messages name it ("vhost-user backend at /run/x.sock")
     * @param replyTimeoutMillis how long a reply may take before the backend counts as hung (-1: for ever)
     */
    public VhostUserChannel(Fd socket, String name, int replyTimeoutMillis) {
        this(socket, name, replyTimeoutMillis, "backend");
    }

    /**
     * As above, {@code peer} ("backend" or "frontend") being what messages call the other side;
     * for a backend {@code replyTimeoutMillis} bounds how long the rest of a started message may take.
     */
    public VhostUserChannel(Fd socket, String name, int replyTimeoutMillis, String peer) {
        this.socket = socket;
        this.name = name;
        this.replyTimeoutMillis = replyTimeoutMillis;
        this.peer = peer;
        poll.watch(0, socket.fd(), Poll.POLLIN);
    }

    public Fd socket() {
        return socket;
    }

    public String name() {
        return name;
    }

    /** Sends {@code m} with {@code fds} attached. */
    public void send(VhostUserMessage m, int... fds) throws VhostUserException {
        byte[] bytes = m.encode();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(bytes.length);
            MemorySegment.copy(bytes, 0, buf, ValueLayout.JAVA_BYTE, 0, bytes.length);
            long n = ScmRights.send(socket, buf, fds);
            if (n != bytes.length) {
                throw new VhostUserException(name + ": " + VhostUserRequest.describe(m.request()) + ": sent " + n
                    + " of " + bytes.length + " bytes");
            }
        } catch (SysException e) {
            throw new VhostUserException(name + ": sending " + VhostUserRequest.describe(m.request()) + ": "
                + e.getMessage(), e);
        }
    }

    /**
     * Receives one message: the header, checked ({@link VhostUserMessage#decodeHeader}), then its
     * payload. Descriptors a backend attaches are closed: no reply jvisor asks for carries any.
     */
    public VhostUserMessage receive(String waitingFor) throws VhostUserException {
        List<Fd> fds = new ArrayList<>();
        try {
            VhostUserMessage m = read("the reply to " + waitingFor, false, fds, 4);
            if (m == null) {
                throw new VhostUserException(name + ": the " + peer + " closed the connection (waiting for the reply to "
                    + waitingFor + ")");
            }
            return m;
        } finally {
            fds.forEach(Fd::close);
        }
    }

    /**
     * A request a backend received and the descriptors that came with it: the receiver closes
     * them ({@link #close}) except those it {@link #take}s.
     */
    public static final class Incoming implements AutoCloseable {
        private final VhostUserMessage message;
        private final Fd[] fds;

        public Incoming(VhostUserMessage message, List<Fd> fds) {
            this.message = message;
            this.fds = fds.toArray(Fd[]::new);
        }

        public VhostUserMessage message() {
            return message;
        }

        /** How many descriptors came. */
        public int fdCount() {
            return fds.length;
        }

        /** The descriptors, still owned by this message. */
        public List<Fd> fds() {
            return List.of(fds);
        }

        /** Descriptor {@code i}, now the caller's to close. */
        public Fd take(int i) {
            Fd fd = fds[i];
            if (fd == null) {
                throw new IllegalStateException("descriptor " + i + " was taken already");
            }
            fds[i] = null;
            return fd;
        }

        /** Closes the descriptors nobody took. */
        @Override
        public void close() {
            for (Fd fd : fds) {
                if (fd != null) {
                    fd.close();
                }
            }
        }
    }

    /**
     * Receives one request and its descriptors (at most {@link VhostUserMessage#MAX_FDS}; more is
     * refused), waiting for its first byte for ever; null when the frontend closed the connection
     * between messages. A message cut short, malformed or over-sized is refused with the reason
     * and its descriptors closed.
     */
    public Incoming receiveRequest() throws VhostUserException {
        List<Fd> fds = new ArrayList<>();
        boolean ok = false;
        try {
            VhostUserMessage m = read("a request", true, fds, VhostUserMessage.MAX_FDS);
            ok = m != null;
            return m == null ? null : new Incoming(m, fds);
        } finally {
            if (!ok) {
                fds.forEach(Fd::close);
            }
        }
    }

    /**
     * Reads one whole message, adding the descriptors that came with it to {@code fds}; null if
     * the peer closed before its first byte.
     */
    private VhostUserMessage read(String what, boolean request, List<Fd> fds, int maxFds) throws VhostUserException {
        byte[] header = new byte[VhostUserMessage.HEADER_SIZE];
        if (!readFully(header, what, fds, maxFds, true, !request)) {
            return null;
        }
        VhostUserMessage.Header h;
        try {
            h = VhostUserMessage.decodeHeader(header);
        } catch (VhostUserException e) {
            throw new VhostUserException(name + ": " + what + ": " + e.getMessage(), e);
        }
        byte[] payload = new byte[h.size()];
        readFully(payload, request ? VhostUserRequest.describe(h.request()) : what, fds, maxFds, false, true);
        return new VhostUserMessage(h.request(), h.flags(), payload);
    }

    /**
     * Fills {@code into} (a header, or the payload after it); false if the peer closed before the
     * first byte of a header ({@code atStart}). {@code bounded}: the first byte too must come
     * within the timeout (a reply; a backend waits for ever for a frontend's next request, never
     * for the rest of one).
     */
    private boolean readFully(byte[] into, String what, List<Fd> fds, int maxFds, boolean atStart, boolean bounded)
            throws VhostUserException {
        int got = 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Math.max(1, into.length));
            while (got < into.length) {
                if (replyTimeoutMillis >= 0 && (bounded || got > 0) && poll.await(replyTimeoutMillis) == 0) {
                    throw new VhostUserException(name + ": " + what + " did not come within " + replyTimeoutMillis / 1000.0
                        + " s (" + peer + " hung?)");
                }
                ScmRights.Received r = ScmRights.receive(socket, buf.asSlice(0, into.length - got), maxFds);
                fds.addAll(r.fds());
                if (r.truncated() || fds.size() > maxFds) {
                    throw new VhostUserException(name + ": " + what + " came with more than " + maxFds + " descriptors");
                }
                if (r.bytes() == 0) {
                    if (atStart && got == 0) {
                        return false;
                    }
                    throw new VhostUserException(name + ": the " + peer + " closed the connection in the middle of a message ("
                        + got + " of " + into.length + " bytes of " + what + ")");
                }
                MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, into, got, (int) r.bytes());
                got += (int) r.bytes();
            }
            return true;
        } catch (SysException e) {
            throw new VhostUserException(name + ": reading " + what + ": " + e.getMessage(), e);
        }
    }

    /** Closes the socket; a second call does nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            socket.close();
            poll.close();
        }
    }
}
