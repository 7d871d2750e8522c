package org.jvisor.memory;

/**
 * Doorbells: guest writes of one value to one address that the CPU engine turns into a call on a
 * VMM thread without stopping the vCPU (KVM's ioeventfd). A virtio transport arms one per queue on
 * its notify address, so a queue notification costs the guest no exit to the VMM. Engines that trap
 * every access anyway (tcg) offer none; a write that does not match an armed doorbell (another
 * value or width) still reaches the address space as an ordinary MMIO write.
 */
public interface Doorbells {

    /**
     * Arms a doorbell on guest-physical memory address {@code address}: from now on a
     * {@code length}-byte guest write of {@code value} there runs {@code ring} on the engine's
     * doorbell thread instead of reaching the address space. Several rings may be coalesced into
     * one call. {@code ring} must not block and should allocate nothing.
     *
     * @throws IllegalStateException if the engine refuses (the caller keeps the MMIO path)
     */
    Doorbell arm(long address, int length, long value, Runnable ring);

    /**
     * Arms a doorbell that signals the eventfd {@code eventFd} itself (a descriptor another
     * process reads, such as a vhost-user backend's kick) instead of running code in the VMM: the
     * guest's write never reaches jvisor at all. The descriptor stays the caller's; it must stay
     * open while armed.
     *
     * @throws IllegalStateException if the engine cannot (tcg has no doorbells; the caller keeps the MMIO path)
     */
    default Doorbell armEventFd(long address, int length, long value, int eventFd) {
        throw new IllegalStateException("this engine cannot signal a descriptor on a guest write");
    }

    /** An armed doorbell; {@link #close()} disarms it (idempotent). */
    interface Doorbell extends AutoCloseable {
        @Override
        void close();
    }
}
