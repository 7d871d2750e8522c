package org.jvisor.sys;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.util.List;
import java.util.function.Consumer;

/**
 * A connected socket descriptor (one accepted on an inherited listening socket, which the JDK
 * cannot adopt, or a Unix socket whose peer passes descriptors) as a blocking {@link ByteChannel}. {@link #close} shuts the socket down first, so
 * a thread blocked reading it sees the end of the stream. Not for hot paths: each call copies
 * through a native buffer (freed with the channel, by the collector).
 */
public final class FdChannel implements ByteChannel {
    private static final int CHUNK = 16 * 1024;
    /** Descriptors taken per message: more than a monitor client sends (the kernel closes the rest). */
    private static final int MAX_FDS = 16;

    private final Fd fd;
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment readBuf = arena.allocate(CHUNK);
    private final MemorySegment writeBuf = arena.allocate(CHUNK);
    private volatile boolean open = true;

    public FdChannel(Fd fd) {
        this.fd = fd;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!open) {
            throw new ClosedChannelException();
        }
        int want = Math.min(dst.remaining(), CHUNK);
        long n;
        synchronized (readBuf) {
            n = fd.read(readBuf.asSlice(0, want));
            if (n == 0) {
                return -1;
            }
            dst.put(readBuf.asSlice(0, n).asByteBuffer());
        }
        return (int) n;
    }

    /**
     * As {@link #read(ByteBuffer)}, with recvmsg(2): the descriptors that came with the bytes
     * (SCM_RIGHTS, unix(7)) go to {@code received}, which owns them from then on. A Unix socket
     * delivers them with the first byte of the data they were sent with, so a client's
     * getfd and its descriptor arrive in the same read (or the descriptor in an earlier one).
     */
    public int read(ByteBuffer dst, Consumer<List<Fd>> received) throws IOException {
        if (!open) {
            throw new ClosedChannelException();
        }
        int want = Math.min(dst.remaining(), CHUNK);
        synchronized (readBuf) {
            ScmRights.Received r = ScmRights.receive(fd, readBuf.asSlice(0, want), MAX_FDS);
            if (!r.fds().isEmpty()) {
                received.accept(r.fds());
            }
            if (r.bytes() == 0) {
                return -1;
            }
            dst.put(readBuf.asSlice(0, r.bytes()).asByteBuffer());
            return (int) r.bytes();
        }
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        if (!open) {
            throw new ClosedChannelException();
        }
        int len = Math.min(src.remaining(), CHUNK);
        synchronized (writeBuf) {
            writeBuf.asSlice(0, len).asByteBuffer().put(src.slice(src.position(), len));
            long n = fd.write(writeBuf.asSlice(0, len));
            src.position(src.position() + (int) n);
            return (int) n;
        }
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public void close() {
        if (!open) {
            return;
        }
        open = false;
        Sockets.shutdown(fd, Sockets.SHUT_RDWR);
        fd.close();
    }
}
