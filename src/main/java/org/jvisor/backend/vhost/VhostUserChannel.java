package org.jvisor.backend.vhost;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.jvisor.sys.Fd;
import org.jvisor.sys.Poll;
import org.jvisor.sys.ScmRights;
import org.jvisor.sys.SysException;

/**
 * One connection to a vhost-user backend: whole messages out (descriptors attached as
 * SCM_RIGHTS) and replies in, each read completely or refused with the reason (a peer that closes
 * mid-message, sends a bogus size or goes silent for {@code replyTimeoutMillis}). Not
 * thread-safe: its owner serializes request/reply pairs.
 */
public final class VhostUserChannel implements AutoCloseable {
    private final Fd socket;
    private final String name;
    private final int replyTimeoutMillis;
    private final Poll poll = new Poll(1);

    /**
     * @param socket             a connected stream socket, now owned by this channel
     * @param name               the backend as messages name it ("vhost-user backend at /run/x.sock")
     * @param replyTimeoutMillis how long a reply may take before the backend counts as hung (-1: for ever)
     */
    public VhostUserChannel(Fd socket, String name, int replyTimeoutMillis) {
        this.socket = socket;
        this.name = name;
        this.replyTimeoutMillis = replyTimeoutMillis;
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
        byte[] header = new byte[VhostUserMessage.HEADER_SIZE];
        readFully(header, waitingFor, true);
        VhostUserMessage.Header h;
        try {
            h = VhostUserMessage.decodeHeader(header);
        } catch (VhostUserException e) {
            throw new VhostUserException(name + ": reply to " + waitingFor + ": " + e.getMessage(), e);
        }
        byte[] payload = new byte[h.size()];
        readFully(payload, waitingFor, false);
        return new VhostUserMessage(h.request(), h.flags(), payload);
    }

    private void readFully(byte[] into, String waitingFor, boolean atStart) throws VhostUserException {
        int got = 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Math.max(1, into.length));
            while (got < into.length) {
                if (replyTimeoutMillis >= 0 && poll.await(replyTimeoutMillis) == 0) {
                    throw new VhostUserException(name + ": no reply to " + waitingFor + " within "
                        + replyTimeoutMillis / 1000.0 + " s (backend hung?)");
                }
                ScmRights.Received r = ScmRights.receive(socket, buf.asSlice(0, into.length - got), 4);
                r.fds().forEach(Fd::close);
                if (r.bytes() == 0) {
                    throw new VhostUserException(name + (atStart && got == 0
                        ? ": the backend closed the connection (waiting for the reply to " + waitingFor + ")"
                        : ": the backend closed the connection in the middle of a message (" + got + " of "
                            + into.length + " bytes of the reply to " + waitingFor + ")"));
                }
                MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, into, got, (int) r.bytes());
                got += (int) r.bytes();
            }
        } catch (SysException e) {
            throw new VhostUserException(name + ": reading the reply to " + waitingFor + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        socket.close();
        poll.close();
    }
}
