package org.jvisor.memory;

/**
 * Message-signalled interrupts raised by an eventfd in the kernel (KVM's irqfd bound to an MSI
 * route): a descriptor another process writes, such as a vhost-user backend's call eventfd,
 * interrupts the guest without passing through the VMM. What QEMU's virtio-pci does with
 * kvm_irqchip_add_irqfd_notifier_gsi for vhost devices. Engines whose interrupt controllers are
 * the VMM's own (tcg) offer none: there the VMM reads the eventfd and raises the interrupt itself.
 */
public interface MsiIrqfds {

    /**
     * Binds {@code eventFd} so that each write to it sends the message {@code data} to
     * {@code address} (0xFEExxxxx) as an MSI. The descriptor stays the caller's and must stay
     * open while bound. A write while bound that the kernel has not yet consumed is delivered when
     * it is bound (the kernel looks at the eventfd when the binding is made).
     *
     * @throws IllegalStateException if the engine has no route left for the message (the caller
     *                               keeps reading the eventfd itself)
     */
    Binding bind(int eventFd, long address, int data);

    /** A bound eventfd; {@link #close()} unbinds it (idempotent): later writes stay in the eventfd. */
    interface Binding extends AutoCloseable {
        @Override
        void close();
    }
}
