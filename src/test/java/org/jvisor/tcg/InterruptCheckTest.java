package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;

/**
 * An interrupt that becomes pending while a slice runs (a device completing on another thread,
 * or inside the guest's own port or MMIO write, as samecore virtio does) is taken at the next
 * block boundary, not when the slice of thousands of instructions ends: the wake-up
 * ({@link TcgCpu#requestInterruptCheck}) ends the slice early, in the interpreter and in
 * translated loops alike.
 */
class InterruptCheckTest {
    /** The handler of vector 0x20 stores RCX (the loop's count when it was taken) at DATA + 8. */
    private static final String PROGRAM = """
        sti
        xor %rcx, %rcx
        loop:
        out %al, $0x80
        inc %rcx
        cmpq $0, 0x200000
        je loop
        hlt
        """;

    /** Runs PROGRAM for one slice; the write to port 0x80 makes vector 0x20 pending the first time. */
    private static long countWhenTaken(JitOptions jit, boolean request) {
        try (TestMachine m = new TestMachine(PROGRAM, jit)) {
            m.interruptAtPort80Write(1, request);
            m.cpu.syncFromState();
            for (int slice = 0; slice < 100 && !m.cpu.halted; slice++) {
                m.cpu.runSlice(4096);
            }
            assertTrue(m.cpu.halted, "the loop ended: the interrupt was taken");
            return m.ram.readU64(TestMachine.DATA + 8);
        }
    }

    @Test
    void aRequestedCheckTakesTheInterruptAtTheNextBlockWhenInterpreting() {
        long n = countWhenTaken(JitOptions.OFF, true);
        assertTrue(n <= 2, "taken after " + n + " loop iterations");
    }

    @Test
    void aRequestedCheckEndsATranslatedLoop() {
        long n = countWhenTaken(new JitOptions(true, 0, JitOptions.DEFAULT_MAX_INSNS), true);
        assertTrue(n <= 2, "taken after " + n + " loop iterations");
    }

    @Test
    void withoutTheRequestTheInterruptWaitsForTheSliceEnd() {
        // the control: what the request saves (a slice of 4096 instructions, 4 per iteration)
        long n = countWhenTaken(JitOptions.OFF, false);
        assertTrue(n > 100, "taken after " + n + " loop iterations");
    }
}
