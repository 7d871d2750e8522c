package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;

/**
 * Instructions of 16-bit real-mode code that BIOS boot code (SeaBIOS, GRUB's boot.img and
 * diskboot.img) uses and 64-bit code cannot: PUSHA/POPA, LES/LDS/LSS/LFS/LGS, the decimal adjusts
 * and SALC (SDM vol. 2). The expected values are the SDM's definitions worked by hand.
 */
class RealModeTest {
    private static final long CODE = 0x7C00, DATA = 0x2000;

    /** Runs {@code asm} (.code16, at 0000:7C00, stack at 0000:7000) up to its {@code end} label. */
    private static X86State run(String asm, GuestMemory ram) {
        byte[] code = Asm.assembleAt(".code16\n" + asm + "\nend:\n nop\n", CODE);
        ram.write(CODE, code);
        X86State st = new X86State();
        st.applyPowerOn();
        st.cs.selector = 0;
        st.cs.base = 0;
        st.rip = CODE;
        st.gpr[4] = 0x7000;
        TcgCpu cpu = new TcgCpu(st, new MachineBus(ram, new AddressSpace("io", 0x10000),
            new AddressSpace("mmio", 1L << 32)), TcgCpuid.model());
        cpu.runUntilRip(CODE + code.length - 1, 10_000);
        assertEquals(CODE + code.length - 1, st.rip, "reached the end");
        return st;
    }

    @Test
    void pushaAndPopaSaveEveryRegisterAndTheStackPointerBeforeThem() {
        try (GuestMemory ram = GuestMemory.allocate(2L << 20)) {
            X86State st = run("""
                pushal
                popal
                mov $0x1111, %ax
                mov $0x2222, %cx
                mov $0x3333, %dx
                mov $0x4444, %bx
                mov $0x5555, %bp
                mov $0x6666, %si
                mov $0x7777, %di
                pusha
                mov %sp, %ds:0x2000
                xor %ax, %ax
                xor %cx, %cx
                xor %bx, %bx
                xor %di, %di
                mov $0x1234, %bp
                popa
                """, ram);
            assertEquals((short) (0x7000 - 16), ram.readU16(DATA), "eight words pushed");
            assertEquals((short) 0x7000, ram.readU16(0x7000 - 10), "SP as it was before PUSHA, in the middle");
            assertEquals((short) 0x7777, ram.readU16(0x7000 - 16), "DI pushed last");
            assertEquals(0x1111, st.gpr[0] & 0xFFFF);
            assertEquals(0x2222, st.gpr[1] & 0xFFFF);
            assertEquals(0x4444, st.gpr[3] & 0xFFFF);
            assertEquals(0x5555, st.gpr[5] & 0xFFFF);
            assertEquals(0x7777, st.gpr[7] & 0xFFFF);
            assertEquals(0x7000, st.gpr[4] & 0xFFFF, "POPA discards the saved SP, ends where PUSHA began");
        }
    }

    @Test
    void farPointerLoadsSetTheSegmentAndTheRegister() {
        try (GuestMemory ram = GuestMemory.allocate(2L << 20)) {
            ram.writeU16(DATA, (short) 0xBEEF);
            ram.writeU16(DATA + 2, (short) 0x1234);
            ram.writeU32(DATA + 4, 0x0000_0600);
            ram.writeU16(DATA + 8, (short) 0x0050);
            X86State st = run("""
                les 0x2000, %di
                lds 0x2000, %si
                lss %cs:0x2000, %bx
                lfs %cs:0x2000, %cx
                lgsl %cs:0x2004, %edx
                """, ram);
            assertEquals(0xBEEF, st.gpr[7] & 0xFFFF);
            assertEquals(0x1234, st.es.selector);
            assertEquals(0x12340, st.es.base);
            assertEquals(0x12340, st.ds.base);
            assertEquals(0x12340, st.ss.base);
            assertEquals(0x12340, st.fs.base);
            assertEquals(0xBEEF, st.gpr[6] & 0xFFFF);
            assertEquals(0xBEEF, st.gpr[3] & 0xFFFF);
            assertEquals(0x600, st.gpr[2] & 0xFFFF_FFFFL, "32-bit offset with the operand-size prefix");
            assertEquals(0x500, st.gs.base);
        }
    }

    @Test
    void decimalAdjustsFollowTheSdm() {
        try (GuestMemory ram = GuestMemory.allocate(2L << 20)) {
            X86State st = run("""
                mov $0x79, %al
                add $0x35, %al
                daa
                mov %al, %ds:0x2000
                pushf
                pop %ds:0x2002
                mov $0x35, %al
                sub $0x47, %al
                das
                mov %al, %ds:0x2004
                mov $0x0009, %ax
                add $0x08, %al
                aaa
                mov %ax, %ds:0x2006
                mov $0x0102, %ax
                sub $0x05, %al
                aas
                mov %ax, %ds:0x2008
                mov $0x3F, %al
                aam
                mov %ax, %ds:0x200a
                mov $0x0603, %ax
                aad
                mov %ax, %ds:0x200c
                stc
                .byte 0xD6             # SALC
                mov %al, %ds:0x200e
                clc
                .byte 0xD6
                """, ram);
            assertEquals(0x14, ram.readU8(DATA), "79 + 35 = 114: AL 0x14, carry");
            assertEquals(X86State.CF | X86State.AF, ram.readU16(DATA + 2) & (X86State.CF | X86State.AF));
            assertEquals((byte) 0x88, ram.readU8(DATA + 4), "35 - 47 = -12: 0x88 with borrow");
            assertEquals((short) 0x0107, ram.readU16(DATA + 6), "9 + 8 = 17 unpacked");
            assertEquals((short) 0x0007, ram.readU16(DATA + 8), "12 - 5 = 7 unpacked");
            assertEquals((short) 0x0603, ram.readU16(DATA + 10), "AAM: 63 = 6, 3");
            assertEquals((short) 0x003F, ram.readU16(DATA + 12), "AAD: 6, 3 = 63");
            assertEquals((byte) 0xFF, ram.readU8(DATA + 14), "SALC with CF");
            assertEquals(0, st.gpr[0] & 0xFF, "SALC without CF");
        }
    }
}
