package org.jvisor.devices.virtio;

/**
 * How a device tells the driver something happened; the transport maps it to an MSI-X vector
 * (virtio-pci), to the ISR and INTx, or to InterruptStatus and a level IrqLine (virtio-mmio).
 */
public interface VirtioInterrupt {

    /** Used buffer notification for queue {@code queue}. */
    void usedBuffer(int queue);

    /** Configuration change notification (the config generation is bumped by the transport). */
    void configChanged();

    /**
     * The device's backend has work for queue {@code queue} (a frame arrived for a receive queue, console input arrived):
     * process it on the queue's processing thread, as if the driver had notified it. The
     * {@link VirtioCore} implements this for the devices it runs; transports never receive it.
     */
    default void backendReady(int queue) {
    }
}
