package org.jvisor.backend.chr;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;

/**
 * A character backend over host streams: stdio (-serial stdio) or a file (-serial file:PATH, output
 * only). Output is flushed at each newline and when the guest goes quiet, so interactive output
 * appears at once without a syscall per byte.
 */
public final class StreamBackend implements CharBackend {
    private final OutputStream out;
    private final InputStream in;
    private final byte[] buf = new byte[4096];
    private int used;
    private final EscapeFilter escapes;
    private volatile boolean closed;
    private Thread reader;

    public StreamBackend(OutputStream out, InputStream in) {
        this(out, in, null);
    }

    /** With {@code escapes}, host input passes QEMU's Ctrl-A escape handling first. */
    public StreamBackend(OutputStream out, InputStream in, EscapeFilter escapes) {
        this.out = out;
        this.in = in;
        this.escapes = escapes;
    }

    @Override
    public synchronized void write(int b) {
        buf[used++] = (byte) b;
        if (b == '\n' || used == buf.length) {
            flushLocked();
        } else if (used == 1) {
            notifyAll(); // a partial line: the flusher writes it out if the guest goes quiet
        }
    }

    @Override
    public synchronized void write(byte[] data, int offset, int length) {
        for (int i = 0; i < length; i++) {
            write(data[offset + i] & 0xFF);
        }
    }

    /** Writes what is buffered. */
    public synchronized void flush() {
        flushLocked();
    }

    private void flushLocked() {
        if (used == 0) {
            return;
        }
        try {
            out.write(buf, 0, used);
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("serial output failed", e);
        } finally {
            used = 0;
        }
    }

    @Override
    public void start(Sink sink) {
        // Sleeps until a partial line is buffered, then gives the rest of the line 20 ms: no
        // periodic wake-ups while the guest prints nothing (an idle guest costs no host CPU here).
        Thread.ofPlatform().daemon().name("chr-flush").start(() -> {
            try {
                while (true) {
                    synchronized (this) {
                        while (!closed && used == 0) {
                            wait();
                        }
                        if (closed) {
                            return;
                        }
                    }
                    Thread.sleep(20);
                    flush();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        if (in == null) {
            return;
        }
        reader = Thread.ofPlatform().daemon().name("chr-input").start(() -> {
            byte[] data = new byte[1024];
            try {
                int n;
                while (!closed && (n = in.read(data)) > 0) {
                    if (escapes != null) {
                        n = escapes.filter(data, n);
                    }
                    if (n > 0) {
                        sink.receive(data, n);
                    }
                }
            } catch (IOException e) {
                // stdin closed: no more input, as with a closed terminal
            }
        });
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        flush();
    }
}
