package org.jvisor.devices.virtio;

import org.jvisor.backend.chr.CharBackend;
import org.jvisor.devices.state.Bytes;

/**
 * One port of a {@link VirtioConsole} (virtio 1.2, 5.3.6): its identity as the driver sees it, the
 * character backend behind it, the open state of both sides, and the host input not yet handed to
 * the guest. Input is flow-controlled: when the guest has no receive buffers the few KiB here fill
 * up and {@link #receive} blocks the backend's reader until the guest adds some, so nothing is
 * dropped and the backend simply stops reading its source.
 */
final class ConsolePort implements CharBackend.Sink {
    static final int INPUT_BUFFER = 4096;

    final int id;
    final String name;
    final boolean console;
    final CharBackend backend;
    private final VirtioConsole device;

    /** The guest driver announced the port ready (PORT_READY with value 1). */
    volatile boolean ready;
    /** The guest has the port open (PORT_OPEN from the driver); input is held until it has. */
    volatile boolean guestConnected;
    /** The backend has a peer (a socket client); announced to the guest with PORT_OPEN. */
    volatile boolean hostConnected;

    private final byte[] input = new byte[INPUT_BUFFER];
    private int head;
    private int count;
    private boolean closed;
    private final byte[] output = new byte[4096];
    /**
     * Bytes of the request at the head of the transmitq that the backend took before it filled
     * up; that request is not used yet (guarded by the queue's processing thread).
     */
    private long transmitted;
    /** Bound once: called when the backend has room again, so a blocked transmitq resumes. */
    final Runnable resumeTransmit;

    ConsolePort(int id, String name, boolean console, CharBackend backend, VirtioConsole device) {
        this.id = id;
        this.name = name;
        this.console = console;
        this.backend = backend;
        this.device = device;
        this.resumeTransmit = () -> device.backendWritable(this);
    }

    void start() {
        hostConnected = backend.connected();
        backend.start(this);
    }

    /** Host input from the backend's thread: blocks while the input buffer is full. */
    @Override
    public void receive(byte[] data, int length) {
        int off = 0;
        while (off < length) {
            synchronized (this) {
                while (count == input.length && !closed) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
                if (closed) {
                    return;
                }
                int n = Math.min(length - off, input.length - count);
                int tail = (head + count) % input.length;
                int first = Math.min(n, input.length - tail);
                System.arraycopy(data, off, input, tail, first);
                System.arraycopy(data, off + first, input, 0, n - first);
                count += n;
                off += n;
            }
            device.inputArrived(this);
        }
    }

    @Override
    public void connectionChanged(boolean connected) {
        hostConnected = connected;
        device.hostConnectionChanged(this, connected);
    }

    synchronized boolean hasInput() {
        return count > 0;
    }

    /** How many input bytes wait for guest buffers. */
    synchronized int pendingInput() {
        return count;
    }

    /** The input waiting for guest buffers, oldest first. */
    synchronized Bytes savedInput() {
        byte[] b = new byte[count];
        int first = Math.min(count, input.length - head);
        System.arraycopy(input, head, b, 0, first);
        System.arraycopy(input, 0, b, first, count - first);
        return Bytes.copyOf(b);
    }

    /** Replaces the waiting input (at most {@link #INPUT_BUFFER} bytes). */
    synchronized void restoreInput(Bytes saved) {
        head = 0;
        count = saved.length();
        saved.copyTo(input, 0);
        notifyAll();
    }

    /** Moves buffered input into the writable buffers of {@code c}; returns the bytes moved. */
    synchronized int moveInputTo(DescriptorChain c) {
        int n = (int) Math.min(c.writableBytes(), count);
        int first = Math.min(n, input.length - head);
        c.write(0, input, head, first);
        if (n > first) {
            c.write(first, input, 0, n - first);
        }
        head = (head + n) % input.length;
        count -= n;
        if (n > 0) {
            notifyAll();
        }
        return n;
    }

    /**
     * One transmitq request: its readable buffers go to the backend as far as it takes them. True
     * when all of it was taken; false when the backend is full, and then the bytes taken so far are
     * remembered and the request stays with the driver until the rest goes (virtio 1.2, 2.7.8: a
     * buffer is used once the device is done with it), so a peer that stops reading holds the
     * writer back instead of losing its output. Runs on the queue's processing thread only.
     */
    boolean transmit(DescriptorChain c) throws VirtqueueException {
        if (c.writableCount() != 0) {
            throw new VirtqueueException(String.format(
                "virtio-serial port %d transmitq: request %d has %d device-writable bytes", id, c.head(), c.writableBytes()));
        }
        long total = c.readableBytes();
        while (transmitted < total) {
            int n = c.read(transmitted, output, 0, (int) Math.min(output.length, total - transmitted));
            int taken = backend.offer(output, 0, n);
            transmitted += taken;
            if (taken < n) {
                return false;
            }
        }
        transmitted = 0;
        return true;
    }

    /** Bytes of the request at the head of the transmitq the backend already took (0 between requests). */
    long transmitted() {
        return transmitted;
    }

    /** Restores {@link #transmitted()}; a reset or a restore of an idle port sets 0. */
    void transmitted(long bytes) {
        transmitted = bytes;
    }

    /** Wakes a reader blocked in {@link #receive} for good (the machine is closing). */
    synchronized void close() {
        closed = true;
        notifyAll();
    }
}
