package org.jvisor.devices.virtio;

import java.util.function.Consumer;
import java.util.function.IntToLongFunction;

import org.jvisor.memory.Doorbells;

/**
 * The queue notifications of one transport as engine doorbells (an ioeventfd per queue on kvm):
 * the driver's write of queue index q to q's notify address (virtio 1.2, 4.1.5.2 for PCI with
 * notify_off_multiplier > 0: one address per queue; 4.2.3.3 for MMIO's QueueNotify) runs
 * {@link VirtioCore#doorbellNotify} on the engine's doorbell thread without a vCPU exit. Writes that do
 * not match (another width or value) still reach the transport's registers. A device whose queues
 * another process serves names its own kick eventfd ({@link VirtioDevice#queueKickDescriptor}),
 * which the doorbell then signals directly.
 */
final class QueueDoorbells {
    private final Runnable[] rings;
    private final VirtioDevice device;
    private final Doorbells.Doorbell[] armed;
    private final String name;
    private final Consumer<String> log;

    QueueDoorbells(VirtioCore core, Consumer<String> log) {
        int n = core.queueCount();
        this.rings = new Runnable[n];
        this.armed = new Doorbells.Doorbell[n];
        this.name = core.device().name();
        this.device = core.device();
        this.log = log;
        for (int i = 0; i < n; i++) {
            int q = i;
            rings[i] = () -> core.doorbellNotify(q);
        }
    }

    /**
     * Arms one doorbell per queue at {@code address.applyAsLong(q)}, {@code length} bytes of value q,
     * after disarming any armed before. If the engine refuses one, all are disarmed (logged) and
     * notifications keep the MMIO path.
     */
    synchronized void arm(Doorbells doorbells, IntToLongFunction address, int length) {
        disarm();
        for (int q = 0; q < rings.length; q++) {
            try {
                int kick = device.queueKickDescriptor(q);
                armed[q] = kick >= 0 ? doorbells.armEventFd(address.applyAsLong(q), length, q, kick)
                    : doorbells.arm(address.applyAsLong(q), length, q, rings[q]);
            } catch (IllegalStateException e) {
                log.accept(name + ": queue notifications stay on the MMIO path: " + e.getMessage());
                disarm();
                return;
            }
        }
    }

    synchronized void disarm() {
        for (int q = 0; q < armed.length; q++) {
            if (armed[q] != null) {
                armed[q].close();
                armed[q] = null;
            }
        }
    }
}
