package org.jvisor.devices.virtio;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of a {@link VirtioPciTransport} (the virtio side of a virtio-pci
 * function; its PCI configuration space and MSI-X table are the function's): the common
 * configuration selectors, the configuration-change MSI-X vector, the ISR, and the device behind
 * it. INTx is derived: asserted while the ISR is non-zero and MSI-X is off.
 *
 * @param isr                 ISR status (queue interrupt, configuration change)
 * @param deviceFeatureSelect device_feature_select
 * @param driverFeatureSelect driver_feature_select
 * @param configVector        config_msix_vector (0xFFFF for none)
 * @param queueSelect         queue_select
 * @param virtio              the device: status, features, queues, device type state
 */
public record VirtioPciState(int isr, int deviceFeatureSelect, int driverFeatureSelect, int configVector,
                             int queueSelect, VirtioState virtio) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
