package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.WeakReference;
import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;

/** Machines sharing a {@link UnitLibrary}: same code reuses classes, different code never does. */
class UnitLibraryTest {
    private static final JitOptions ALWAYS = JitOptions.OFF.withEnabled(true).withThreshold(0);
    /** Translated by the threshold alone, which these tests are about (no burst). */
    private static final JitOptions LATE = JitOptions.OFF.withEnabled(true).withThreshold(1000).withBurst(0);

    private static final JitOptions NEVER = JitOptions.OFF.withEnabled(true).withThreshold(1_000_000).withBurst(0);

    private static byte[] loop(int step) {
        return loop(step, 1000);
    }

    private static byte[] loop(int step, int times) {
        return Asm.assemble("""
            mov $TIMES, %ecx
            xor %eax, %eax
            1: add $STEP, %eax
            imul $3, %eax, %edx
            dec %ecx
            jnz 1b
            """.replace("STEP", Integer.toString(step)).replace("TIMES", Integer.toString(times)));
    }

    @Test
    void aSecondMachineWithTheSameCodeDefinesNoClass() {
        UnitLibrary lib = new UnitLibrary();
        byte[] code = loop(7);
        try (TestMachine a = new TestMachine(code, ALWAYS, lib); TestMachine b = new TestMachine(code, ALWAYS, lib)) {
            a.run();
            long defined = lib.definedClasses();
            assertTrue(defined > 0, "the first machine translated its code");
            assertEquals(0, lib.reusedUnits());
            b.run();
            assertEquals(defined, lib.definedClasses(), "the second machine defined classes again");
            assertTrue(lib.reusedUnits() > 0);
            assertEquals(a.reg(0), b.reg(0));
            assertEquals(7L * 1000, b.reg(0));
            Unit ua = a.shared.units().hottest(1).getFirst();
            Unit ub = b.shared.units().hottest(1).getFirst();
            assertSame(ua.getClass(), ub.getClass(), "one class, compiled once by HotSpot");
            assertFalse(ua == ub, "each machine has its own unit (validity, counters, decoded code)");
        }
    }

    /** Machines sharing a library share their units' per-instruction tables; a machine alone keeps its own. */
    @Test
    void unitsOfTheSameCodeShareTheirTablesInASharedLibrary() {
        UnitLibrary lib = new UnitLibrary(true);
        byte[] code = loop(7);
        try (TestMachine a = new TestMachine(code, ALWAYS, lib); TestMachine b = new TestMachine(code, ALWAYS, lib);
             TestMachine alone = new TestMachine(code, ALWAYS)) {
            a.run();
            b.run();
            alone.run();
            Unit ua = a.shared.units().hottest(1).getFirst();
            Unit ub = b.shared.units().hottest(1).getFirst();
            Unit uo = alone.shared.units().hottest(1).getFirst();
            assertFalse(ua == ub);
            assertSame(ua.faultRip, ub.faultRip);
            assertSame(ua.faultAdj, ub.faultAdj);
            assertSame(ua.interpreted, ub.interpreted);
            assertSame(ua.helpers, ub.helpers);
            assertFalse(ua.faultRip == uo.faultRip, "a machine with its own library");
            assertEquals(7L * 1000, b.reg(0));
        }
    }

    @Test
    void differentCodeBytesNeverReuseAClass() {
        UnitLibrary lib = new UnitLibrary();
        try (TestMachine a = new TestMachine(loop(7), ALWAYS, lib); TestMachine b = new TestMachine(loop(9), ALWAYS, lib)) {
            a.run();
            long defined = lib.definedClasses();
            b.run();
            assertTrue(lib.definedClasses() > defined, "code that differs in one immediate got its own class");
            assertEquals(9L * 1000, b.reg(0), "and computes with its own immediate");
        }
    }

    @Test
    void anEntryHotElsewhereIsTranslatedEarlyOnlyFromAKnownClass() {
        UnitLibrary lib = new UnitLibrary();
        try (TestMachine first = new TestMachine(loop(7), ALWAYS, lib);
             TestMachine same = new TestMachine(loop(7), LATE, lib);
             TestMachine other = new TestMachine(loop(9), LATE, lib)) {
            first.run();
            long entry = TestMachine.CODE; // a unit's entry in the first machine: the program's start
            assertTrue(lib.wasHot(entry, entry), "the first machine's translation is recorded as hot");

            JitStats sameStats = new JitStats();
            UnitTable.Entry e = same.shared.units().entry(entry);
            e.count = 64; // far below LATE's threshold: a probe (the stop is where the run ended, as the first had it)
            assertNotNull(new Translator(same.ram.segment(), LATE, same.shared, sameStats).translate(entry, e, same.end));
            assertEquals(1, sameStats.sharedUnits);

            JitStats otherStats = new JitStats();
            UnitTable.Entry o = other.shared.units().entry(entry);
            o.count = 64;
            long defined = lib.definedClasses();
            assertNull(new Translator(other.ram.segment(), LATE, other.shared, otherStats).translate(entry, o, other.end),
                "a probe of different code bytes makes no unit");
            assertEquals(1, otherStats.probeMisses);
            assertEquals(defined, lib.definedClasses(), "and defines no class");
            assertFalse(o.declined, "the entry is left to the normal threshold");
            other.run();
            assertEquals(9L * 1000, other.reg(0));
        }
    }

    /**
     * Code another machine interpreted often (warm, below its threshold) is translated at a
     * probe, its class defined from the machine's own bytes: a machine whose code differs in one
     * immediate gets its own class and its own result, never the other machine's unit.
     */
    @Test
    void anEntryWarmElsewhereIsTranslatedEarlyFromTheMachinesOwnBytes() {
        UnitLibrary lib = new UnitLibrary(true);
        try (TestMachine first = new TestMachine(loop(7, 3000), NEVER, lib);
             TestMachine same = new TestMachine(loop(7, 3000), NEVER, lib);
             TestMachine other = new TestMachine(loop(9, 3000), NEVER, lib);
             TestMachine third = new TestMachine(loop(7, 3000), NEVER, lib)) {
            first.run();
            long body = TestMachine.CODE + 7; // the loop's block: entered 3000 times, interpreted
            assertEquals(0, lib.definedClasses(), "below the threshold nothing is translated");
            assertTrue(lib.wasWarmElsewhere(body, body, same.shared.machineId), "the loop is warm for the others");
            assertFalse(lib.wasWarmElsewhere(body, body, first.shared.machineId), "but not for the machine that ran it");

            UnitTable.Entry own = first.shared.units().entry(body);
            own.count = 64;
            JitStats firstStats = new JitStats();
            assertNull(new Translator(first.ram.segment(), NEVER, first.shared, firstStats).translate(body, own, first.end),
                "a machine's own warm code waits for its threshold");
            assertEquals(1, firstStats.probeMisses);

            Unit fromSame = probe(same, body);
            assertNotNull(fromSame, "warm elsewhere: translated at the probe");
            assertEquals(1, lib.definedClasses(), "its class is new, so it is defined");
            Unit fromOther = probe(other, body);
            assertNotNull(fromOther);
            assertEquals(2, lib.definedClasses(), "one immediate differs: a class of its own");
            assertFalse(fromOther.getClass() == fromSame.getClass(), "the other machine never runs the first one's class");
            assertSame(fromSame.getClass(), probe(third, body).getClass(), "equal bytes share the class");

            other.run();
            assertEquals(9L * 3000, other.reg(0), "the differing machine computes with its own immediate");
            assertTrue(other.cpu.jitStats.unitRuns > 0, "in its unit");
            same.run();
            assertEquals(7L * 3000, same.reg(0));
        }
    }

    /** Translates {@code m}'s entry at {@code rip} as the 64th entry of it (a probe). */
    private static Unit probe(TestMachine m, long rip) {
        UnitTable.Entry e = m.shared.units().entry(rip);
        e.count = 64;
        return new Translator(m.ram.segment(), NEVER, m.shared, new JitStats()).translate(rip, e, m.end);
    }

    /**
     * A shared library keeps the classes its machines dropped (the next machine booting the same
     * guest reuses them, compiled); a library of one machine lets them unload (TranslatorTest).
     */
    @Test
    void aSharedLibraryKeepsDroppedClassesForTheNextMachine() {
        UnitLibrary lib = new UnitLibrary(true);
        WeakReference<Class<?>> unitClass;
        try (TestMachine first = new TestMachine(loop(7), ALWAYS, lib)) {
            first.run();
            unitClass = new WeakReference<>(first.shared.units().hottest(1).getFirst().getClass());
            first.cpu.invalidateCode(TestMachine.CODE, 1);
            assertEquals(0, first.shared.units().liveUnits());
        }
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        assertNotNull(unitClass.get(), "the dropped class was unloaded");
        long defined = lib.definedClasses();
        try (TestMachine next = new TestMachine(loop(7), ALWAYS, lib)) {
            next.run();
            assertEquals(defined, lib.definedClasses(), "the next machine defined its classes again");
            assertSame(unitClass.get(), next.shared.units().hottest(1).getFirst().getClass());
        }
    }
}
