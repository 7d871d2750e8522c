package org.jvisor.devices.virtio;

import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import org.jvisor.devices.pci.MsixCapability;
import org.jvisor.memory.MsiIrqfds;

/**
 * The used-buffer interrupts of a virtio-pci function whose queues another process serves
 * (vhost-user), raised in the kernel: each queue's call eventfd ({@link VirtioDevice#queueCallDescriptor})
 * is bound to the message of the queue's MSI-X vector (kvm's irqfd), so the backend interrupts the
 * guest without jvisor. The binding follows the guest: it is made while MSI-X is enabled, the
 * function and the vector are unmasked, bus mastering is on and the queue has a vector; it moves
 * when the vector's message or the queue's vector changes; otherwise the call eventfd is unbound
 * and the device reads it and raises the interrupt itself ({@link VirtioDevice#queueCallInKernel}),
 * so a masked vector sets its pending bit and MSI-X off means ISR and INTx. This is QEMU 7.2's
 * virtio-pci with vhost (kvm_virtio_pci_vector_use/unmask and vhost_virtqueue_mask), except that
 * the backend keeps one call eventfd throughout: jvisor moves the binding, not the descriptor, so
 * masking costs no message to the backend and a reconnect sends the same descriptors.
 *
 * <p>{@link #update} runs after every change that matters (MSI-X table and control, COMMAND,
 * queue_msix_vector, device status 0, reset, restore) on the thread that made it, and compares
 * what each queue has with what it should have; nothing changes for writes that change nothing.
 */
final class QueueIrqfds {
    private static final int NO_VECTOR = 0xFFFF;

    private final VirtioCore core;
    private final MsixCapability msix;
    private final BooleanSupplier busMaster;
    private final Consumer<String> log;
    private final MsiIrqfds.Binding[] bound;
    private final long[] boundAddress;
    private final int[] boundData;
    private MsiIrqfds irqfds;
    private boolean closed;
    private boolean refusalLogged;
    private long bindings;

    QueueIrqfds(VirtioCore core, MsixCapability msix, BooleanSupplier busMaster, Consumer<String> log) {
        this.core = core;
        this.msix = msix;
        this.busMaster = busMaster;
        this.log = log;
        int n = core.queueCount();
        this.bound = new MsiIrqfds.Binding[n];
        this.boundAddress = new long[n];
        this.boundData = new int[n];
    }

    /** Binds the call eventfds through {@code irqfds} from now on (the engine's; kvm). */
    synchronized void use(MsiIrqfds irqfds) {
        this.irqfds = irqfds;
        update();
    }

    /** Makes each queue's binding match the guest's MSI-X programming. */
    synchronized void update() {
        if (irqfds == null) {
            return;
        }
        VirtioDevice device = core.device();
        boolean usable = !closed && msix.isEnabled() && !msix.isFunctionMasked() && busMaster.getAsBoolean();
        for (int q = 0; q < bound.length; q++) {
            int fd = device.queueCallDescriptor(q);
            if (fd < 0) {
                continue;
            }
            SplitVirtqueue queue = core.queue(q);
            int v = queue == null ? NO_VECTOR : queue.msixVector();
            boolean want = usable && v != NO_VECTOR && v < msix.vectors() && !msix.isMasked(v);
            long address = want ? msix.messageAddress(v) : 0;
            int data = want ? msix.messageData(v) : 0;
            if (bound[q] != null && want && boundAddress[q] == address && boundData[q] == data) {
                continue;
            }
            if (bound[q] != null) {
                // Writes from here until a new binding stay in the eventfd: the device reads them,
                // or the kernel delivers them when the new binding is made.
                bound[q].close();
                bound[q] = null;
                if (!want) {
                    device.queueCallInKernel(q, false);
                    continue;
                }
            } else if (!want) {
                continue;
            }
            try {
                bound[q] = irqfds.bind(fd, address, data);
                bindings++;
                boundAddress[q] = address;
                boundData[q] = data;
                device.queueCallInKernel(q, true);
            } catch (IllegalStateException e) {
                device.queueCallInKernel(q, false);
                if (!refusalLogged) {
                    refusalLogged = true;
                    log.accept(device.name() + ": queue " + q + "'s interrupts go through jvisor: " + e.getMessage());
                }
            }
        }
    }

    /** Queues whose call eventfd is bound in the kernel now (tests, reports). */
    synchronized int boundQueues() {
        int n = 0;
        for (MsiIrqfds.Binding b : bound) {
            n += b != null ? 1 : 0;
        }
        return n;
    }

    /** Bindings made so far (each a KVM_IRQFD; a mask and unmask makes one more). */
    synchronized long bindings() {
        return bindings;
    }

    /** Unbinds every call eventfd (before the device closes them); the device reads them from then on. */
    synchronized void close() {
        closed = true;
        update();
    }
}
