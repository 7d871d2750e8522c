/**
 * PCI: configuration space of a function ({@link org.jvisor.devices.pci.PciDevice},
 * {@link org.jvisor.devices.pci.PciConfigSpace}), its BARs ({@link org.jvisor.devices.pci.PciBarRegion}),
 * capabilities (MSI, MSI-X, vendor-specific), and the host bridge with configuration mechanism #1,
 * ECAM, INTx routing and firmware-less BAR placement ({@link org.jvisor.devices.pci.PciHostBridge}),
 * and PCI Express root ports with a function behind each ({@link org.jvisor.devices.pci.PcieRootPort}),
 * whose slots do native PCI Express hot-plug ({@link org.jvisor.devices.pci.PcieSlot}).
 *
 * <p>Wiring in a machine (a sketch):
 * <pre>{@code
 * MsiSink msi = apicRouter::deliverMsi;                    // tcg; KVM_SIGNAL_MSI on kvm
 * PciHostBridge pci = new PciHostBridge(io, mmio, msi, PciIrqRouting.swizzled(16), controllers::gsi);
 * pci.registerPorts(resetControl);     // 0xCF8-0xCFF; ResetControl is no longer registered at 0xCF9 itself
 * pci.registerEcam(0xE000_0000L, 256); // optional; then PciHost.ecamBase = 0xE000_0000 (MCFG)
 * pci.add(someDevice);                 // slots 1..31
 * PcieRootPort port = new PcieRootPort(8, 0, false);
 * pci.add(2, 0, port);                 // then pci.add(port, 0, deviceBehindIt): the guest numbers its bus
 * // device_add: port.checkHotPlug(); pci.add(port, 0, card); port.hotPlugged();
 * // device_del: port.requestUnplug(() -> { pci.remove(port, 0); closeCard(); emitDeviceDeleted(); });
 * PciHostBridge.Windows w = PciHostBridge.Windows.pc(0xE000_0000L, mmio64Base, mmio64Size);
 * pci.assignResources(w);              // before the guest runs; pci.reset() on machine reset
 * // ACPI: new PciHost(0, 0, 255, ecamBase, w.mmio32Base(), w.mmio32Size(), w.mmio64Base(),
 * //                   w.mmio64Size(), PciHost.swizzledRoutes(32, 16))
 * }</pre>
 */
package org.jvisor.devices.pci;
