package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;

/**
 * The VM's background translator reads guest RAM, so closing the VM stops it, and waits for it,
 * before RAM is unmapped (a translation still running then crashed the JVM with SIGSEGV).
 */
class BackgroundTranslatorTest {
    @Test
    void closingTheVmStopsItsTranslatorBeforeRamGoes() {
        JitOptions jit = JitOptions.OFF.withEnabled(true).withThreshold(2);
        TestMachine m = new TestMachine("""
            mov $100, %ecx
            1: add %ecx, %eax
            dec %ecx
            jnz 1b
            """, jit);
        m.run();
        BackgroundTranslator b = m.shared.background(m.ram.segment(), jit);
        assertNotNull(b);
        assertTrue(b.running());
        m.close();
        assertFalse(b.running(), "the translator thread outlived the VM's RAM");
        assertNull(m.shared.background(m.ram.segment(), jit), "a closed VM started a translator again");
    }
}
