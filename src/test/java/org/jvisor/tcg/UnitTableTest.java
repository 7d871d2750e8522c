package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The VM-wide table of translations: installing, dropping on writes, flushing when full. */
class UnitTableTest {
    private static final class Stub extends Unit {
        Stub(long hostOffset) {
            super(new Info(hostOffset, hostOffset, hostOffset + 1, hostOffset & ~0xFFFL, new long[1], new int[1],
                new boolean[1], new Insn[0], 1));
        }

        @Override
        void run(TcgCpu c, int budget) {
        }
    }

    @Test
    void twoVcpusTranslatingOneEntryCountOnce() {
        UnitTable t = new UnitTable(1 << 20, 4);
        UnitTable.Entry e = t.entry(0x1234);
        Unit first = new Stub(0x1234);
        Unit second = new Stub(0x1234);
        assertTrue(t.install(e, first));
        assertFalse(t.install(e, second), "the entry already has a unit");
        assertSame(first, e.unit);
        assertEquals(1, t.liveUnits());
        t.dropPage(0x1000);
        assertEquals(0, t.liveUnits());
        assertFalse(first.valid);
        assertNull(e.unit);
        assertTrue(e.dead);
    }

    @Test
    void aFullTableFlushesOnceAndFillsAgain() {
        UnitTable t = new UnitTable(1 << 20, 4);
        for (int i = 0; i < 4; i++) {
            assertTrue(t.install(t.entry(i * 0x1000L), new Stub(i * 0x1000L)));
        }
        UnitTable.Entry fifth = t.entry(0x8000);
        assertFalse(t.install(fifth, new Stub(0x8000)), "a full table flushes instead of installing");
        assertEquals(0, t.liveUnits());
        assertTrue(t.install(t.entry(0x8000), new Stub(0x8000)), "after the flush a new entry installs");
        assertEquals(1, t.liveUnits());
    }

    @Test
    void pagesRewrittenAgainNeedMoreEntriesBeforeTranslation() {
        UnitTable t = new UnitTable(1 << 20, 16);
        assertEquals(100, t.threshold(0x3000, 100));
        for (int round = 1; round <= 3; round++) {
            assertTrue(t.install(t.entry(0x3010), new Stub(0x3010)));
            t.dropPage(0x3000);
            assertEquals(100 << round, t.threshold(0x3000, 100));
        }
        t.dropPage(0x3000); // no units on the page: not a rewrite of translated code
        assertEquals(800, t.threshold(0x3000, 100));
        assertEquals(100, t.threshold(0x4000, 100));
    }
}
