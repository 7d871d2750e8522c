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
     * The device has new work for queue {@code queue} that no driver notification announced (its
     * backend produced input): run {@link VirtioDevice#processQueue} for it on the processing
     * thread, as if the driver had notified it. Only the core's interrupt does anything.
     */
    default void kick(int queue) {
    }
}
