package org.jvisor.testing;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

import org.jvisor.backend.vhost.VhostUserChannel;
import org.jvisor.backend.vhost.VhostUserFrontend;
import org.jvisor.backend.vhost.VhostUserMessage;
import org.jvisor.backend.vhost.VhostUserRequest;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Poll;
import org.jvisor.sys.ScmRights;
import org.jvisor.sys.Sockets;
import org.jvisor.sys.SysException;

/**
 * A scripted vhost-user backend on one end of a socketpair: it reads each request the frontend
 * sends and answers with whatever bytes the script returns for it (well-formed replies, or the
 * malformed ones tests need), or closes the connection when the script returns null or after
 * sending less (or more) than one whole message.
 */
public final class ScriptedVhostUserBackend implements AutoCloseable {
    /** What a well-behaved backend offers: VERSION_1, PROTOCOL_FEATURES, blk's SEG_MAX and BLK_SIZE. */
    public static final long FEATURES = (1L << 32) | (1L << 30) | (1L << 2) | (1L << 6);
    public static final long PROTOCOL = (1L << 0) | (1L << 3) | (1L << 9) | (1L << 12);

    public final List<Integer> requests = new CopyOnWriteArrayList<>();
    public final List<Integer> fdCounts = new CopyOnWriteArrayList<>();
    /** Every request received, payload included. */
    public final List<VhostUserMessage> messages = new CopyOnWriteArrayList<>();
    /** The call eventfds received (SET_VRING_CALL), kept open until {@link #close()} so a test can signal them. */
    public final List<Fd> callFds = new CopyOnWriteArrayList<>();
    private final Fd socket;
    private final Thread thread;
    private volatile Throwable failure;
    private volatile boolean stopping;
    /** When 0 or more: a descriptor attached to every reply (no reply carries one: a broken backend). */
    public volatile int attachToReplies = -1;

    /** Serves {@code script} on the connected {@code socket} (now this backend's) on a thread of its own. */
    public ScriptedVhostUserBackend(Fd socket, Function<VhostUserMessage, byte[]> script) {
        this.socket = socket;
        this.thread = Thread.ofPlatform().daemon().name("fake-vhost-user-backend").start(() -> serve(script));
    }

    /** A frontend connected to a backend that runs {@code script}. */
    public static VhostUserFrontend start(Function<VhostUserMessage, byte[]> script, ScriptedVhostUserBackend[] backend)
            throws SysException {
        Sockets.Pair pair = Sockets.socketPair(Sockets.SOCK_STREAM);
        backend[0] = new ScriptedVhostUserBackend(pair.second(), script);
        return new VhostUserFrontend(new VhostUserChannel(pair.first(), "fake backend", 60_000));
    }

    /** The answers of a backend with {@link #FEATURES}, {@link #PROTOCOL}, one queue and a 60-byte config of capacity 2048. */
    public static byte[] wellBehaved(VhostUserMessage m) {
        VhostUserRequest r = VhostUserRequest.of(m.request());
        return switch (r) {
            case GET_FEATURES -> reply(m.request(), VhostUserMessage.u64(FEATURES));
            case GET_PROTOCOL_FEATURES -> reply(m.request(), VhostUserMessage.u64(PROTOCOL));
            case GET_QUEUE_NUM -> reply(m.request(), VhostUserMessage.u64(1));
            case GET_CONFIG -> {
                byte[] cfg = new byte[60];
                ByteBuffer.wrap(cfg).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 2048).putInt(20, 512);
                yield reply(m.request(), new VhostUserMessage.Config(0, 0, cfg).encode());
            }
            case GET_VRING_BASE -> reply(m.request(), new VhostUserMessage.VringState(ByteBuffer.wrap(m.payload())
                .order(ByteOrder.LITTLE_ENDIAN).getInt(), 7).encode());
            default -> (m.flags() & VhostUserMessage.FLAG_NEED_REPLY) != 0 ? reply(m.request(), VhostUserMessage.u64(0)) : new byte[0];
        };
    }

    /** A reply header (version 1, REPLY) and payload, encoded. */
    public static byte[] reply(int request, byte[] payload) {
        return new VhostUserMessage(request, VhostUserMessage.VERSION | VhostUserMessage.FLAG_REPLY, payload).encode();
    }

    private void serve(Function<VhostUserMessage, byte[]> script) {
        try (Arena a = Arena.ofConfined(); Poll poll = new Poll(1)) {
            MemorySegment buf = a.allocate(8192);
            poll.watch(0, socket.fd(), Poll.POLLIN);
            while (true) {
                // Waits in short slices so that close() can end it: a close of the descriptor from
                // another thread would not wake a blocked recvmsg, and the peer would see no hang-up.
                while (poll.await(20) == 0) {
                    if (stopping) {
                        socket.close();
                        return;
                    }
                }
                ScmRights.Received got = ScmRights.receive(socket, buf.asSlice(0, VhostUserMessage.HEADER_SIZE), 8);
                if (got.bytes() == 0) {
                    return;
                }
                int fds = got.fds().size();
                byte[] header = buf.asSlice(0, VhostUserMessage.HEADER_SIZE).toArray(ValueLayout.JAVA_BYTE);
                VhostUserMessage.Header h = VhostUserMessage.decodeHeader(header);
                if (h.request() == VhostUserRequest.SET_VRING_CALL.code()) {
                    callFds.addAll(got.fds());
                } else {
                    got.fds().forEach(Fd::close);
                }
                byte[] payload = new byte[h.size()];
                int have = 0;
                while (have < h.size()) {
                    ScmRights.Received more = ScmRights.receive(socket, buf.asSlice(0, h.size() - have), 8);
                    fds += more.fds().size();
                    more.fds().forEach(Fd::close);
                    MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, payload, have, (int) more.bytes());
                    have += (int) more.bytes();
                }
                VhostUserMessage m = new VhostUserMessage(h.request(), h.flags(), payload);
                messages.add(m);
                requests.add(h.request());
                fdCounts.add(fds);
                byte[] answer = script.apply(m);
                if (answer == null) {
                    socket.close();
                    return;
                }
                if (answer.length > 0) {
                    MemorySegment out = a.allocate(answer.length);
                    MemorySegment.copy(answer, 0, out, ValueLayout.JAVA_BYTE, 0, answer.length);
                    int extra = attachToReplies;
                    if (extra >= 0) {
                        ScmRights.send(socket, out, extra, extra);
                    } else {
                        ScmRights.send(socket, out);
                    }
                    if (!whole(answer)) {
                        socket.close();   // a partial message is the last thing this backend sends
                        return;
                    }
                }
            }
        } catch (Throwable t) {
            failure = t;
        }
    }

    private static boolean whole(byte[] m) {
        return m.length >= VhostUserMessage.HEADER_SIZE
            && m.length == VhostUserMessage.HEADER_SIZE + ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).getInt(8);
    }

    public Throwable failure() {
        return failure;
    }

    @Override
    /** Hangs up (the frontend sees the connection closed) and waits for the thread to end. */
    public void close() throws InterruptedException {
        stopping = true;
        thread.join(10_000);
        socket.close();
        callFds.forEach(Fd::close);
    }
}
