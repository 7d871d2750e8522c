package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.WeakReference;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;
import org.jvisor.memory.IdentityDma;

/** The bytecode translator on small programs: each runs translated and interpreted, same results. */
class TranslatorTest {
    private static final JitOptions ALWAYS = new JitOptions(true, 0, JitOptions.DEFAULT_MAX_INSNS);

    /** Runs {@code asm} with every block translated and with none; returns the translated machine's state. */
    private static long[] both(String asm) {
        long[] translated;
        long translatedRflags;
        try (TestMachine m = new TestMachine(asm, ALWAYS)) {
            m.run();
            assertTrue(m.cpu.jitStats.units > 0, "nothing was translated");
            translated = m.st.gpr.clone();
            m.cpu.syncToState();
            translatedRflags = m.st.rflags;
        }
        try (TestMachine m = new TestMachine(asm, JitOptions.OFF)) {
            m.run();
            m.cpu.syncToState();
            for (int r = 0; r < 16; r++) {
                assertEquals(m.st.gpr[r], translated[r], "register " + r + " of\n" + asm);
            }
            assertEquals(m.st.rflags & 0xED5, translatedRflags & 0xED5, "flags of\n" + asm);
        }
        return translated;
    }

    @Test
    void rotatesSetCarryAndOverflow() {
        both("mov $0x80000001, %eax\nror $3, %eax\nror $1, %eax\nrol $5, %eax\n");
        both("mov $0x8000000000000001, %rax\nmov $7, %ecx\nror %cl, %rax\nrol %cl, %rax\nsetc %bl\nseto %dl\n");
        long[] r = both("mov $1, %eax\nror $1, %eax\nsetc %bl\nseto %dl\n");
        assertEquals(0x80000000L, r[0]);
        assertEquals(1, r[3]);
    }

    /**
     * A translation thrown away by a write to its page must not stay reachable from the running
     * machine (block entries, the jump cache): its hidden class is unloaded, or a guest that keeps
     * rewriting code would fill the JVM's metaspace.
     */
    @Test
    void droppedTranslationsAreUnloaded() {
        try (TestMachine m = new TestMachine("mov $1000, %ecx\n1: add %ecx, %eax\ndec %ecx\njnz 1b\n", ALWAYS)) {
            m.run();
            List<Unit> live = m.shared.units().hottest(8);
            assertTrue(!live.isEmpty(), "the loop was not translated");
            WeakReference<Class<?>> unitClass = new WeakReference<>(live.get(0).getClass());
            live = null;
            m.cpu.invalidateCode(TestMachine.CODE, 1);
            assertEquals(0, m.shared.units().liveUnits());
            for (int i = 0; i < 10 && unitClass.get() != null; i++) {
                System.gc();
            }
            assertNull(unitClass.get(), "the dropped unit's class is still loaded");
        }
    }

    /**
     * A device writing guest code by DMA (a virtio-blk read of a program) tells the CPU through
     * the DMA listener; the stale translation of the overwritten function must not run again.
     */
    @Test
    void dmaIntoTranslatedCodeDropsTheUnit() {
        String asm = "jmp main\nf: mov $1, %eax\nret\nmain: xor %r8, %r8\nmov $3000, %ecx\n"
            + "1: call f\nadd %rax, %r8\ndec %ecx\njnz 1b\n";
        try (TestMachine m = new TestMachine(asm, ALWAYS)) {
            m.run();
            assertEquals(3000, m.reg(8));
            long immediate = TestMachine.CODE + 3; // jmp rel8 (2 bytes), then B8 imm32
            new IdentityDma(m.ram, m.cpu::invalidateCode).write(immediate, new byte[] {2}, 0, 1);
            m.st.rip = TestMachine.CODE;
            m.run();
            assertEquals(6000, m.reg(8), "the overwritten function ran as translated before the DMA");
        }
    }
}
