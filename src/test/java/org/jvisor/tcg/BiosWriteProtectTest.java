package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.GuestMemory;
import org.jvisor.testing.TranslatedToo;

/**
 * CPU writes to the BIOS area that the host bridge's PAM registers made read-only go nowhere, for
 * plain stores, string stores and locked read-modify-writes; a change of the protection by port
 * I/O (SeaBIOS writing PAM through 0xCFC) applies from the next instruction, even to pages the
 * vCPU had written just before.
 */
@TranslatedToo
class BiosWriteProtectTest {
    private static final long F_SEG = 0xF0000;
    private static final int F_SEG_SEGMENTS = 0xF000;

    @Test
    void protectedSegmentsDropWritesAndAProtectionChangeAppliesAtOnce() {
        String asm = """
            movl $0x11111111, 0xF0000
            outb %al, $0x80
            movl $0x22222222, 0xF0004
            mov $0xF0010, %rdi
            mov $0x33, %al
            mov $16, %rcx
            rep stosb
            lock incl 0xF0000
            movl $0x44444444, 0xEC000
            """;
        try (TestMachine m = new TestMachine(asm)) {
            // the port the program writes: the "PAM" closes the F segment
            m.io.register("pam", 0x80, 1, new BusDevice() {
                @Override
                public long read(long offset, int size) {
                    return 0;
                }

                @Override
                public void write(long offset, int size, long value) {
                    m.ram.setLowBiosReadOnly(F_SEG_SEGMENTS);
                }
            });
            m.run();
            GuestMemory ram = m.ram;
            assertEquals(0x11111111, ram.readU32(F_SEG), "written while open, then the locked increment dropped");
            assertEquals(0, ram.readU32(F_SEG + 4), "the first store after the OUT is dropped");
            assertEquals(0, ram.readU32(F_SEG + 0x10), "rep stos dropped");
            assertEquals(0x44444444, ram.readU32(0xEC000), "segment 11 stays writable");
        }
    }
}
