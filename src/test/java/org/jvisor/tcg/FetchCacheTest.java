package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvisor.cpu.X86State;

/**
 * The vCPU's cache of the code page it fetches from outlives changes of privilege level (every
 * SYSCALL, SYSRET, interrupt and IRET): what it caches must still be fetched under the checks
 * of the level running now (SDM vol. 3, 4.6: a user-mode fetch from a supervisor-mode page faults).
 */
class FetchCacheTest {
    private static final long GDT = 0x600, TSS = 0x700, KERNEL_STACK = 0x1e0000;

    /**
     * The kernel runs code on a supervisor-only page, then SYSRETs to that same code: the user
     * fetch must raise #PF (error code P | U), though the instruction was just fetched and decoded.
     */
    @Test
    void userFetchFromThePageTheKernelRanFaults() {
        try (TestMachine m = new TestMachine("""
                mov $0xC0000080, %ecx
                rdmsr
                or $1, %eax
                wrmsr
                mov $0xC0000081, %ecx
                xor %eax, %eax
                mov $0x00180008, %edx
                wrmsr
                mov $0x1f0000, %rsp
                xor %r12, %r12
                lea user(%rip), %rcx
                mov $0x2, %r11
            user:
                inc %r12
                cmp $1, %r12
                jne 1f
                sysretq
            1:
                """)) {
            X86State st = m.st;
            m.syscallGdt(GDT);
            st.tr.base = TSS;
            m.ram.writeU64(TSS + 4, KERNEL_STACK); // RSP0
            // #PF: vector in R15, error code in R14, CR2 in RBX, then on to the end of the program
            m.gate(14,
                "mov $14, %r15\npop %r14\nmov %cr2, %rbx\nmovabs $" + m.end + ", %rax\njmp *%rax\n");
            m.run();
            assertEquals(14, m.reg(15), "#PF delivered");
            assertEquals(m.reg(1), m.reg(3), "CR2 = the user instruction (RCX)");
            assertEquals(0x5, m.reg(14) & 0x7, "error code: present, user, read");
            assertEquals(1, m.reg(12), "the instruction ran once, in the kernel");
            assertEquals(0, st.cpl(), "the handler runs in the kernel");
        }
    }
    /**
     * The same bytes decoded in 64-bit mode, then run in compatibility mode from the same page
     * (the fetch cache does not forget a page on a mode change): 48 FF C0 is {@code inc %rax}
     * in 64-bit mode but {@code dec %eax; inc %eax} in 32-bit code (SDM vol. 2, 2.2.1).
     */
    @Test
    void sameBytesInAnotherModeAreDecodedAgain() {
        try (TestMachine m = new TestMachine("""
                xor %eax, %eax
                xor %ecx, %ecx
            x:
                .byte 0x48, 0xff, 0xc0
                test %ecx, %ecx
                jnz done
                mov $1, %ecx
                push $0x18
                lea y(%rip), %rdx
                push %rdx
                lretq
            y:
                nop
                nop
                jmp x
            done:
                """)) {
            m.ram.writeU64(GDT, 0);
            m.ram.writeU64(GDT + 0x08, 0x00AF_9B00_0000_FFFFL);
            m.ram.writeU64(GDT + 0x10, 0x00CF_9300_0000_FFFFL);
            m.ram.writeU64(GDT + 0x18, 0x00CF_9B00_0000_FFFFL); // 32-bit code, DPL 0
            m.st.gdtr.base = GDT;
            m.st.gdtr.limit = 0x1F;
            m.run();
            assertEquals(1, m.reg(0), "inc %rax once in 64-bit mode, then dec %eax; inc %eax");
            assertEquals(0x18, m.st.cs.selector, "ended in compatibility mode");
        }
    }
}
