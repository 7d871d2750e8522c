package org.jvisor.backend.chr;

import java.lang.foreign.MemorySegment;

import org.jvisor.sys.Errno;
import org.jvisor.sys.Poll;
import org.jvisor.sys.Pty;
import org.jvisor.sys.SysException;

/**
 * -chardev pty: a pseudo-terminal whose slave (/dev/pts/N, reported by query-chardev as
 * "pty:/dev/pts/N", as QEMU does) a terminal program opens; libvirt's serial console is one.
 * Output nobody reads fills the pty's buffer and is then dropped (as QEMU drops it while no one
 * is connected): the guest never waits for a terminal program.
 */
public final class PtyBackend implements CharBackend {
    private static final int POLL_MILLIS = 500;

    private final Pty pty;
    private final byte[] one = new byte[1];
    private final MemorySegment oneSegment = MemorySegment.ofArray(one);
    private volatile boolean closed;
    private Thread reader;

    private PtyBackend(Pty pty) {
        this.pty = pty;
    }

    public static PtyBackend open() throws SysException {
        return new PtyBackend(Pty.open());
    }

    /** The slave's path, /dev/pts/N. */
    public String path() {
        return pty.path();
    }

    @Override
    public synchronized void write(int b) {
        one[0] = (byte) b;
        pty.master().writeNow(oneSegment, 1);      // -EAGAIN (nobody reads): dropped
    }

    @Override
    public synchronized void write(byte[] data, int offset, int length) {
        MemorySegment s = MemorySegment.ofArray(data);
        while (length > 0) {
            long n = pty.master().writeNow(s.asSlice(offset, length), length);
            if (n <= 0) {
                return;                             // full or gone: the rest is dropped
            }
            offset += (int) n;
            length -= (int) n;
        }
    }

    @Override
    public void start(Sink sink) {
        reader = Thread.ofPlatform().daemon().name("chr-pty " + pty.path()).start(() -> {
            byte[] data = new byte[1024];
            MemorySegment seg = MemorySegment.ofArray(data);
            try (Poll poll = new Poll(1)) {
                poll.watch(0, pty.master().fd(), Poll.POLLIN);
                while (!closed) {
                    if (poll.await(POLL_MILLIS) == 0) {
                        continue;
                    }
                    long n = pty.master().readNow(seg, data.length);
                    if (n > 0) {
                        sink.receive(data, (int) n);
                    } else if (n != -Errno.EAGAIN.code() && n != -Errno.EINTR.code()) {
                        Thread.sleep(POLL_MILLIS);  // EIO: no slave side for now; look again later
                    }
                }
            } catch (SysException e) {
                if (!closed) {
                    System.err.println("jvisor: -chardev pty " + pty.path() + ": " + e.getMessage());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    @Override
    public void close() {
        closed = true;
        Thread r = reader;
        if (r != null) {
            try {
                r.join(POLL_MILLIS * 4L);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        pty.close();
    }
}
