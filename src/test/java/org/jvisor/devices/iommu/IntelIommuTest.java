package org.jvisor.devices.iommu;

import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.GuestMemoryException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The VT-d unit driven through its registers and in-RAM tables, as a guest driver drives it. */
class IntelIommuTest {
    static final int SID = 0x18;   // 00:03.0

    @Test
    void capabilitiesAreQemu72sForTheSameOptions() {
        // Read from QEMU 7.2.22's registers with HMP xp (shared/reference/vt-d.md).
        assertEquals(new VtdCapabilities(0xd2008c22260206L, 0xf00f4aL), VtdCapabilities.of(VtdOptions.DEFAULT));
        assertEquals(new VtdCapabilities(0xd2008c22260206L, 0xf42L),
            VtdCapabilities.of(new VtdOptions(false, false, false, 39, false)));
        assertEquals(new VtdCapabilities(0xd2008c22260206L | 0x80, 0xf00f4aL),
            VtdCapabilities.of(new VtdOptions(true, true, false, 39, false)));
        assertEquals(new VtdCapabilities(0xd2008c22260206L, 0xf00f4aL | 4),
            VtdCapabilities.of(new VtdOptions(true, false, true, 39, false)));
        assertEquals(new VtdCapabilities(0xd2008c222f0606L, 0xf00f4aL),
            VtdCapabilities.of(new VtdOptions(true, false, false, 48, false)));
        assertThrows(IllegalArgumentException.class, () -> new VtdOptions(true, false, false, 40, false));
        // eim=on: ECAP.EIM (bit 4), which QEMU 7.2 sets only on kvm with a split irqchip
        assertEquals(new VtdCapabilities(0xd2008c22260206L, 0xf00f5aL),
            VtdCapabilities.of(new VtdOptions(true, false, false, 39, true)));
        assertThrows(IllegalArgumentException.class, () -> new VtdOptions(false, false, false, 39, true));
    }

    @Test
    void registersReadAsTheSpecSaysAfterReset() {
        try (VtdGuest g = new VtdGuest()) {
            assertEquals(0x10, g.reg(VtdRegister.VER));
            assertEquals(0xd2008c22260206L, g.reg(VtdRegister.CAP));
            assertEquals(0x22260206L, g.unit.read(0x08, 4), "CAP low half");
            assertEquals(0xd2008cL, g.unit.read(0x0C, 4), "CAP high half");
            assertEquals(0, g.reg(VtdRegister.GSTS));
            assertEquals(0x8000_0000L, g.reg(VtdRegister.FECTL), "fault events masked (IM) at reset");
            assertEquals(0, g.unit.read(0x300, 4), "outside the registers");
            g.unit.write(VtdRegister.CAP.offset, 8, 0);
            assertEquals(0xd2008c22260206L, g.reg(VtdRegister.CAP), "read-only");
        }
    }

    @Test
    void globalCommandsShowInTheStatusRegister() {
        try (VtdGuest g = new VtdGuest()) {
            g.enable();
            assertEquals(IntelIommu.TE | IntelIommu.SRTP | IntelIommu.QIE, (int) g.reg(VtdRegister.GSTS));
            g.reg(VtdRegister.IRTA, VtdGuest.IRT | 7);
            g.reg(VtdRegister.GCMD, IntelIommu.TE | IntelIommu.QIE | IntelIommu.SIRTP);
            g.reg(VtdRegister.GCMD, IntelIommu.TE | IntelIommu.QIE | IntelIommu.IRE);
            assertEquals(IntelIommu.TE | IntelIommu.SRTP | IntelIommu.QIE | IntelIommu.SIRTP | IntelIommu.IRE,
                (int) g.reg(VtdRegister.GSTS));
            g.reg(VtdRegister.GCMD, 0);
            assertEquals(IntelIommu.SRTP | IntelIommu.SIRTP, (int) g.reg(VtdRegister.GSTS), "latched pointers stay");
        }
    }

    @Test
    void interruptRemappingCannotBeEnabledWithoutIt() {
        try (VtdGuest g = new VtdGuest(new VtdOptions(false, false, false, 39, false))) {
            g.reg(VtdRegister.GCMD, IntelIommu.IRE);
            assertEquals(0, g.reg(VtdRegister.GSTS) & IntelIommu.IRE);
        }
    }

    @Test
    void fourKilobyteTwoMegabyteAndOneGigabytePagesTranslate() {
        try (VtdGuest g = new VtdGuest()) {
            long top = g.table();
            g.root(0);
            g.context(SID, 0, top, 1, 1, false);
            g.map(top, 3, 0x1234_5000L, 0x300_0000L, 1, 3);
            g.map(top, 3, 0x4000_0000L, 0x200_0000L, 2, 1);
            g.map(top, 3, 0x40_0000_0000L, 0, 3, 3);
            g.enable();
            IommuDma d = g.unit.dmaFor(SID);
            g.ram.writeU32(0x300_0ABCL, 0xCAFEF00D);
            assertEquals(0xCAFEF00D, d.readU32(0x1234_5ABCL));
            d.writeU32(0x1234_5000L, 7);
            assertEquals(7, g.ram.readU32(0x300_0000L));
            g.ram.writeU64(0x201_2340L, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, d.readU64(0x4001_2340L), "inside the 2 MiB page");
            g.ram.writeU16(0x567_8000L, (short) 0x4242);
            assertEquals(0x4242, d.readU16(0x40_0567_8000L), "inside the 1 GiB page");
            assertEquals(0, g.reg(VtdRegister.FSTS), "no faults");
        }
    }

    @Test
    void fourLevelTablesWithFortyEightBitAddresses() {
        try (VtdGuest g = new VtdGuest(new VtdOptions(true, false, false, 48, false))) {
            long top = g.table();
            g.root(0);
            g.context(SID, 0, top, 2, 1, false);
            g.map(top, 4, 0x7F12_3456_7000L, 0x500_0000L, 1, 3);
            g.enable();
            g.ram.writeU32(0x500_0010L, 99);
            assertEquals(99, g.unit.dmaFor(SID).readU32(0x7F12_3456_7010L));
        }
    }

    @Test
    void passThroughLeavesAddressesAlone() {
        try (VtdGuest g = new VtdGuest()) {
            g.root(0);
            g.context(SID, 2, 0, 1, 1, false);
            g.enable();
            g.ram.writeU32(0x123_4560L, 5);
            assertEquals(5, g.unit.dmaFor(SID).readU32(0x123_4560L));
        }
    }

    @Test
    void aWriteToAReadOnlyPageIsRefusedAndRecorded() {
        try (VtdGuest g = new VtdGuest()) {
            long top = g.table();
            g.root(0);
            g.context(SID, 0, top, 1, 1, false);
            g.map(top, 3, 0x1000, 0x300_0000L, 1, 1);
            g.enable();
            g.reg(VtdRegister.FEDATA, 0x41);
            g.reg(VtdRegister.FEADDR, 0xFEE0_0000L);
            g.reg(VtdRegister.FECTL, 0);   // unmask fault events
            IommuDma d = g.unit.dmaFor(SID);
            assertEquals(0, d.readU32(0x1010), "reads are allowed");
            IommuDma.DmaFaultException e = assertThrows(IommuDma.DmaFaultException.class, () -> d.writeU32(0x1010, 1));
            assertEquals(VtdFault.WRITE.code, e.reason());
            assertTrue(e instanceof GuestMemoryException, "virtio devices handle it as a bad guest address");
            assertEquals(0, g.ram.readU32(0x300_0010L), "nothing written");
            assertEquals(IntelIommu.PPF, g.reg(VtdRegister.FSTS));
            assertEquals(0x1000L, g.reg(VtdRegister.FRCD_LO));
            long hi = g.reg(VtdRegister.FRCD_HI);
            assertEquals(IntelIommu.FRCD_F | (long) VtdFault.WRITE.code << 32 | SID, hi, "F, write (T=0), reason 5, source");
            assertEquals(List.of("fee00000:41"), g.messages, "the fault event");

            // A second fault while the record is pending overflows (PFO), and no new record is made.
            assertThrows(IommuDma.DmaFaultException.class, () -> d.readU32(0x5000));
            assertEquals(IntelIommu.PPF | IntelIommu.PFO, g.reg(VtdRegister.FSTS));
            assertEquals(0x1000L, g.reg(VtdRegister.FRCD_LO));
            // Software clears F and PFO: the next fault is recorded again.
            g.reg(VtdRegister.FRCD_HI, IntelIommu.FRCD_F);
            g.reg(VtdRegister.FSTS, IntelIommu.PFO);
            assertEquals(0, g.reg(VtdRegister.FSTS));
            assertThrows(IommuDma.DmaFaultException.class, () -> d.readU32(0x5000));
            assertEquals(IntelIommu.FRCD_F | IntelIommu.FRCD_T_READ | (long) VtdFault.READ.code << 32 | SID,
                g.reg(VtdRegister.FRCD_HI), "read of a non-present page: reason 6, T=1");
        }
    }

    @Test
    void faultReasonsFollowTheSpec() {
        try (VtdGuest g = new VtdGuest()) {
            g.enable();
            assertEquals(VtdFault.ROOT_NOT_PRESENT.code, reasonOf(g, SID, 0));
            g.root(0);
            assertEquals(VtdFault.CONTEXT_NOT_PRESENT.code, reasonOf(g, SID, 0));
            long top = g.table();
            g.context(SID, 3, top, 1, 1, false);
            assertEquals(VtdFault.CONTEXT_INVALID.code, reasonOf(g, SID, 0), "TT 3 is reserved");
            g.context(SID, 1, top, 1, 1, false);
            assertEquals(VtdFault.CONTEXT_INVALID.code, reasonOf(g, SID, 0), "TT 1 without device-TLB support");
            g.context(SID, 0, top, 2, 1, false);
            assertEquals(VtdFault.CONTEXT_INVALID.code, reasonOf(g, SID, 0), "4 levels on a 39-bit unit");
            g.context(SID, 0, top, 1, 1, false);
            assertEquals(VtdFault.ADDRESS_BEYOND_MGAW.code, reasonOf(g, SID, 1L << 39));
            g.ram.writeU64(top, 0x300_0000L | 1L << 45 | 3);   // reserved bit above the address width
            assertEquals(VtdFault.PAGING_ENTRY_RESERVED.code, reasonOf(g, SID, 0));
            g.ram.writeU64(top, 0xF000_0000L | 3);            // next table outside RAM
            assertEquals(VtdFault.PAGE_TABLE_ACCESS.code, reasonOf(g, SID, 0));
            g.ram.writeU64(VtdGuest.CONTEXT + SID * 16L + 8, 1L << 40 | 1);
            assertEquals(VtdFault.CONTEXT_RESERVED.code, reasonOf(g, SID, 0));
            g.ram.writeU64(VtdGuest.ROOT, VtdGuest.CONTEXT | 0x10 | 1);
            assertEquals(VtdFault.ROOT_RESERVED.code, reasonOf(g, SID, 0));
            g.reg(VtdRegister.RTADDR, 0xF000_0000L);
            g.reg(VtdRegister.GCMD, IntelIommu.TE | IntelIommu.QIE | IntelIommu.SRTP);
            assertEquals(VtdFault.ROOT_TABLE_ACCESS.code, reasonOf(g, SID, 0));
        }
    }

    /** The reason recorded for a read by {@code sid} of {@code iova}; the record is cleared again. */
    private static int reasonOf(VtdGuest g, int sid, long iova) {
        IommuDma.DmaFaultException e = assertThrows(IommuDma.DmaFaultException.class,
            () -> g.unit.dmaFor(sid).readU32(iova));
        long hi = g.reg(VtdRegister.FRCD_HI);
        assertEquals(e.reason(), (int) (hi >>> 32) & 0xFF, "recorded as refused");
        g.reg(VtdRegister.FRCD_HI, IntelIommu.FRCD_F);
        g.reg(VtdRegister.FSTS, IntelIommu.PFO);
        return e.reason();
    }

    @Test
    void faultProcessingDisableRefusesWithoutRecording() {
        try (VtdGuest g = new VtdGuest()) {
            g.root(0);
            g.context(SID, 0, g.table(), 1, 1, true);
            g.enable();
            assertThrows(IommuDma.DmaFaultException.class, () -> g.unit.dmaFor(SID).readU32(0));
            assertEquals(0, g.reg(VtdRegister.FSTS));
            assertEquals(0, g.reg(VtdRegister.FRCD_HI));
        }
    }

    @Test
    void cachedTranslationsLastUntilTheGuestInvalidates() {
        try (VtdGuest g = new VtdGuest()) {
            long top = g.table();
            g.root(0);
            g.context(SID, 0, top, 1, 1, false);
            g.map(top, 3, 0x1000, 0x300_0000L, 1, 3);
            g.enable();
            IommuDma d = g.unit.dmaFor(SID);
            g.ram.writeU32(0x300_0000L, 1);
            g.ram.writeU32(0x400_0000L, 2);
            assertEquals(1, d.readU32(0x1000));
            long walks = g.unit.counters().walks();
            g.map(top, 3, 0x1000, 0x400_0000L, 1, 3);   // remapped without invalidating
            assertEquals(1, d.readU32(0x1000), "the IOTLB still holds the old page, as hardware's would");
            assertEquals(walks, g.unit.counters().walks(), "a hit walks nothing");
            g.submit(2 | 3 << 4 | 1L << 16, 0x1000);        // page-selective IOTLB invalidation, domain 1
            g.waitFor(1);
            assertEquals(1, g.ram.readU32(VtdGuest.STATUS), "the wait descriptor wrote its status");
            assertEquals(2, d.readU32(0x1000), "walked again after the invalidation");
            assertEquals(1, g.unit.counters().iotlbInvalidations());
        }
    }

    /**
     * Two functions in different domains, each with a cached translation: an invalidation of one
     * domain (IOTLB or context cache, queued or by register) or of one device leaves the other's
     * cached entry, which still translates to the old page after its table changed, as hardware's
     * cache may; a global invalidation drops it.
     */
    @Test
    void selectiveInvalidationsLeaveOtherDomainsCached() {
        int other = OTHER;
        try (VtdGuest g = new VtdGuest()) {
            long[] tops = twoDomains(g);
            long topA = tops[0];
            long topB = tops[1];
            g.enable();
            IommuDma a = g.unit.dmaFor(SID);
            IommuDma b = g.unit.dmaFor(other);
            assertEquals(3, a.readU32(0x1000));
            assertEquals(5, b.readU32(0x1000));
            g.map(topA, 3, 0x1000, 0x400_0000L, 1, 3);   // both remapped, neither invalidated yet
            g.map(topB, 3, 0x1000, 0x600_0000L, 1, 3);

            g.submit(2 | 2 << 4 | 1L << 16, 0);            // domain-selective IOTLB invalidation, domain 1
            g.waitFor(1);
            assertEquals(4, a.readU32(0x1000), "domain 1 walked again");
            long walks = g.unit.counters().walks();
            assertEquals(5, b.readU32(0x1000), "domain 2's cached entry stays");
            assertEquals(walks, g.unit.counters().walks(), "a hit: nothing walked for domain 2");

            g.map(topA, 3, 0x1000, 0x300_0000L, 1, 3);
            g.submit(2 | 3 << 4 | 1L << 16, 0x1000);       // page-selective, domain 1
            g.waitFor(2);
            assertEquals(3, a.readU32(0x1000));
            assertEquals(5, b.readU32(0x1000), "a page of domain 1 is not domain 2's");

            g.map(topA, 3, 0x1000, 0x400_0000L, 1, 3);
            g.submit(1 | 3 << 4 | 1L << 16 | (long) SID << 32, 0);   // device-selective context invalidation of SID
            g.waitFor(3);
            assertEquals(4, a.readU32(0x1000), "the device's translations went with its context");
            assertEquals(5, b.readU32(0x1000), "another device's stay");
            g.submit(1 | 3 << 4 | 2L << 16 | (long) (other & ~7 | 5) << 32 | 3L << 48, 0);  // its function masked out (FM 3)
            g.waitFor(4);
            assertEquals(6, b.readU32(0x1000), "FM 3 covers every function of 00:04");

            g.map(topA, 3, 0x1000, 0x300_0000L, 1, 3);
            g.map(topB, 3, 0x1000, 0x700_0000L, 1, 3);
            g.submit(1 | 2 << 4 | 2L << 16, 0);            // domain-selective context invalidation, domain 2
            g.waitFor(5);
            assertEquals(7, b.readU32(0x1000));
            assertEquals(4, a.readU32(0x1000), "domain 1 still cached");
            g.submit(2 | 1 << 4, 0);                       // global IOTLB invalidation
            g.waitFor(6);
            assertEquals(3, a.readU32(0x1000), "a global invalidation reaches every domain");
        }
    }

    /**
     * Software that points a context entry at another domain without invalidating the context
     * cache: once a walk sees the new domain the view drops the old domain's entries (it never
     * mixes two domains), so that an invalidation of the new domain reaches all it holds.
     */
    @Test
    void aViewHoldsOneDomainsTranslations() {
        try (VtdGuest g = new VtdGuest()) {
            long topA = g.table();
            long topB = g.table();
            g.root(0);
            g.context(SID, 0, topA, 1, 1, false);
            g.map(topA, 3, 0x1000, 0x300_0000L, 1, 3);
            g.map(topA, 3, 0x2000, 0x300_1000L, 1, 3);
            g.map(topB, 3, 0x1000, 0x400_0000L, 1, 3);
            g.map(topB, 3, 0x3000, 0x400_1000L, 1, 3);
            g.ram.writeU32(0x300_0000L, 3);
            g.ram.writeU32(0x400_0000L, 4);
            g.enable();
            IommuDma d = g.unit.dmaFor(SID);
            assertEquals(3, d.readU32(0x1000));
            g.context(SID, 0, topB, 1, 9, false);         // now domain 9, no context invalidation
            assertEquals(3, d.readU32(0x1000), "cached, as hardware's context and IOTLB may be");
            d.readU32(0x3000);                             // a miss walks the new context: domain 9
            assertEquals(4, d.readU32(0x1000), "domain 1's entry went when domain 9's came");
            g.map(topB, 3, 0x1000, 0x300_0000L, 1, 3);
            g.submit(2 | 2 << 4 | 9L << 16, 0);            // domain-selective IOTLB invalidation, domain 9
            g.waitFor(1);
            assertEquals(3, d.readU32(0x1000), "domain 9's invalidation reaches all the view holds");
        }
    }

    @Test
    void registerBasedDomainInvalidationLeavesOtherDomainsCached() {
        int other = OTHER;
        try (VtdGuest g = new VtdGuest()) {
            long[] tops = twoDomains(g);
            long topA = tops[0];
            long topB = tops[1];
            g.reg(VtdRegister.RTADDR, VtdGuest.ROOT);
            g.reg(VtdRegister.GCMD, IntelIommu.SRTP);
            g.reg(VtdRegister.GCMD, IntelIommu.TE);
            IommuDma a = g.unit.dmaFor(SID);
            IommuDma b = g.unit.dmaFor(other);
            assertEquals(3, a.readU32(0x1000));
            assertEquals(5, b.readU32(0x1000));
            g.map(topA, 3, 0x1000, 0x400_0000L, 1, 3);
            g.map(topB, 3, 0x1000, 0x600_0000L, 1, 3);
            g.reg(VtdRegister.IOTLB, IntelIommu.IOTLB_IVT | 2L << 60 | 2L << 32);   // domain-selective, domain 2
            assertEquals(2L << 60 | 2L << 57 | 2L << 32, g.reg(VtdRegister.IOTLB), "IAIG: domain-selective");
            assertEquals(6, b.readU32(0x1000));
            assertEquals(3, a.readU32(0x1000), "domain 1 untouched");
            g.reg(VtdRegister.CCMD, IntelIommu.CCMD_ICC | 3L << 61 | (long) SID << 16);   // device-selective
            assertEquals(3L << 61 | 3L << 59 | (long) SID << 16, g.reg(VtdRegister.CCMD), "CAIG: device-selective");
            assertEquals(4, a.readU32(0x1000));
            g.reg(VtdRegister.IOTLB, IntelIommu.IOTLB_IVT | 3L << 60 | 1L << 32);   // page-selective: done for the domain
            assertEquals(2L << 57, g.reg(VtdRegister.IOTLB) & 3L << 57, "IAIG: the domain, more than asked");
        }
    }

    /** The requester id of the second domain's device in the two-domain tests (00:04.0). */
    private static final int OTHER = 0x20;

    /**
     * Two devices in two domains: {@code SID} in domain 1, IOVA 0x1000 → 0x300_0000, and
     * {@link #OTHER} in domain 2, IOVA 0x1000 → 0x500_0000; each 16 MiB step of RAM from 0x300_0000
     * to 0x700_0000 holds its own number. Returns the two second-level tables.
     */
    private static long[] twoDomains(VtdGuest g) {
        long topA = g.table();
        long topB = g.table();
        g.root(0);
        g.context(SID, 0, topA, 1, 1, false);
        g.context(OTHER, 0, topB, 1, 2, false);
        g.map(topA, 3, 0x1000, 0x300_0000L, 1, 3);
        g.map(topB, 3, 0x1000, 0x500_0000L, 1, 3);
        for (int i = 3; i <= 7; i++) {
            g.ram.writeU32(i * 0x100_0000L, i);
        }
        return new long[] {topA, topB};
    }

    /** The hot path: an access whose page is in the view's IOTLB allocates nothing. */
    @Test
    void aCachedTranslationAllocatesNothing() {
        try (VtdGuest g = new VtdGuest()) {
            long top = g.table();
            g.root(0);
            g.context(SID, 0, top, 1, 1, false);
            g.map(top, 3, 0x1000, 0x300_0000L, 1, 3);
            g.map(top, 3, 0x2000, 0x300_5000L, 1, 3);
            g.enable();
            IommuDma d = g.unit.dmaFor(SID);
            ModuleLayer.boot().findModule("jdk.management").ifPresent(IntelIommuTest.class.getModule()::addReads);
            var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            int sum = 0;
            long least = Long.MAX_VALUE;
            // the fewest bytes of rounds 1-4: a round in which the JIT deoptimizes or installs code
            // may allocate a little; one that allocated per access would show megabytes in every round
            for (int round = 0; round < 5; round++) {
                long walks = g.unit.counters().walks();
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 200_000; i++) {
                    d.writeU32(0x1000 + (i & 0xFFC), i);
                    sum += d.readU32(0x2000 + (i & 0xFFC)) + d.readU16(0x1000 + (i & 0xFFE));
                    d.writeU64(0x2008, i);
                }
                long allocated = threads.getCurrentThreadAllocatedBytes() - before;
                if (round > 0) {
                    assertEquals(walks, g.unit.counters().walks(), "every access hit the IOTLB");
                    least = Math.min(least, allocated);
                }
            }
            assertTrue(least < 4096, least + " bytes allocated for 800000 cached accesses");
            assertTrue(sum != 1);   // keeps the reads
        }
    }

    @Test
    void registerBasedInvalidationWorksWithoutTheQueue() {
        try (VtdGuest g = new VtdGuest()) {
            long top = g.table();
            g.root(0);
            g.context(SID, 0, top, 1, 1, false);
            g.map(top, 3, 0x1000, 0x300_0000L, 1, 3);
            g.reg(VtdRegister.RTADDR, VtdGuest.ROOT);
            g.reg(VtdRegister.GCMD, IntelIommu.SRTP);
            g.reg(VtdRegister.GCMD, IntelIommu.TE);
            IommuDma d = g.unit.dmaFor(SID);
            g.ram.writeU32(0x300_0000L, 1);
            g.ram.writeU32(0x400_0000L, 2);
            assertEquals(1, d.readU32(0x1000));
            g.map(top, 3, 0x1000, 0x400_0000L, 1, 3);
            g.reg(VtdRegister.CCMD, IntelIommu.CCMD_ICC | 1L << 61);   // global context invalidation
            assertEquals(1L << 61 | 1L << 59, g.reg(VtdRegister.CCMD), "ICC clear, CIRG kept, CAIG global");
            assertEquals(2, d.readU32(0x1000));
            g.map(top, 3, 0x1000, 0x300_0000L, 1, 3);
            g.reg(VtdRegister.IOTLB, IntelIommu.IOTLB_IVT | 1L << 60);  // global IOTLB invalidation
            assertEquals(1L << 60 | 1L << 57, g.reg(VtdRegister.IOTLB), "IVT clear, IIRG kept, IAIG global");
            assertEquals(1, d.readU32(0x1000));
        }
    }

    @Test
    void waitDescriptorRaisesTheCompletionInterrupt() {
        try (VtdGuest g = new VtdGuest()) {
            g.enable();
            g.reg(VtdRegister.IEDATA, 0x55);
            g.reg(VtdRegister.IEADDR, 0xFEE0_1000L);
            g.submit(5 | 0x10, 0);   // IF only
            assertEquals(1, g.reg(VtdRegister.ICS), "IWC");
            assertEquals(0xC000_0000L, g.reg(VtdRegister.IECTL), "masked (IM): left pending (IP)");
            assertTrue(g.messages.isEmpty());
            g.reg(VtdRegister.IECTL, 0);
            assertEquals(List.of("fee01000:55"), g.messages, "sent when unmasked");
            g.reg(VtdRegister.ICS, 1);
            assertEquals(0, g.reg(VtdRegister.ICS));
        }
    }

    @Test
    void aBadDescriptorStopsTheQueueUntilSoftwareClearsTheError() {
        try (VtdGuest g = new VtdGuest()) {
            g.enable();
            g.reg(VtdRegister.FECTL, 0);
            g.reg(VtdRegister.FEADDR, 0xFEE0_0000L);
            g.reg(VtdRegister.FEDATA, 0x42);
            g.submit(9, 0);                      // no such descriptor type
            assertEquals(IntelIommu.IQE, g.reg(VtdRegister.FSTS));
            assertEquals(0, g.reg(VtdRegister.IQH), "IQH stays on the bad descriptor");
            assertEquals(List.of("fee00000:42"), g.messages);
            g.waitFor(7);
            assertEquals(0, g.ram.readU32(VtdGuest.STATUS), "nothing fetched while IQE is set");
            g.ram.writeU64(VtdGuest.QUEUE, 4);  // software replaces the bad descriptor (a global IEC)
            g.reg(VtdRegister.FSTS, IntelIommu.IQE);
            assertEquals(0, g.reg(VtdRegister.FSTS));
            assertEquals(7, g.ram.readU32(VtdGuest.STATUS), "fetching resumed");
            assertEquals(2L << 4, g.reg(VtdRegister.IQH));
            g.submit(2 | 1 << 4 | 1L << 8, 0);   // reserved bit 8 in an IOTLB descriptor
            assertEquals(IntelIommu.IQE, g.reg(VtdRegister.FSTS));
            assertTrue(g.errors.get(0).contains("not a legacy-mode invalidation"), g.errors.toString());
        }
    }

    @Test
    void aTailBeyondTheQueueIsAnErrorNotALoop() {
        try (VtdGuest g = new VtdGuest()) {
            g.enable();
            g.reg(VtdRegister.IQT, 300L << 4);   // the queue has 256 entries
            assertEquals(IntelIommu.IQE, g.reg(VtdRegister.FSTS));
            g.reg(VtdRegister.FSTS, IntelIommu.IQE);
            g.reg(VtdRegister.IQA, 0xF000_0000L);   // queue outside RAM
            g.reg(VtdRegister.IQT, 1L << 4);
            assertEquals(IntelIommu.IQE, g.reg(VtdRegister.FSTS));
        }
    }

    @Test
    void remappableMessagesAreTranslatedThroughTheTable() {
        try (VtdGuest g = new VtdGuest()) {
            g.enable();
            g.reg(VtdRegister.IRTA, VtdGuest.IRT | 7);   // 256 entries
            g.reg(VtdRegister.GCMD, IntelIommu.TE | IntelIommu.QIE | IntelIommu.SIRTP);
            g.reg(VtdRegister.GCMD, IntelIommu.TE | IntelIommu.QIE | IntelIommu.IRE);
            // IRTE 5: present, vector 0x31, fixed, physical, destination APIC 2; source validated (SVT 1, SID).
            g.ram.writeU64(VtdGuest.IRT + 5 * 16, 0x31L << 16 | 2L << 40 | 1);
            g.ram.writeU64(VtdGuest.IRT + 5 * 16 + 8, 1L << 18 | SID);
            g.unit.remapInterrupt(SID, 0xFEE0_0000L | 5 << 5 | 0x10, 0);
            assertEquals(List.of("fee02000:4031"), g.messages);
            g.unit.remapInterrupt(SID, 0xFEE0_1000L, 0x22);   // compatibility format: passes, as in QEMU 7.2
            assertEquals("fee01000:22", g.messages.get(1));
            g.messages.clear();

            g.unit.remapInterrupt(0x20, 0xFEE0_0000L | 5 << 5 | 0x10, 0);   // another requester
            assertEquals(VtdFault.IR_SOURCE_ID.code, (int) (g.reg(VtdRegister.FRCD_HI) >>> 32) & 0xFF);
            assertEquals(5L << 48, g.reg(VtdRegister.FRCD_LO), "the index in the fault info");
            g.reg(VtdRegister.FRCD_HI, IntelIommu.FRCD_F);
            g.unit.remapInterrupt(SID, 0xFEE0_0000L | 6 << 5 | 0x10, 0);
            assertEquals(VtdFault.IR_ENTRY_NOT_PRESENT.code, (int) (g.reg(VtdRegister.FRCD_HI) >>> 32) & 0xFF);
            g.reg(VtdRegister.FRCD_HI, IntelIommu.FRCD_F);
            g.unit.remapInterrupt(SID, 0xFEE0_0000L | 300 << 5 | 0x10, 0);
            assertEquals(VtdFault.IR_INDEX_OVER.code, (int) (g.reg(VtdRegister.FRCD_HI) >>> 32) & 0xFF);
            assertTrue(g.messages.isEmpty(), "refused messages are dropped (fault events are masked)");
        }
    }

    /**
     * Extended interrupt mode (spec 9.10): with IRTA.EIME the IRTE's 32-bit DST is an x2APIC
     * destination, handed on with bits 31:8 in address bits 63:40; without ECAP.EIM the bit is
     * reserved (reads 0) and a DST outside bits 15:8 is a reserved-field fault.
     */
    @Test
    void extendedInterruptModeRemapsTo32BitDestinations() {
        try (VtdGuest g = new VtdGuest(new VtdOptions(true, false, false, 39, true))) {
            g.enable();
            g.reg(VtdRegister.IRTA, VtdGuest.IRT | 1L << 11 | 7);
            assertEquals(VtdGuest.IRT | 1L << 11 | 7, g.reg(VtdRegister.IRTA));
            g.reg(VtdRegister.GCMD, IntelIommu.TE | IntelIommu.QIE | IntelIommu.SIRTP);
            g.reg(VtdRegister.GCMD, IntelIommu.TE | IntelIommu.QIE | IntelIommu.IRE);
            // IRTE 9: vector 0x41, lowest priority, logical, RH, x2APIC cluster 3 member 1 (0x00030002)
            g.ram.writeU64(VtdGuest.IRT + 9 * 16, 0x0003_0002L << 32 | 0x41L << 16 | 1 << 5 | 8 | 4 | 1);
            g.unit.remapInterrupt(SID, 0xFEE0_0000L | 9 << 5 | 0x10, 0);
            // IRTE 10: vector 0x42, fixed, physical, x2APIC ID 0x1234, level-triggered
            g.ram.writeU64(VtdGuest.IRT + 10 * 16, 0x1234L << 32 | 0x42L << 16 | 0x10 | 1);
            g.unit.remapInterrupt(SID, 0xFEE0_0000L | 10 << 5 | 0x10, 0);
            assertEquals(List.of("30000fee0200c:4141", "1200fee34000:c042"), g.messages);
        }
        try (VtdGuest g = new VtdGuest()) {
            g.enable();
            g.reg(VtdRegister.IRTA, VtdGuest.IRT | 1L << 11 | 7);
            assertEquals(VtdGuest.IRT | 7, g.reg(VtdRegister.IRTA), "EIME is reserved without ECAP.EIM");
            g.reg(VtdRegister.GCMD, IntelIommu.TE | IntelIommu.QIE | IntelIommu.SIRTP);
            g.reg(VtdRegister.GCMD, IntelIommu.TE | IntelIommu.QIE | IntelIommu.IRE);
            g.ram.writeU64(VtdGuest.IRT + 9 * 16, 0x0003_0002L << 32 | 0x41L << 16 | 1);
            g.unit.remapInterrupt(SID, 0xFEE0_0000L | 9 << 5 | 0x10, 0);
            assertEquals(VtdFault.IR_ENTRY_RESERVED.code, (int) (g.reg(VtdRegister.FRCD_HI) >>> 32) & 0xFF);
            assertTrue(g.messages.isEmpty());
        }
    }

    @Test
    void stateSavesAndRestores() throws DeviceStateException {
        try (VtdGuest g = new VtdGuest(); VtdGuest h = new VtdGuest()) {
            g.enable();
            g.reg(VtdRegister.FEDATA, 0x77);
            IntelIommuState s = g.unit.saveState();
            h.unit.restoreState(s);
            assertEquals(s, h.unit.saveState());
            assertEquals(g.reg(VtdRegister.GSTS), h.reg(VtdRegister.GSTS));
            assertTrue(h.unit.translating());
            try (VtdGuest other = new VtdGuest(new VtdOptions(false, false, false, 39, false))) {
                assertThrows(DeviceStateException.class, () -> other.unit.restoreState(s));
            }
        }
    }

    /**
     * Random values in every register and random bytes in the tables and the queue: nothing
     * throws but a refused DMA, and the guest always sees where things stand: after any register
     * write the queue is either drained (IQH = IQT) or stopped with IQE, and a fault the unit
     * recorded shows in FSTS (PPF, or PFO when the record was taken).
     */
    @Test
    void garbageInEveryRegisterEndsInAGuestVisibleStatus() {
        try (VtdGuest g = new VtdGuest()) {
            Random r = new Random(15);
            int[] outcomes = new int[2];   // drained, stopped
            int faults = 0;
            for (int i = 0; i < 200_000; i++) {
                int offset = r.nextInt(0x300) & ~3;
                int size = r.nextBoolean() ? 4 : 8;
                long v = r.nextLong();
                if (r.nextInt(4) == 0) {
                    v &= 0x3FF_FFFFL;   // addresses inside RAM now and then
                }
                g.unit.write(offset, size, v);
                checkQueue(g, outcomes, String.format("write %d of %#x at %#x", i, v, offset));
                g.unit.read(r.nextInt(0x300) & ~3, size);
                if (i % 64 == 0) {
                    g.ram.writeU64(r.nextInt(0x40) * 0x1000L + (r.nextInt(256) * 16), r.nextLong());
                    long recorded = g.unit.counters().faults();
                    try {
                        g.unit.dmaFor(r.nextInt(0x10000)).readU32(r.nextLong() & 0xFF_FFFF_FFFFL);
                    } catch (GuestMemoryException expected) {
                        // refused DMA, or a translation to a page that is not RAM
                    }
                    g.unit.remapInterrupt(r.nextInt(0x10000), 0xFEE0_0000L | r.nextInt(0x100000), r.nextInt());
                    if (g.unit.counters().faults() != recorded) {
                        faults++;
                        assertTrue((g.reg(VtdRegister.FSTS) & (IntelIommu.PPF | IntelIommu.PFO)) != 0,
                            "a recorded fault the guest cannot see: FSTS " + Long.toHexString(g.reg(VtdRegister.FSTS)));
                    }
                }
                if (i % 256 == 0) {
                    // now and then a driver's well-formed submission amid the garbage, so that the
                    // check sees queues that drain as well as queues that stop
                    g.reg(VtdRegister.IQA, VtdGuest.QUEUE);
                    g.reg(VtdRegister.GCMD, g.reg(VtdRegister.GSTS) & (IntelIommu.TE | IntelIommu.IRE) | IntelIommu.QIE);
                    g.reg(VtdRegister.IQT, g.reg(VtdRegister.IQH));
                    g.reg(VtdRegister.FSTS, IntelIommu.IQE);
                    int head = (int) (g.reg(VtdRegister.IQH) >>> 4);
                    InvalidationQueueTest.put(g, head, 4, 0);   // a global interrupt entry cache invalidation
                    g.reg(VtdRegister.IQT, (long) (head + 1) % 256 << 4);
                    checkQueue(g, outcomes, "a well-formed descriptor at " + head);
                }
            }
            assertTrue(outcomes[0] > 0 && outcomes[1] > 0 && faults > 0,
                "drained " + outcomes[0] + ", stopped " + outcomes[1] + ", faults " + faults);
        }
    }

    /**
     * With queued invalidation on, the queue is drained (IQH = IQT) or stopped with IQE, never
     * stopped silently; counts which, in {@code outcomes} (drained with a tail past 0, stopped).
     */
    private static void checkQueue(VtdGuest g, int[] outcomes, String after) {
        if ((g.reg(VtdRegister.GSTS) & IntelIommu.QIE) == 0) {
            return;
        }
        long fsts = g.reg(VtdRegister.FSTS);
        long head = g.reg(VtdRegister.IQH), tail = g.reg(VtdRegister.IQT);
        assertTrue(head == tail || (fsts & IntelIommu.IQE) != 0,
            String.format("after %s: IQH %#x, IQT %#x, FSTS %#x: the queue stopped silently", after, head, tail, fsts));
        if ((fsts & IntelIommu.IQE) != 0) {
            outcomes[1]++;
        } else if (tail != 0) {
            outcomes[0]++;
        }
    }
}
