package org.jvisor.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ElfImageTest {

    /** A minimal ELF64 x86-64 executable with one PT_LOAD at 1 MiB. */
    static byte[] elf(int phnum, long paddr, long filesz, long memsz) {
        byte[] b = new byte[0x200];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        b[0] = 0x7F;
        b[1] = 'E';
        b[2] = 'L';
        b[3] = 'F';
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        bb.putShort(16, (short) 2);
        bb.putShort(18, (short) 62);
        bb.putLong(24, paddr);
        bb.putLong(32, 64);
        bb.putShort(54, (short) 56);
        bb.putShort(56, (short) phnum);
        for (int i = 0; i < phnum; i++) {
            int p = 64 + i * 56;
            bb.putInt(p, ElfImage.PT_LOAD);
            bb.putLong(p + 8, 0x100);
            bb.putLong(p + 16, paddr);
            bb.putLong(p + 24, paddr);
            bb.putLong(p + 32, filesz);
            bb.putLong(p + 40, memsz);
        }
        return b;
    }

    @Test
    void parsesLoadSegments() throws BootException {
        ElfImage e = ElfImage.parse(elf(1, 0x100000, 0x10, 0x1000), "t");
        assertEquals(0x100000, e.entry());
        assertEquals(1, e.segments().size());
        assertEquals(0x1000, e.segments().get(0).memSize());
    }

    @Test
    void rejectsMalformedFilesWithTheReason() {
        assertMessage(new byte[] {0x7F, 'E', 'L', 'F'}, "truncated");
        byte[] wrongMachine = elf(1, 0x100000, 0x10, 0x10);
        wrongMachine[18] = 3;
        assertMessage(wrongMachine, "not x86-64");
        assertMessage(elf(0, 0x100000, 0x10, 0x10), "no program headers");
        assertMessage(elf(1, 0x100000, 0x1000, 0x1000), "outside the");
        assertMessage(elf(1, 0x100000, 0x20, 0x10), "smaller than file size");
        byte[] many = elf(1, 0x100000, 0x10, 0x10);
        ByteBuffer.wrap(many).order(ByteOrder.LITTLE_ENDIAN).putShort(56, (short) 1000);
        assertMessage(many, "program header table lies outside");
        byte[] so = elf(1, 0x100000, 0x10, 0x10);
        so[16] = 3;
        assertMessage(so, "not an executable");
    }

    private static void assertMessage(byte[] file, String expected) {
        var e = assertThrows(BootException.class, () -> ElfImage.parse(file, "k"));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
