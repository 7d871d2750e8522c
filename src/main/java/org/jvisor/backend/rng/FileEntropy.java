package org.jvisor.backend.rng;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.jvisor.sys.Errno;
import org.jvisor.sys.Fd;
import org.jvisor.sys.SysException;

/**
 * {@code -object rng-random,filename=F} (QEMU's default F: /dev/urandom): the bytes {@code F}
 * gives, opened non-blocking, so a device with little entropy (/dev/hwrng, /dev/random on an old
 * kernel) or a FIFO with no writer makes the guest's request wait, not the device's thread. A
 * regular file gives its bytes once; at its end the source has nothing more, as QEMU's.
 */
public final class FileEntropy implements EntropySource {
    private final String path;
    private final Fd fd;
    private final Arena arena = Arena.ofShared();
    /** read(2) goes to native memory: a staging buffer, copied out without allocating. */
    private final MemorySegment staging = arena.allocate(4096);
    private boolean ended;
    private boolean closed;

    private FileEntropy(String path, Fd fd) {
        this.path = path;
        this.fd = fd;
    }

    /** Opens {@code path} for reading; a clear error names it when it cannot be opened. */
    public static FileEntropy open(String path) throws IOException {
        try {
            return new FileEntropy(path, Fd.open(path, Fd.O_RDONLY | Fd.O_NONBLOCK | Fd.O_CLOEXEC));
        } catch (SysException e) {
            throw new IOException("rng-random: could not open '" + path + "': " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized int read(byte[] buf, int offset, int length) throws IOException {
        if (ended) {
            return 0;
        }
        long n = fd.readNow(staging, 0, Math.min(length, staging.byteSize()));
        if (n == -Errno.EAGAIN.code() || n == -Errno.EINTR.code()) {
            return 0;
        }
        if (n < 0) {
            throw new SysException("rng-random: read(" + path + ")", (int) -n);
        }
        if (n == 0) {
            ended = true;   // a regular file at its end, or a FIFO whose writer left
            return 0;
        }
        MemorySegment.copy(staging, ValueLayout.JAVA_BYTE, 0, buf, offset, (int) n);
        return (int) n;
    }

    @Override
    public synchronized boolean exhausted() {
        return ended;
    }

    @Override
    public String describe() {
        return "rng-random " + path;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            ended = true;   // a late read finds nothing rather than a closed buffer
            fd.close();
            arena.close();
        }
    }
}
