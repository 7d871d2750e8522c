package org.jvisor.export;

import org.jvisor.backend.vhost.VhostUserMessage;
import org.jvisor.devices.virtio.SplitVirtqueue;
import org.jvisor.sys.Fd;

/**
 * One ring of a vhost-user backend (vhost-user.rst, "Ring states"): what the frontend set up
 * (size, addresses, base index, kick/call/err descriptors, enable) and the virtqueue that serves
 * it once started. A ring is started by its kick descriptor and stopped by GET_VRING_BASE; with
 * VHOST_USER_F_PROTOCOL_FEATURES it is also processed only while enabled.
 */
final class BackendRing {
    /** Largest ring accepted (QEMU's VIRTQUEUE_MAX_SIZE). */
    static final int MAX_SIZE = 1024;

    final int index;
    final SplitVirtqueue queue;
    final SplitVirtqueue.RequestHandler handler;
    VhostUserMessage.VringAddress address;
    int base;
    Fd kick;
    Fd call;
    Fd err;
    boolean enabled;
    /** Processing: kicked, addresses translated, virtqueue activated. */
    boolean started;
    /** Stopped by a malformed chain until the frontend restarts it. */
    boolean broken;

    BackendRing(int index, SplitVirtqueue.RequestHandler handler) {
        this.index = index;
        this.queue = new SplitVirtqueue(index, MAX_SIZE);
        this.handler = handler;
    }

    /** Whether kicks are served now. */
    boolean running() {
        return started && enabled && !broken;
    }

    /** Stops processing and closes the descriptors (GET_VRING_BASE, RESET_OWNER, a disconnect). */
    void stop() {
        if (started) {
            base = queue.lastAvailIndex();
            queue.deactivate();
        }
        started = false;
        broken = false;
        enabled = false;
        closeFds();
    }

    void closeFds() {
        if (kick != null) {
            kick.close();
            kick = null;
        }
        if (call != null) {
            call.close();
            call = null;
        }
        if (err != null) {
            err.close();
            err = null;
        }
    }
}
