package org.jvisor.devices.virtio;

/**
 * The driver handed the device something no conforming driver would (a descriptor loop, a buffer
 * outside guest memory, a write into a read-only buffer...). The transport marks the device
 * DEVICE_NEEDS_RESET with this message; the VMM keeps running.
 */
public final class VirtqueueException extends Exception {
    public VirtqueueException(String message) {
        super(message);
    }
}
