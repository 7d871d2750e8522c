package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvisor.testing.TranslatedToo;

/**
 * REP MOVS and REP STOS over many pages, where the engine copies and fills page-sized runs at once:
 * the result is what an element-by-element copy gives, also when the destination overlaps the
 * source just ahead of it (the first bytes repeat), when elements straddle pages, and when the
 * count is larger than one resumable chunk.
 */
@TranslatedToo
class StringRunsTest {
    private static final long SRC = 0x400000, DST = 0x800000;

    @Test
    void movsCopiesAcrossPagesAndChunks() {
        int n = 100_003; // bytes: many pages, more than one chunk of 16384 elements
        try (TestMachine m = new TestMachine("mov $" + SRC + ", %rsi\nmov $" + DST + ", %rdi\nmov $" + n
                + ", %rcx\ncld\nrep movsb\n")) {
            for (int i = 0; i < n; i++) {
                m.ram.writeU8(SRC + i, (byte) (i * 7 + 3));
            }
            m.run();
            for (int i = 0; i < n; i++) {
                assertEquals((byte) (i * 7 + 3), m.ram.readU8(DST + i), "byte " + i);
            }
            assertEquals(0, m.reg(1));
            assertEquals(SRC + n, m.reg(6));
            assertEquals(DST + n, m.reg(7));
        }
    }

    @Test
    void movsqWithElementsStraddlingPages() {
        int q = 3000;
        long src = SRC + 0xFFD; // every 512th quadword crosses a page boundary
        try (TestMachine m = new TestMachine("mov $" + src + ", %rsi\nmov $" + (DST + 3) + ", %rdi\nmov $" + q
                + ", %rcx\nrep movsq\n")) {
            for (int i = 0; i < q * 8; i++) {
                m.ram.writeU8(src + i, (byte) (i * 13));
            }
            m.run();
            for (int i = 0; i < q * 8; i++) {
                assertEquals((byte) (i * 13), m.ram.readU8(DST + 3 + i), "byte " + i);
            }
            assertEquals(0, m.reg(1));
        }
    }

    @Test
    void overlappingForwardCopyRepeatsThePattern() {
        int n = 9000;
        try (TestMachine m = new TestMachine("mov $" + SRC + ", %rsi\nmov $" + (SRC + 3) + ", %rdi\nmov $" + n
                + ", %rcx\nrep movsb\n")) {
            m.ram.writeU8(SRC, (byte) 1);
            m.ram.writeU8(SRC + 1, (byte) 2);
            m.ram.writeU8(SRC + 2, (byte) 3);
            m.run();
            for (int i = 0; i < n + 3; i++) {
                assertEquals((byte) (i % 3 + 1), m.ram.readU8(SRC + i), "byte " + i);
            }
        }
    }

    @Test
    void stosFillsWithAnyPattern() {
        int q = 20_000;
        try (TestMachine m = new TestMachine("mov $" + DST + ", %rdi\nmov $" + q
                + ", %rcx\nmov $0x0102030405060708, %rax\nrep stosq\nmov $0x123, %rcx\nmov $0x5a, %al\nrep stosb\n")) {
            m.run();
            for (int i = 0; i < q; i++) {
                assertEquals(0x0102030405060708L, m.ram.readU64(DST + 8L * i), "quadword " + i);
            }
            for (int i = 0; i < 0x123; i++) {
                assertEquals((byte) 0x5a, m.ram.readU8(DST + 8L * q + i));
            }
            assertEquals(DST + 8L * q + 0x123, m.reg(7));
        }
    }
}
