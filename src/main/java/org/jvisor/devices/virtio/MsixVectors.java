package org.jvisor.devices.virtio;

/** The PCI side's MSI-X table, as virtio-pci sees it. */
public interface MsixVectors {

    /** Sends the message of table entry {@code vector} (or sets its pending bit if masked). */
    void notify(int vector);

    /** Whether the MSI-X capability is enabled; when it is not, virtio-pci falls back to ISR + INTx. */
    default boolean enabled() {
        return true;
    }

    /** No MSI-X: interrupts go through the ISR and INTx. */
    MsixVectors NONE = new MsixVectors() {
        @Override
        public void notify(int vector) {
        }

        @Override
        public boolean enabled() {
            return false;
        }
    };
}
