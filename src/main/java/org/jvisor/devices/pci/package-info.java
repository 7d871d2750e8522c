/**
 * PCI: configuration space of a function ({@link org.jvisor.devices.pci.PciDevice},
 * {@link org.jvisor.devices.pci.PciConfigSpace}), its BARs ({@link org.jvisor.devices.pci.PciBarRegion}),
 * capabilities (MSI, MSI-X, vendor-specific), and the host bridge with configuration mechanism #1,
 * ECAM, INTx routing and firmware-less BAR placement ({@link org.jvisor.devices.pci.PciHostBridge}).
 *
 * <p>Wiring in a machine: build the bridge with the io and memory address spaces, an
 * {@link org.jvisor.devices.pci.MsiSink} (ApicBus.deliverMsi on tcg, KVM_SIGNAL_MSI on kvm), the
 * routing that the ACPI _PRT describes and the GSI lines; register the ports (handing over the
 * reset control register at 0xCF9) and optionally the ECAM; add devices; call
 * {@code assignResources} before the guest starts.
 */
package org.jvisor.devices.pci;
