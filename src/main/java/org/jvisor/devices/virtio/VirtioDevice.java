package org.jvisor.devices.virtio;

import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * A virtio device model, independent of its transport: identity, features, configuration space and
 * queue processing. The transport ({@link VirtioMmioTransport}, {@link VirtioPciTransport}) runs the
 * status lifecycle through a {@link VirtioCore} and calls in here.
 */
public interface VirtioDevice {

    /** Device ID (virtio 1.2, 5): 1 net, 2 block, 3 console, 4 entropy... */
    int deviceType();

    /** Short name for log messages, e.g. "virtio-blk". */
    String name();

    /** Features offered; must include {@link Virtio#F_VERSION_1}. */
    long deviceFeatures();

    int queueCount();

    /** Largest size of queue {@code queue} (a power of 2). */
    int queueMaxSize(int queue);

    /** Size in bytes of the device-specific configuration space. */
    int configSize();

    /** Reads {@code size} bytes (1, 2, 4 or 8) of configuration space at {@code offset}, little-endian. */
    long readConfig(int offset, int size);

    void writeConfig(int offset, int size, long value);

    /**
     * The driver set DRIVER_OK: start with the negotiated {@code features}. {@code queues} has
     * {@link #queueCount()} entries (the driver may have left some not ready); {@code interrupt}
     * delivers notifications.
     */
    void activate(SplitVirtqueue[] queues, long features, VirtioInterrupt interrupt);

    /**
     * The driver notified queue {@code queue} (called on the transport's processing thread, one call
     * per queue at a time). Throws if the driver broke the ring protocol.
     */
    void processQueue(int queue) throws VirtqueueException;

    /**
     * For a device whose queues another process serves (vhost-user): the eventfd a notification
     * of queue {@code queue} should signal directly, so that on kvm the guest's notify write goes
     * from the kernel to that process (an ioeventfd on the device's own descriptor); -1, the
     * default, for devices jvisor processes itself.
     */
    default int queueKickDescriptor(int queue) {
        return -1;
    }

    /**
     * For a device whose queues another process serves: the eventfd that process signals when it
     * used buffers of queue {@code queue} (vhost-user's call), which the transport may bind to the
     * queue's MSI-X message in the kernel (kvm's irqfd) so that the interrupt never passes
     * through jvisor; -1, the default, for devices that raise their interrupts themselves.
     */
    default int queueCallDescriptor(int queue) {
        return -1;
    }

    /**
     * The transport bound (true) or unbound (false) {@link #queueCallDescriptor} of queue
     * {@code queue} in the kernel. While unbound, the device reads the descriptor and raises
     * the used-buffer interrupt itself (masked vector: the pending bit; MSI-X off: ISR and INTx).
     * Called on vCPU threads; must not block on the backend.
     */
    default void queueCallInKernel(int queue, boolean inKernel) {
    }

    /** Back to the state before activation (the driver wrote 0 to the status). */
    void reset();

    /**
     * The device type's own state beyond what the {@link VirtioCore} saves (status, features,
     * queues): what the driver has seen of it, and data in flight inside the device. Called with
     * no queue being processed.
     */
    DeviceState saveState();

    /**
     * Takes what {@link #saveState()} gave. The core calls it after a {@link #reset()}, with the
     * queues restored and, for a device that was running, after {@link #activate}. Refuses a state
     * of another device type or of a differently configured device (another disk size, MAC, port
     * set) with the field named.
     */
    void restoreState(DeviceState state) throws DeviceStateException;
}
