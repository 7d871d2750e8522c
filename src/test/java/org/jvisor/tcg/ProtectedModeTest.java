package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;
import org.jvisor.testing.TranslatedToo;

/**
 * 32-bit protected mode without paging: interrupts and exceptions through 8-byte IDT gates (same
 * privilege, with an error code, and from CPL 3 through a DPL-3 trap gate with the TSS stack
 * switch), and IRET back, including the return to CPL 3 (SDM vol. 3, 6.12; vol. 2, IRET).
 */
@TranslatedToo
class ProtectedModeTest {
    private static final long GDT = 0x1000, IDT = 0x2000, TSS = 0x3000, RECORD = 0x5000, CODE = 0x10_0000;
    private static final long CODE32 = 0x00CF_9A00_0000_FFFFL, DATA32 = 0x00CF_9200_0000_FFFFL;
    private static final long USER_CODE32 = 0x00CF_FA00_0000_FFFFL, USER_DATA32 = 0x00CF_F200_0000_FFFFL;
    private static final long TSS32 = 0x0000_8900_0000_0067L | TSS << 16; // available 32-bit TSS

    private static final String CODE_SOURCE = """
            .code32
            start:
                int $0x30
                ud2
                mov $0x1230, %ecx
                mov %cx, %ds           # beyond the GDT limit: #GP(0x1230)
                pushl $0x23            # to CPL 3: SS, ESP, EFLAGS, CS, EIP
                pushl $0x7000
                pushfl
                pushl $0x1b
                pushl $user
                iret
            .org 0x80
            user:
                int $0x31
            back:                      # 0x82
                mov %cs, %ebx
                mov %ss, %edx
            end:                       # 0x86
                nop
            .org 0x100
            handler_30:
                mov $0x30, %esi
                iret
            .org 0x140
            handler_ud:
                addl $2, (%esp)
                inc %ebp
                iret
            .org 0x180
            handler_gp:
                pop %edi
                addl $2, (%esp)
                iret
            .org 0x1c0
            handler_31:
                mov %esp, %eax
                mov (%esp), %ecx
                mov %ecx, 0x5000
                mov 4(%esp), %ecx
                mov %ecx, 0x5004
                mov 8(%esp), %ecx
                mov %ecx, 0x5008
                mov 12(%esp), %ecx
                mov %ecx, 0x500c
                mov 16(%esp), %ecx
                mov %ecx, 0x5010
                mov %ss, %ecx
                mov %ecx, 0x5014
                iret
            """;

    private static long gate(long handler, int selector, int attributes) {
        return (handler & 0xFFFF) | (long) selector << 16 | (long) attributes << 40 | (handler >>> 16) << 48;
    }

    @Test
    void interruptsThroughIdtGatesAndIretAcrossPrivilegeLevels() {
        byte[] code = Asm.assembleAt(CODE_SOURCE, CODE);
        try (GuestMemory ram = GuestMemory.allocate(4L << 20)) {
            ram.write(CODE, code);
            ram.writeU64(GDT + 0x08, CODE32);
            ram.writeU64(GDT + 0x10, DATA32);
            ram.writeU64(GDT + 0x18, USER_CODE32);
            ram.writeU64(GDT + 0x20, USER_DATA32);
            ram.writeU64(GDT + 0x28, TSS32);
            ram.writeU32(TSS + 4, 0x9000); // ESP0
            ram.writeU32(TSS + 8, 0x10); // SS0
            ram.writeU64(IDT + 6 * 8, gate(CODE + 0x140, 0x08, 0x8E));
            ram.writeU64(IDT + 13 * 8, gate(CODE + 0x180, 0x08, 0x8E));
            ram.writeU64(IDT + 0x30 * 8, gate(CODE + 0x100, 0x08, 0x8E));
            ram.writeU64(IDT + 0x31 * 8, gate(CODE + 0x1C0, 0x08, 0xEF)); // DPL 3 trap gate
            X86State st = new X86State();
            st.cr0 = X86State.CR0_PE | X86State.CR0_NE;
            st.gdtr.base = GDT;
            st.gdtr.limit = 0x2F;
            st.idtr.base = IDT;
            st.idtr.limit = 0x32 * 8 - 1;
            st.cs.loadDescriptor(0x08, CODE32);
            st.ss.loadDescriptor(0x10, DATA32 | 1L << 40);
            st.ds.loadDescriptor(0x23, USER_DATA32 | 1L << 40);
            st.es.loadDescriptor(0x23, USER_DATA32 | 1L << 40);
            st.fs.loadDescriptor(0x10, DATA32 | 1L << 40);
            st.gs.loadDescriptor(0x10, DATA32 | 1L << 40);
            st.tr.loadDescriptor(0x28, TSS32);
            st.rip = CODE;
            st.gpr[4] = 0x8000;
            st.rflags = X86State.FIXED1;
            TcgCpu cpu = new TcgCpu(st, new MachineBus(ram, new AddressSpace("io", 0x10000),
                new AddressSpace("mmio", 1L << 32)), TcgCpuid.model());
            cpu.runUntilRip(CODE + 0x86, 10_000);

            assertEquals(0x30, st.gpr[6], "INT 30h through a 32-bit interrupt gate and back");
            assertEquals(1, st.gpr[5], "#UD delivered once, IRET past UD2");
            assertEquals(0x1230, st.gpr[7], "#GP error code: the selector");
            assertEquals(0x9000 - 20, st.gpr[0] & 0xFFFF_FFFFL, "CPL 3 -> 0: the TSS stack, five dwords pushed");
            assertEquals(CODE + 0x82, ram.readU32(RECORD), "EIP after INT 31h");
            assertEquals(0x1b, ram.readU32(RECORD + 4), "user CS");
            assertEquals(0x7000, ram.readU32(RECORD + 12), "user ESP");
            assertEquals(0x23, ram.readU32(RECORD + 16), "user SS");
            assertEquals(0x10, ram.readU32(RECORD + 20), "SS0 from the TSS");
            assertEquals(0x1b, st.gpr[3] & 0xFFFF, "back at CPL 3 after IRET");
            assertEquals(0x23, st.gpr[2] & 0xFFFF, "user SS restored");
            assertEquals(0x7000, st.gpr[4] & 0xFFFF_FFFFL, "user ESP restored");
        }
    }
}
