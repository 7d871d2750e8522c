package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvisor.testing.TranslatedToo;

/** Instruction sequences taken from code that Debian's kernel and busybox run. */
@TranslatedToo
class LinuxUserTest {
    private static final long D = TestMachine.DATA;

    /** busybox's static list-head initialisation (movq r64->xmm, punpcklqdq, movups to memory). */
    @Test
    void listHeadInitialisation() {
        try (TestMachine m = new TestMachine("""
                mov $0x200000, %rdi
                lea 0x10(%rdi), %rax
                movq %rax, %xmm0
                punpcklqdq %xmm0, %xmm0
                movups %xmm0, 0x10(%rdi)
                lea 0x20(%rdi), %rax
                movq %rax, %xmm0
                punpcklqdq %xmm0, %xmm0
                movups %xmm0, 0x20(%rdi)
                mov 0x20(%rdi), %rdx
                """)) {
            m.run();
            assertEquals(D + 0x10, m.ram.readU64(D + 0x10));
            assertEquals(D + 0x10, m.ram.readU64(D + 0x18));
            assertEquals(D + 0x20, m.ram.readU64(D + 0x20));
            assertEquals(D + 0x20, m.ram.readU64(D + 0x28));
            assertEquals(D + 0x20, m.reg(2));
        }
    }

    /** PUNPCKLQDQ (66 0F 6C) takes the low quadwords, PUNPCKHQDQ (66 0F 6D) the high ones. */
    @Test
    void unpackQuadwords() {
        try (TestMachine m = new TestMachine("""
                mov $0x200000, %rdi
                movdqu (%rdi), %xmm0
                movdqu 16(%rdi), %xmm1
                movdqa %xmm0, %xmm2
                punpcklqdq %xmm1, %xmm2
                movdqa %xmm0, %xmm3
                punpckhqdq %xmm1, %xmm3
                movdqa %xmm0, %xmm4
                punpckldq %xmm1, %xmm4
                movdqa %xmm0, %xmm5
                punpckhdq %xmm1, %xmm5
                """)) {
            m.ram.writeU64(D, 0x1111_1111_2222_2222L);
            m.ram.writeU64(D + 8, 0x3333_3333_4444_4444L);
            m.ram.writeU64(D + 16, 0x5555_5555_6666_6666L);
            m.ram.writeU64(D + 24, 0x7777_7777_8888_8888L);
            m.run();
            long[] x = m.st.xmm;
            assertEquals(0x1111_1111_2222_2222L, x[4]);
            assertEquals(0x5555_5555_6666_6666L, x[5]);
            assertEquals(0x3333_3333_4444_4444L, x[6]);
            assertEquals(0x7777_7777_8888_8888L, x[7]);
            assertEquals(0x6666_6666_2222_2222L, x[8]);
            assertEquals(0x5555_5555_1111_1111L, x[9]);
            assertEquals(0x8888_8888_4444_4444L, x[10]);
            assertEquals(0x7777_7777_3333_3333L, x[11]);
        }
    }
}
