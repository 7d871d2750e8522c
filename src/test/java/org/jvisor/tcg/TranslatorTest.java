package org.jvisor.tcg;

import org.jvisor.config.JitOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

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
}
