package org.jvisor.tcg.diff;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The oracle itself: register block order, flags in and out, memory through a pointer. */
class NativeCpuTest {

    @Test
    void registersFlagsAndMemoryRoundTrip() {
        NativeCpu cpu = NativeCpu.get();
        long[] regs = new long[NativeCpu.BLOCK_LONGS];
        for (int i = 0; i < 16; i++) {
            regs[i] = 0x1111_1111_1111_1111L * i;
        }
        regs[16] = Gen.CF;
        // adc rax, rcx ; xchg r15, rbx (4c 87 fb is xchg rbx, r15) ; mov [rdx], rsi
        regs[2] = cpu.dataBase() + 0x100;
        byte[] code = {0x48, 0x11, (byte) 0xC8, 0x4C, (byte) 0x87, (byte) 0xFB, 0x48, (byte) 0x89, 0x32};
        long[] in = regs.clone();
        cpu.run(regs, code, NativeCpu.SNIPPET_MIN);
        assertEquals(in[0] + in[1] + 1, regs[0]);
        assertEquals(in[15], regs[3]);
        assertEquals(in[3], regs[15]);
        for (int i : new int[] {1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}) {
            assertEquals(in[i], regs[i], "register " + i);
        }
        assertEquals(in[6], cpu.data().get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0x100));
        assertEquals(0, regs[16] & Gen.CF);

        // stc ; std ; with DF set on entry the trampoline must return it, and the JVM survive
        regs[16] = 0;
        cpu.run(regs, new byte[] {(byte) 0xF9, (byte) 0xFD}, NativeCpu.SNIPPET_MIN + 0x400);
        assertEquals(Gen.CF | Gen.DF, regs[16] & (Gen.CF | Gen.DF));
    }
}
