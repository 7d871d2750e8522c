package org.jvisor.devices.iommu;

import org.junit.jupiter.api.Test;
import org.jvisor.devices.pci.AtsCapability;
import org.jvisor.devices.pci.PciCapability;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.virtio.VirtioPciFunction;
import org.jvisor.devices.virtio.VirtioRng;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ATS and device-TLBs behind the VT-d unit (device-iotlb=on): a virtio-rng function with ats=on
 * whose DMA view is the unit's, its ATS capability programmed through configuration space as
 * Linux does, its device-TLB filled by DMA and invalidated only by device-IOTLB descriptors.
 */
class DeviceTlbTest {
    static final int SID = 0x18;   // 00:03.0
    static final VtdOptions DEVICE_IOTLB = new VtdOptions(true, false, true, 39, false);
    static final int ATS = PciDevice.EXTENDED_CAPABILITIES_START;
    static final long OLD = 0x300_0000L, NEW = 0x400_0000L;

    /** A guest with the unit, a function with ATS behind it, and page tables of domain 1. */
    private static final class Rig implements AutoCloseable {
        final VtdGuest g;
        final IommuDma dma;
        final VirtioPciFunction fn;
        final long top;

        Rig(VtdOptions options, int tt) {
            g = new VtdGuest(options);
            dma = g.unit.dmaFor(SID);
            fn = new VirtioPciFunction(new VirtioRng(), dma);
            fn.addAts(dma::atsControl);
            top = g.table();
            g.root(0);
            g.context(SID, tt, top, 1, 1, false);
            g.enable();
        }

        Rig() {
            this(DEVICE_IOTLB, 1);
        }

        /** Linux's pci_enable_ats(dev, 12): Enable with STU 0. */
        void enableAts() {
            fn.writeConfig(ATS + AtsCapability.CONTROL, 2, AtsCapability.CONTROL_ENABLE);
        }

        /** Maps IOVA page {@code iova} to {@code gpa}, which holds {@code value}. */
        void map(long iova, long gpa, int value) {
            g.map(top, 3, iova, gpa, 1, 3);
            g.ram.writeU32(gpa, value);
        }

        /** What Linux sends on an unmap: a page-selective IOTLB invalidation of domain 1 and a wait. */
        void invalidateIotlb(long iova) {
            g.submit(2 | 3 << 4 | 1L << 16, iova);
            g.waitFor(1);
        }

        /** A device-TLB invalidate descriptor (6.5.2.5) for {@code sid}, ADDR and S as given. */
        void invalidateDeviceTlb(int sid, long addr, boolean s) {
            g.submit(3 | (long) sid << 32, addr | (s ? 1 : 0));
            g.waitFor(2);
        }

        @Override
        public void close() {
            g.close();
        }
    }

    @Test
    void atsCapabilityIsAnExtendedCapabilityOfAnIntegratedEndpoint() {
        try (Rig r = new Rig()) {
            // the PCI Express capability in the standard list: version 2, Root Complex Integrated Endpoint
            int at = r.fn.readConfig(PciDevice.CAPABILITIES_POINTER, 1);
            int pcie = 0;
            while (at != 0) {
                if (r.fn.readConfig(at, 1) == PciCapability.ID_PCIE) {
                    pcie = at;
                }
                at = r.fn.readConfig(at + 1, 1);
            }
            assertTrue(pcie != 0, "a PCI Express capability");
            assertEquals(0x92, r.fn.readConfig(pcie + 2, 2));
            // ATS at 0x100, version 1, the last extended capability; queue depth 32 (0), page aligned requests
            assertEquals(0x0001_000F, r.fn.readConfig(ATS, 4));
            assertEquals(AtsCapability.PAGE_ALIGNED_REQUEST, r.fn.readConfig(ATS + AtsCapability.CAPABILITY, 2));
            assertEquals(0, r.fn.readConfig(ATS + AtsCapability.CONTROL, 2));
            r.fn.writeConfig(ATS + AtsCapability.CONTROL, 2, 0xFFFF);
            assertEquals(0x801F, r.fn.readConfig(ATS + AtsCapability.CONTROL, 2), "Enable and STU are writable");
            assertTrue(r.dma.atsEnabled());
            r.fn.writeConfig(ATS + AtsCapability.CAPABILITY, 2, 0);
            assertEquals(AtsCapability.PAGE_ALIGNED_REQUEST, r.fn.readConfig(ATS + AtsCapability.CAPABILITY, 2), "read-only");
            r.fn.reset();
            assertEquals(0, r.fn.readConfig(ATS + AtsCapability.CONTROL, 2));
            assertFalse(r.dma.atsEnabled(), "a reset disables ATS");
        }
    }

    @Test
    void anIotlbInvalidationLeavesTheDeviceTlbUntilADeviceIotlbInvalidation() {
        try (Rig r = new Rig()) {
            r.map(0x1000, OLD, 1);
            r.g.ram.writeU32(NEW, 2);
            r.enableAts();
            assertEquals(1, r.dma.readU32(0x1000), "a miss: translated and cached");
            r.map(0x1000, NEW, 2);
            r.invalidateIotlb(0x1000);
            long walks = r.g.unit.counters().walks();
            assertEquals(1, r.dma.readU32(0x1000), "the function still uses its device-TLB's stale translation");
            assertEquals(walks, r.g.unit.counters().walks(), "without asking the unit");
            r.invalidateDeviceTlb(SID + 8, 0x1000, false);
            assertEquals(1, r.dma.readU32(0x1000), "an invalidation for another requester id is not this function's");
            r.invalidateDeviceTlb(SID, 0x1000, false);
            assertEquals(2, r.dma.readU32(0x1000), "the device-IOTLB invalidation dropped it: the new page");
            assertEquals(2, r.g.unit.counters().deviceIotlbInvalidations());
            DeviceTlb.Stats s = r.dma.deviceTlbStats();
            assertEquals(2, s.misses());
            assertEquals(2, s.hits());
            assertEquals(1, s.invalidations(), "the other requester id's is not counted here");
            assertEquals(1, s.dropped());
            assertTrue(r.g.unit.deviceTlbReport().contains("device-tlb 00:03.0 (ats on): hits 2, misses 2, invalidations 1"),
                r.g.unit.deviceTlbReport());
            assertTrue(r.g.errors.isEmpty(), r.g.errors.toString());
        }
    }

    @Test
    void withAtsDisabledTranslationTypeOneActsAsTypeZero() {
        try (Rig r = new Rig()) {
            r.map(0x1000, OLD, 1);
            r.g.ram.writeU32(NEW, 2);
            assertEquals(1, r.dma.readU32(0x1000));
            r.map(0x1000, NEW, 2);
            r.invalidateIotlb(0x1000);
            assertEquals(2, r.dma.readU32(0x1000), "no device-TLB: the IOTLB invalidation is enough");
            assertEquals(0, r.dma.deviceTlbStats().misses());
        }
    }

    @Test
    void withTranslationTypeZeroAnAtsFunctionCachesNothing() {
        try (Rig r = new Rig(DEVICE_IOTLB, 0)) {
            r.map(0x1000, OLD, 1);
            r.g.ram.writeU32(NEW, 2);
            r.enableAts();
            assertEquals(1, r.dma.readU32(0x1000));
            r.map(0x1000, NEW, 2);
            r.invalidateIotlb(0x1000);
            assertEquals(2, r.dma.readU32(0x1000), "TT=00: translation requests are not answered for caching");
        }
    }

    @Test
    void translationTypeOneWithoutDeviceTlbSupportIsAnInvalidContext() {
        try (Rig r = new Rig(VtdOptions.DEFAULT, 1)) {
            r.map(0x1000, OLD, 1);
            r.enableAts();
            IommuDma.DmaFaultException e = assertThrows(IommuDma.DmaFaultException.class, () -> r.dma.readU32(0x1000));
            assertEquals(VtdFault.CONTEXT_INVALID.code, e.reason());
            assertEquals(VtdFault.CONTEXT_INVALID.code, (int) (r.g.reg(VtdRegister.FRCD_HI) >>> 32) & 0xFF);
            assertEquals(SID, (int) r.g.reg(VtdRegister.FRCD_HI) & 0xFFFF);
        }
    }

    @Test
    void theSizeBitCoversTheRangeItEncodes() {
        assertEquals(0x1000, InvalidationQueue.deviceTlbRangeSize(0x5000));
        assertEquals(0x5000, InvalidationQueue.deviceTlbRangeBase(0x5000));
        assertEquals(0x2000, InvalidationQueue.deviceTlbRangeSize(0x4000 | 1), "bit 12 clear: 8 KiB");
        assertEquals(0x4000, InvalidationQueue.deviceTlbRangeBase(0x4000 | 1));
        assertEquals(0x4000, InvalidationQueue.deviceTlbRangeSize(0x9000 | 1), "bit 12 set, 13 clear: 16 KiB");
        assertEquals(0x8000, InvalidationQueue.deviceTlbRangeBase(0x9000 | 1));
        assertEquals(0x20_0000, InvalidationQueue.deviceTlbRangeSize(0x40_0000 | 0xFF000 | 1), "eight 1 bits: 2 MiB");
        assertEquals(0x40_0000, InvalidationQueue.deviceTlbRangeBase(0x40_0000 | 0xFF000 | 1));
        // Linux's "everything": ADDR with bits 62:12 set (qi_flush_dev_iotlb with mask 52)
        assertEquals(0, InvalidationQueue.deviceTlbRangeSize(0x7FFF_FFFF_FFFF_F001L));
        assertEquals(0, InvalidationQueue.deviceTlbRangeSize(0xFFFF_FFFF_FFFF_F001L));
        assertEquals(0, InvalidationQueue.deviceTlbRangeBase(0xFFFF_FFFF_FFFF_F001L));
    }

    @Test
    void anInvalidationDropsExactlyTheRangeItCovers() {
        try (Rig r = new Rig()) {
            for (int i = 0; i < 8; i++) {
                r.map(0x10000 + i * 0x1000L, OLD + i * 0x1000L, 1);
                r.g.ram.writeU32(NEW + i * 0x1000L, 2);
            }
            r.enableAts();
            for (int i = 0; i < 8; i++) {
                assertEquals(1, r.dma.readU32(0x10000 + i * 0x1000L));
                r.map(0x10000 + i * 0x1000L, NEW + i * 0x1000L, 2);
            }
            r.invalidateIotlb(0x10000);   // (any IOTLB invalidation: the device-TLB keeps its entries)
            r.invalidateDeviceTlb(SID, 0x12000, true);            // S, bit 12 clear: 8 KiB at 0x12000
            assertEquals("11221111", reads(r, 0x10000, 8));
            r.invalidateDeviceTlb(SID, 0x14000 | 0x1000, true);   // S, bit 12 set: 16 KiB at 0x14000
            assertEquals("11222222", reads(r, 0x10000, 8));
            r.invalidateDeviceTlb(SID, 0x7FFF_FFFF_FFFF_F000L, true);   // everything
            assertEquals("22222222", reads(r, 0x10000, 8));
        }
    }

    @Test
    void anInvalidationOfPartOfALargePageDropsItsWholeTranslation() {
        try (Rig r = new Rig()) {
            r.g.map(r.top, 3, 0x20_0000, OLD, 2, 3);   // a 2 MiB page
            r.g.ram.writeU32(OLD + 0x5000, 1);
            r.g.ram.writeU32(NEW + 0x5000, 2);
            r.enableAts();
            assertEquals(1, r.dma.readU32(0x20_5000));
            r.g.map(r.top, 3, 0x20_0000, NEW, 2, 3);
            r.invalidateIotlb(0x20_0000);
            assertEquals(1, r.dma.readU32(0x20_5000));
            r.invalidateDeviceTlb(SID, 0x20_0000, false);   // the first 4 KiB of the 2 MiB translation
            assertEquals(2, r.dma.readU32(0x20_5000), "the 2 MiB translation went as a whole");
        }
    }

    @Test
    void reservedBitsInADeviceIotlbDescriptorAreAQueueError() {
        try (Rig r = new Rig()) {
            r.g.submit(3 | 1L << 4 | (long) SID << 32, 0);     // bit 4 of the low qword
            assertEquals(IntelIommu.IQE, r.g.reg(VtdRegister.FSTS) & IntelIommu.IQE);
            r.g.reg(VtdRegister.FSTS, IntelIommu.IQE);
            r.g.submit(3 | (long) SID << 32, 0x1000 | 2);      // bit 1 of the high qword
            assertEquals(IntelIommu.IQE, r.g.reg(VtdRegister.FSTS) & IntelIommu.IQE);
            assertEquals(0, r.g.unit.counters().deviceIotlbInvalidations());
        }
    }

    @Test
    void disablingAtsOrRestoringTheUnitEmptiesTheDeviceTlb() throws DeviceStateException {
        try (Rig r = new Rig()) {
            r.map(0x1000, OLD, 1);
            r.g.ram.writeU32(NEW, 2);
            r.enableAts();
            assertEquals(1, r.dma.readU32(0x1000));
            r.map(0x1000, NEW, 2);
            r.invalidateIotlb(0x1000);
            r.fn.writeConfig(ATS + AtsCapability.CONTROL, 2, 0);
            r.enableAts();
            assertEquals(2, r.dma.readU32(0x1000), "ATS disabled and enabled again: an empty device-TLB");
            r.map(0x1000, OLD, 1);
            r.invalidateIotlb(0x1000);
            assertEquals(2, r.dma.readU32(0x1000), "cached again");
            r.g.unit.restoreState(r.g.unit.saveState());
            assertEquals(1, r.dma.readU32(0x1000), "a restore starts with empty caches");
        }
    }

    @Test
    void aRestoredFunctionHasAtsEnabledAndAnEmptyDeviceTlb() throws Exception {
        try (Rig r = new Rig(); Rig s = new Rig()) {
            r.enableAts();
            s.fn.restoreState(r.fn.saveState());
            assertEquals(AtsCapability.CONTROL_ENABLE, s.fn.readConfig(ATS + AtsCapability.CONTROL, 2));
            assertTrue(s.dma.atsEnabled(), "the restored ATS Control reached the function's view");
        }
    }

    /** The hot path with ATS: an access whose page is in the device-TLB allocates nothing and asks the unit nothing. */
    @Test
    void aDeviceTlbHitAllocatesNothing() {
        try (Rig r = new Rig()) {
            r.map(0x1000, OLD, 1);
            r.map(0x2000, NEW, 2);
            r.enableAts();
            ModuleLayer.boot().findModule("jdk.management").ifPresent(DeviceTlbTest.class.getModule()::addReads);
            var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            int sum = 0;
            for (int round = 0; round < 3; round++) {   // the last round runs compiled
                long walks = r.g.unit.counters().walks();
                long misses = r.dma.deviceTlbStats().misses();
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 200_000; i++) {
                    r.dma.writeU32(0x1000 + (i & 0xFFC), i);
                    sum += r.dma.readU32(0x2000 + (i & 0xFFC)) + r.dma.readU16(0x1000 + (i & 0xFFE));
                }
                long allocated = threads.getCurrentThreadAllocatedBytes() - before;
                if (round > 0) {
                    assertEquals(walks, r.g.unit.counters().walks());
                    assertEquals(misses, r.dma.deviceTlbStats().misses(), "every access hit the device-TLB");
                    assertTrue(allocated < 4096, allocated + " bytes allocated for 600000 device-TLB hits");
                }
            }
            assertTrue(sum != 1);
        }
    }

    private static String reads(Rig r, long iova, int pages) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < pages; i++) {
            b.append(r.dma.readU32(iova + i * 0x1000L));
        }
        return b.toString();
    }
}
