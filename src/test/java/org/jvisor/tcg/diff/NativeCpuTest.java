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

        // paddq xmm3, xmm9 ; movq rax, xmm15 ; stmxcsr-visible flag: divss xmm0, xmm1 (1/0 sets ZE)
        int x = NativeCpu.XMM_SLOT;
        regs[x + 6] = 5;
        regs[x + 7] = 7;
        regs[x + 18] = 10;
        regs[x + 19] = 20;
        regs[x + 30] = 0x1234_5678_9ABC_DEF0L;
        regs[x] = Float.floatToRawIntBits(1f);
        regs[x + 2] = 0;
        regs[NativeCpu.MXCSR_SLOT] = NativeCpu.MXCSR_DEFAULT;
        byte[] sse = {0x66, 0x41, 0x0F, (byte) 0xD4, (byte) 0xD9, 0x66, 0x4C, 0x0F, 0x7E, (byte) 0xF8,
            (byte) 0xF3, 0x0F, 0x5E, (byte) 0xC1};
        cpu.run(regs, sse, NativeCpu.SNIPPET_MIN + 0x800);
        assertEquals(15, regs[x + 6]);
        assertEquals(27, regs[x + 7]);
        assertEquals(0x1234_5678_9ABC_DEF0L, regs[0]);
        assertEquals(Float.POSITIVE_INFINITY, Float.intBitsToFloat((int) regs[x]));
        assertEquals(NativeCpu.MXCSR_DEFAULT | 4, regs[NativeCpu.MXCSR_SLOT]);
    }
}
