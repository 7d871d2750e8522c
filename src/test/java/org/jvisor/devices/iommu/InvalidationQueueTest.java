package org.jvisor.devices.iommu;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Queued invalidation (VT-d spec 4.0, 6.5.2) through the unit's registers: waits that cannot
 * complete, a ring that wraps, every invalid descriptor, a tail written before the queue is on.
 */
class InvalidationQueueTest {
    /**
     * A wait whose status address is not RAM cannot complete: IQE and the fault event, IQH on
     * that wait, no status and no completion interrupt (QEMU 7.2: a failed status write is a
     * queue error); once software points it at RAM and clears IQE, it completes.
     */
    @Test
    void aWaitWhoseStatusCannotBeWrittenStopsTheQueueWithIqe() {
        try (VtdGuest g = new VtdGuest()) {
            g.enable();
            g.reg(VtdRegister.FECTL, 0);
            g.reg(VtdRegister.FEADDR, 0xFEE0_0000L);
            g.reg(VtdRegister.FEDATA, 0x43);
            g.reg(VtdRegister.IECTL, 0);
            g.reg(VtdRegister.IEADDR, 0xFEE0_1000L);
            g.reg(VtdRegister.IEDATA, 0x44);
            g.waitFor(1);
            assertEquals(1, g.ram.readU32(VtdGuest.STATUS));
            g.submit(5 | 0x20 | 0x10 | 2L << 32, 0xF000_0000L);   // status write and interrupt, beyond the 128 MiB of RAM
            g.waitFor(3);
            assertEquals(IntelIommu.IQE, g.reg(VtdRegister.FSTS));
            assertEquals(1L << 4, g.reg(VtdRegister.IQH), "IQH stays on the wait that failed");
            assertEquals(1, g.ram.readU32(VtdGuest.STATUS), "the wait behind it is not fetched");
            assertEquals(0, g.reg(VtdRegister.ICS), "no completion for the failed wait");
            assertEquals(List.of("fee00000:43"), g.messages, "the fault event, no completion event");
            assertTrue(g.errors.get(0).contains("status address 0xf0000000 is not RAM"), g.errors.toString());

            g.ram.writeU64(VtdGuest.QUEUE + 16 + 8, VtdGuest.STATUS + 4);
            g.reg(VtdRegister.FSTS, IntelIommu.IQE);
            assertEquals(0, g.reg(VtdRegister.FSTS));
            assertEquals(2, g.ram.readU32(VtdGuest.STATUS + 4), "the repaired wait completes");
            assertEquals(3, g.ram.readU32(VtdGuest.STATUS));
            assertEquals(1, g.reg(VtdRegister.ICS));
            assertEquals(List.of("fee00000:43", "fee01000:44"), g.messages);
            assertEquals(3L << 4, g.reg(VtdRegister.IQH));
        }
    }

    /**
     * IQH near the end of the ring, IQT below it: the descriptors from IQH to the end and from 0
     * to IQT are fetched in ring order. Waits to one status word show the order (the last
     * writer wins), waits to their own words that each ran; a bad descriptor after the wrap stops
     * exactly there.
     */
    @Test
    void aQueueThatWrapsIsFetchedInRingOrder() {
        try (VtdGuest g = new VtdGuest()) {
            g.enable();
            for (int i = 0; i < 250; i++) {
                put(g, i, 4, 0);   // global interrupt entry cache invalidations
            }
            g.reg(VtdRegister.IQT, 250L << 4);
            assertEquals(250L << 4, g.reg(VtdRegister.IQH));
            // 250..255, 0..3: each wait writes its position to its own word and to STATUS
            int[] ring = {250, 251, 252, 253, 254, 255, 0, 1, 2, 3};
            for (int k = 0; k < ring.length; k += 2) {
                put(g, ring[k], 5 | 0x20 | (long) (ring[k] + 1) << 32, VtdGuest.STATUS + 8 + 4L * k);
                put(g, ring[k + 1], 5 | 0x20 | (long) (ring[k + 1] + 1) << 32, VtdGuest.STATUS);
            }
            put(g, 2, 7, 0);   // no such descriptor type: the fetch stops after 250..255, 0, 1
            g.reg(VtdRegister.IQT, 4L << 4);
            assertEquals(IntelIommu.IQE, g.reg(VtdRegister.FSTS));
            assertEquals(2L << 4, g.reg(VtdRegister.IQH));
            assertEquals(1 + 1, g.ram.readU32(VtdGuest.STATUS), "the wait at 1 wrote last");
            for (int k = 0; k < 8; k += 2) {
                assertEquals(ring[k] + 1, g.ram.readU32(VtdGuest.STATUS + 8 + 4L * k), "the wait at " + ring[k]);
            }
            assertEquals(0, g.ram.readU32(VtdGuest.STATUS + 8 + 4L * 8), "nothing after the bad descriptor");

            put(g, 2, 5 | 0x20 | 3L << 32, VtdGuest.STATUS + 8 + 4L * 8);
            g.reg(VtdRegister.FSTS, IntelIommu.IQE);
            assertEquals(0, g.reg(VtdRegister.FSTS));
            assertEquals(4L << 4, g.reg(VtdRegister.IQH), "drained up to the tail");
            assertEquals(3, g.ram.readU32(VtdGuest.STATUS + 8 + 4L * 8));
            assertEquals(3 + 1, g.ram.readU32(VtdGuest.STATUS), "the wait at 3 wrote last");
            assertEquals(10, g.unit.counters().waits(), "each of the ten waits ran once");
        }
    }

    /** Descriptor {@code index} of the queue at VtdGuest.QUEUE, written without moving the tail. */
    static void put(VtdGuest g, int index, long lo, long hi) {
        g.ram.writeU64(VtdGuest.QUEUE + index * 16L, lo);
        g.ram.writeU64(VtdGuest.QUEUE + index * 16L + 8, hi);
    }

    /**
     * Every invalid descriptor (a type legacy mode does not have, a reserved bit of each type, an
     * invalidation with no granularity) is an invalidation queue error the guest sees: FSTS.IQE,
     * IQH on the descriptor; the valid one software puts in its place then goes through.
     */
    @Test
    void everyInvalidDescriptorIsAnInvalidationQueueError() {
        List<long[]> bad = new ArrayList<>();
        for (int type = 0; type < 0x80; type++) {
            if (type < 1 || type > 5) {
                bad.add(new long[] {(type & 0xF) | (long) (type & 0x70) << 5, 0});   // bits 3:0 and 11:9
            }
        }
        bad.add(new long[] {1 | 0x40, 0});                          // context-cache: reserved bit 6
        bad.add(new long[] {1, 0});                                 // context-cache: no granularity
        bad.add(new long[] {1 | 1 << 4, 1});                        // context-cache: the high half is reserved
        bad.add(new long[] {2 | 1 << 4 | 1L << 8, 0});              // IOTLB: reserved bit 8
        bad.add(new long[] {2, 0});                                 // IOTLB: no granularity
        bad.add(new long[] {2 | 3 << 4, VtdCapabilities.MAMV + 1}); // IOTLB: address mask beyond MAMV
        bad.add(new long[] {2 | 1 << 4, 1L << 7});                  // IOTLB: reserved bit 71
        bad.add(new long[] {3 | 1 << 4, 0});                        // device-IOTLB: reserved bit 4
        bad.add(new long[] {3, 2});                                 // device-IOTLB: reserved bit 65
        bad.add(new long[] {4 | 1 << 5, 0});                        // IEC: reserved bit 5
        bad.add(new long[] {4, 1});                                 // IEC: the high half is reserved
        bad.add(new long[] {5 | 1 << 7, 0});                        // wait: reserved bit 7
        bad.add(new long[] {5 | 0x20, VtdGuest.STATUS | 1});        // wait: reserved bit 64
        try (VtdGuest g = new VtdGuest()) {
            g.enable();
            int n = 0;
            for (long[] d : bad) {
                g.submit(d[0], d[1]);
                String what = String.format("%#x %#x", d[0], d[1]);
                assertEquals(IntelIommu.IQE, g.reg(VtdRegister.FSTS), what);
                assertEquals((long) n << 4, g.reg(VtdRegister.IQH), what + ": IQH on the bad descriptor");
                put(g, n, 5 | 0x20 | (long) (n + 1) << 32, VtdGuest.STATUS);
                g.reg(VtdRegister.FSTS, IntelIommu.IQE);
                assertEquals(0, g.reg(VtdRegister.FSTS), what);
                assertEquals(n + 1, g.ram.readU32(VtdGuest.STATUS), what + ": the wait in its place ran");
                n++;
            }
        }
    }

    /**
     * A tail written before queued invalidation is turned on (against the spec, but Windows does
     * it): QEMU 7.2 fetches up to it when QIE is set, and so does the unit.
     */
    @Test
    void aTailWrittenBeforeTheQueueIsOnIsFetchedWhenItTurnsOn() {
        try (VtdGuest g = new VtdGuest()) {
            g.reg(VtdRegister.IQA, VtdGuest.QUEUE);
            put(g, 0, 4, 0);
            put(g, 1, 5 | 0x20 | 9L << 32, VtdGuest.STATUS);
            g.reg(VtdRegister.IQT, 2L << 4);
            assertEquals(0, g.ram.readU32(VtdGuest.STATUS), "nothing fetched while QI is off");
            g.reg(VtdRegister.GCMD, IntelIommu.QIE);
            assertEquals(9, g.ram.readU32(VtdGuest.STATUS));
            assertEquals(2L << 4, g.reg(VtdRegister.IQH));
            assertEquals(0, g.reg(VtdRegister.FSTS));
        }
    }
}
