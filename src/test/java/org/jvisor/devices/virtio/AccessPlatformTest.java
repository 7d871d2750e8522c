package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.jvisor.devices.iommu.IntelIommu;
import org.jvisor.devices.iommu.VtdOptions;
import org.jvisor.devices.iommu.VtdRegister;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;

/**
 * VIRTIO_F_ACCESS_PLATFORM with a VT-d unit in front of the device: accepted, the rings and
 * buffers are IOVAs the unit translates; a buffer the guest made read-only is a fault record and
 * DEVICE_NEEDS_RESET, never an exception out of the device; not accepted, the device uses
 * guest-physical addresses as Linux then gives them.
 */
class AccessPlatformTest {
    private static final int SID = 0x08;
    private static final long ROOT = 0x200000, CONTEXT = 0x201000, L3 = 0x202000, L2 = 0x203000, L1 = 0x204000;
    /** The request buffer's IOVA, mapped to Driver.DATA. */
    private static final long IOVA = 0x4000_0000L;

    private final GuestMemory ram = GuestMemory.allocate(4L << 20);
    private final List<String> faults = new ArrayList<>();
    private final IntelIommu unit = new IntelIommu(VtdOptions.DEFAULT, ram, new IdentityDma(ram),
        (a, d) -> faults.add(Long.toHexString(a)), msg -> { });
    private final Driver drv = new Driver(ram, new VirtioRng(), 8, IdentityDma::new);

    AccessPlatformTest() {
        drv.mmio.core().offerAccessPlatform(unit.dmaFor(SID));
        // root[0] -> context; context[SID]: 3 levels, domain 1; the rings identity-mapped, IOVA -> DATA
        ram.writeU64(ROOT, CONTEXT | 1);
        ram.writeU64(CONTEXT + SID * 16L, L3 | 1);
        ram.writeU64(CONTEXT + SID * 16L + 8, 1 << 8 | 1);
        ram.writeU64(L3, L2 | 3);
        ram.writeU64(L3 + 8, (L2 + 0x1000 * 3) | 3);               // IOVA 1 GiB
        ram.writeU64(L2, L1 | 3);
        ram.writeU64(L2 + 0x1000 * 3, (L1 + 0x1000) | 3);
        for (long page = Driver.DESC; page <= Driver.USED; page += 0x1000) {
            ram.writeU64(L1 + (page >>> 12) * 8, page | 3);
        }
        ram.writeU64(L1 + 0x1000, Driver.DATA | 3);
        unit.write(VtdRegister.RTADDR.offset, 8, ROOT);
        unit.write(VtdRegister.GCMD.offset, 4, 1L << 30);          // SRTP
        unit.write(VtdRegister.GCMD.offset, 4, 1L << 31);          // TE
        unit.write(VtdRegister.FEADDR.offset, 4, 0xFEE0_0000L);
        unit.write(VtdRegister.FECTL.offset, 4, 0);               // fault events unmasked
    }

    @AfterEach
    void tearDown() {
        drv.close();
    }

    private void request(int i) {
        drv.desc(i, IOVA, 64, SplitVirtqueue.DESC_F_WRITE, 0);
        drv.offer(i);
        drv.kick(0);
    }

    @Test
    void theDeviceOffersItAndDmaGoesThroughTheUnit() {
        drv.start();
        assertTrue(Virtio.has(drv.deviceFeatures(), Virtio.F_ACCESS_PLATFORM));
        request(0);
        assertEquals(1, drv.usedIdx());
        assertEquals(64, drv.usedLen(0));
        assertTrue(ram.readU64(Driver.DATA) != 0 || ram.readU64(Driver.DATA + 8) != 0, "entropy at the translated page");
        assertEquals(0, unit.read(VtdRegister.FSTS.offset, 4), "no faults");
    }

    @Test
    void aReadOnlyBufferIsAFaultAndTheDeviceNeedsAReset() {
        drv.start();
        ram.writeU64(L1 + 0x1000, Driver.DATA | 1);                 // read-only now
        unit.write(VtdRegister.IOTLB.offset, 8, 1L << 63 | 1L << 60);  // global IOTLB invalidation
        request(0);
        assertEquals(0, drv.usedIdx(), "nothing used");
        assertTrue((drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
        long frcd = unit.read(VtdRegister.FRCD_HI.offset, 8);
        assertEquals(5, (int) (frcd >>> 32) & 0xFF, "write to a read-only page");
        assertEquals(SID, (int) frcd & 0xFFFF);
        assertEquals(IOVA, unit.read(VtdRegister.FRCD_LO.offset, 8));
        assertEquals(List.of("fee00000"), faults, "the fault event");
        assertEquals(0, ram.readU64(Driver.DATA), "the buffer untouched");
    }

    @Test
    void aDriverWithoutTheFeatureGivesGuestPhysicalAddresses() {
        drv.start(~(1L << Virtio.F_ACCESS_PLATFORM));
        drv.desc(0, Driver.DATA, 64, SplitVirtqueue.DESC_F_WRITE, 0);
        drv.offer(0);
        drv.kick(0);
        assertEquals(1, drv.usedIdx());
        assertEquals(0, unit.read(VtdRegister.FSTS.offset, 4), "the unit saw nothing");
    }
}
