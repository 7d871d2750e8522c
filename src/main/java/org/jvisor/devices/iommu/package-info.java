/**
 * An emulated Intel VT-d remapping unit (QEMU's intel-iommu) in legacy mode:
 * {@link org.jvisor.devices.iommu.IntelIommu} is the register file and the unit's state;
 * {@link org.jvisor.devices.iommu.SecondLevelWalk} translates through the guest's root, context
 * and page tables; {@link org.jvisor.devices.iommu.InvalidationQueue} runs queued invalidation;
 * {@link org.jvisor.devices.iommu.InterruptRemapping} translates remappable interrupt requests;
 * {@link org.jvisor.devices.iommu.IommuDma} is one PCI function's DMA view with its IOTLB and,
 * when the guest enables ATS on it, its {@link org.jvisor.devices.iommu.DeviceTlb}.
 *
 * <p>Wiring in a machine (a sketch):
 * <pre>{@code
 * IntelIommu unit = new IntelIommu(VtdOptions.DEFAULT, ram, new IdentityDma(ram), router::deliverMsi, log);
 * mmio.register("intel-iommu", IntelIommu.BASE, VtdRegister.WINDOW, unit);
 * pciHost.setMsiRemapper(unit::remapInterrupt);                       // before functions are added
 * ioapic.setRemapper(unit::remapInterrupt, IntelIommu.IOAPIC_SOURCE_ID);
 * IommuDma dma = unit.unboundDma();                                  // a function's view...
 * virtioCore.offerAccessPlatform(dma);                                // ...for VIRTIO_F_ACCESS_PLATFORM
 * pciFunction.addAts(dma::atsControl);                                // ats=on: ATS capability -> device-TLB
 * dma.bind(slot << 3);                                                // once the bus placed it
 * // ACPI: Dmar.build(new Dmar.Unit(IntelIommu.BASE, 39, true, false, Madt.IOAPIC_ID, devfns))
 * }</pre>
 */
package org.jvisor.devices.iommu;
