package org.jvisor.devices.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.GuestMemoryException;
import org.jvisor.memory.IdentityDma;
import org.jvisor.testing.RegisterFuzz;

/**
 * Fuzzes the VT-d unit as a hostile guest reaches it: any access to its registers, any bytes in
 * the tables it reads (root, context, paging entries, invalidation queue descriptors, interrupt
 * remapping entries), queue tails anywhere, DMA by any requester to any IOVA and interrupt
 * requests of any shape. Nothing but a refused DMA (a GuestMemoryException) may escape; reads
 * hold no bits beyond their size; FSTS.PPF always says whether the fault record is pending,
 * GSTS.TES whether DMA is translated, and a queue that is on is drained (IQH = IQT) or stopped
 * with FSTS.IQE.
 */
class IntelIommuFuzzTest {
    private static final int[] REGISTERS;

    static {
        VtdRegister[] all = VtdRegister.values();
        REGISTERS = new int[all.length];
        for (int i = 0; i < all.length; i++) {
            REGISTERS[i] = all[i].offset;
        }
    }

    @FuzzTest(maxDuration = "60s")
    void registersTablesAndQueue(FuzzedDataProvider data) {
        try (GuestMemory ram = GuestMemory.allocate(GuestMemory.MIN_SIZE)) {
            boolean intremap = data.consumeBoolean();
            VtdOptions options = new VtdOptions(intremap, data.consumeBoolean(), data.consumeBoolean(),
                data.consumeBoolean() ? 39 : 48, intremap && data.consumeBoolean());
            IntelIommu unit = new IntelIommu(options, ram, new IdentityDma(ram), (a, d) -> { }, msg -> { });
            for (int i = 0; i < 64 && data.remainingBytes() > 0; i++) {
                switch (data.consumeInt(0, 5)) {
                    case 0, 1 -> RegisterFuzz.access(data, unit, VtdRegister.WINDOW, REGISTERS);
                    case 2 -> {
                        // table or descriptor bytes: mostly in the first pages, where small register values point
                        long at = data.consumeBoolean() ? data.consumeLong(0, 0x7FFF) & ~7L
                            : data.consumeLong(0, GuestMemory.MIN_SIZE - 8) & ~7L;
                        ram.writeU64(at, data.consumeBoolean() ? data.consumeLong(0, 0x7FFF) | data.consumeInt(0, 0x1FF)
                            : data.consumeLong());
                    }
                    case 3 -> {
                        IommuDma dma = unit.dmaFor(data.consumeInt(0, 0xFFFF));
                        long iova = data.consumeBoolean() ? data.consumeLong(0, GuestMemory.MIN_SIZE) : data.consumeLong();
                        try {
                            if (data.consumeBoolean()) {
                                dma.writeU32(iova, data.consumeInt());
                            } else {
                                byte[] b = new byte[data.consumeInt(0, 9000)];
                                dma.read(iova, b, 0, b.length);
                            }
                        } catch (GuestMemoryException refused) {
                            // a fault, or a translation to an address that is not RAM
                        }
                    }
                    case 4 -> unit.remapInterrupt(data.consumeInt(0, 0xFFFF),
                        0xFEE0_0000L | data.consumeLong(0, 0xFFFFF), data.consumeInt());
                    default -> unit.write(VtdRegister.IQT.offset, 8, (long) data.consumeInt(0, 0x8000) << 4);
                }
                long fsts = unit.read(VtdRegister.FSTS.offset, 4);
                long frcd = unit.read(VtdRegister.FRCD_HI.offset, 8);
                assertEquals(frcd >>> 63, (fsts >>> 1) & 1, "PPF follows the record's F bit");
                long gsts = unit.read(VtdRegister.GSTS.offset, 4);
                assertEquals(unit.translating(), (gsts & IntelIommu.TE) != 0);
                assertTrue((gsts & IntelIommu.QIE) == 0 || (fsts & IntelIommu.IQE) != 0
                    || unit.read(VtdRegister.IQH.offset, 8) == unit.read(VtdRegister.IQT.offset, 8),
                    "the queue is drained or stopped with IQE, never stopped silently");
            }
        }
    }
}
