package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.VcpuExit;
import org.jvisor.cpu.X86State;
import org.jvisor.testing.TranslatedToo;

@TranslatedToo
class SystemTest {
    /** Linear address of the test page mapped through our own PD/PT (PDPT slot 1 of the boot tables). */
    private static final long VPAGE = 0x4000_0000L;
    private static final long PD = 0x400000, PT = 0x401000, FRAME = 0x500000;

    private static void mapTestPage(TestMachine m, long pteFlags) {
        m.ram.fill(PD, 0x2000, (byte) 0);
        m.ram.writeU64(0x2000 + 8, PD | 3);
        m.ram.writeU64(PD, PT | 3);
        m.ram.writeU64(PT, FRAME | pteFlags);
    }

    @Test
    void pageFaultErrorCodesAndAccessedDirtyBits() {
        try (TestMachine m = new TestMachine("""
                mov $0x40000000, %rdi
                mov (%rdi), %rax
                mov $7, %eax
                mov %rax, (%rdi)
                mov %r14, %r12
                mov %cr2, %rbx
                mov $0x40001000, %rsi
                mov (%rsi), %rax
                mov %r14, %r11
                """)) {
            mapTestPage(m, 1); // present, read-only, supervisor
            m.installIdt(3);   // both faulting instructions are 3 bytes
            m.run();
            assertEquals(3, m.reg(12), "write to read-only page: P|W");
            assertEquals(VPAGE, m.reg(3), "CR2");
            assertEquals(0, m.reg(11), "read of not-present page: error 0");
            assertEquals(2, m.reg(13), "two faults delivered");
            long pte = m.ram.readU64(PT);
            assertTrue((pte & 0x20) != 0, "A set by the read");
            assertEquals(0, pte & 0x40, "D not set by the faulting write");
            assertTrue((m.ram.readU64(PD) & 0x20) != 0, "A set in the PDE");
        }
    }

    @Test
    void dirtyBitAndInvlpg() {
        try (TestMachine m = new TestMachine("""
                mov $0x40000000, %rdi
                mov (%rdi), %rax
                movq $0x1122, 8(%rdi)
                movq $0x500003, 0x401000
                invlpg (%rdi)
                movq $0x3344, 16(%rdi)
                """)) {
            mapTestPage(m, 3);
            m.installIdt(0);
            m.run();
            assertEquals(0, m.reg(13), "no faults");
            assertEquals(0x1122, m.ram.readU64(FRAME + 8));
            assertEquals(0x3344, m.ram.readU64(FRAME + 16));
            assertTrue((m.ram.readU64(PT) & 0x40) != 0, "D set after the write following INVLPG");
        }
    }

    @Test
    void invlpgDropsEveryEntryOfALargePage() {
        long oldFrame = 0x600000, newFrame = 0x800000;
        try (TestMachine m = new TestMachine("""
                mov $0x40000000, %rdi
                mov 0x1000(%rdi), %rax
                mov 0x3000(%rdi), %rbx
                movq $0x800083, 0x400000
                invlpg 0x10(%rdi)
                mov 0x1000(%rdi), %rcx
                mov 0x3000(%rdi), %rdx
                """)) {
            m.ram.fill(PD, 0x1000, (byte) 0);
            m.ram.writeU64(0x2000 + 8, PD | 3);
            m.ram.writeU64(PD, oldFrame | 0x83); // a 2 MiB page at 0x40000000
            m.ram.writeU64(oldFrame + 0x1000, 0x1111);
            m.ram.writeU64(oldFrame + 0x3000, 0x3333);
            m.ram.writeU64(newFrame + 0x1000, 0xAAAA);
            m.ram.writeU64(newFrame + 0x3000, 0xCCCC);
            m.installIdt(0);
            m.run();
            assertEquals(0, m.reg(13), "no faults");
            assertEquals(0x1111, m.reg(0));
            assertEquals(0x3333, m.reg(3));
            // INVLPG of the first 4 KiB of the 2 MiB page must also drop the entries of its other 4 KiB pieces
            assertEquals(0xAAAA, m.reg(1), "entry filled from the large page survived INVLPG");
            assertEquals(0xCCCC, m.reg(2), "entry filled from the large page survived INVLPG");
        }
    }

    @Test
    void reservedBitFault() {
        try (TestMachine m = new TestMachine("""
                mov $0x40000000, %rdi
                mov (%rdi), %rax
                """)) {
            mapTestPage(m, 3 | (1L << 51));
            m.installIdt(3);
            m.run();
            assertEquals(14, m.reg(15));
            assertEquals(9, m.reg(14), "P|RSVD");
        }
    }

    @Test
    void exceptionsThroughIdt() {
        try (TestMachine m = new TestMachine("""
                ud2
                mov %r15, %r8
                mov $0x8000000000000000, %rax
                mov (%rax), %rbx
                mov %r15, %r9
                mov %r14, %r10
                int3
                mov %r15, %r11
                """)) {
            m.installIdt(0);
            // ud2 is 2 bytes, the GP load is 3 bytes: patch the return by fixing RIP in R15-specific handlers
            m.ram.write(TestMachine.HANDLERS + 6 * 64, Asm.assemble("mov $6, %r15\nmov $-1, %r14\naddq $2, (%rsp)\niretq"));
            m.ram.write(TestMachine.HANDLERS + 13 * 64, Asm.assemble("mov $13, %r15\npop %r14\naddq $3, (%rsp)\niretq"));
            m.run();
            assertEquals(6, m.reg(8));
            assertEquals(13, m.reg(9));
            assertEquals(0, m.reg(10), "#GP(0) for a non-canonical address");
            assertEquals(3, m.reg(11), "INT3 returns after itself");
        }
    }

    @Test
    void tripleFaultWithoutIdt() {
        try (TestMachine m = new TestMachine("ud2")) {
            TripleFaultException e = assertThrows(TripleFaultException.class, m::run);
            assertTrue(e.getMessage().contains("#6"), e.getMessage());
        }
    }

    @Test
    void syscallSysretRoundTrip() {
        try (TestMachine m = new TestMachine(TestMachine.syscallSetup("kentry") + """
                mov $0xC0000084, %ecx
                mov $0x400, %eax
                xor %edx, %edx
                wrmsr
                """ + TestMachine.sysretTo("user", 0x602) + """
            user:
                mov %cs, %rbx
                mov %ss, %rbp
                pushfq
                pop %rsi
                mov $42, %eax
                syscall
            after:
                jmp done
            kentry:
                mov %cs, %r8
                mov %ss, %r9
                mov %rcx, %r10
                mov %r11, %r12
                pushfq
                pop %r13
                lea after(%rip), %rdi
            done:
                nop
                """)) {
            X86State st = m.st;
            long gdt = 0x600;
            m.syscallGdt(gdt);
            // user-accessible first 2 MiB
            m.userAccessibleFirst2MiB();
            m.run();
            assertEquals(0x2B, m.reg(3), "user CS");
            assertEquals(0x23, m.reg(5), "user SS");
            assertEquals(0x602, m.reg(6) & 0xFFF, "RFLAGS from R11");
            assertEquals(0x08, m.reg(8), "kernel CS from STAR");
            assertEquals(0x10, m.reg(9), "kernel SS");
            assertEquals(m.reg(7), m.reg(10), "RCX = RIP after SYSCALL");
            assertEquals(0x602, m.reg(12) & 0xFFF, "R11 = user RFLAGS");
            assertEquals(0, m.reg(13) & 0x400, "SFMASK cleared DF");
            assertEquals(0, st.cpl());
        }
    }

    @Test
    void lockedReadModifyWrite() {
        try (TestMachine m = new TestMachine("""
                mov $0x200000, %rdi
                movq $5, (%rdi)
                mov $5, %eax
                mov $9, %ecx
                lock cmpxchg %rcx, (%rdi)
                setz %r8b
                mov $5, %eax
                lock cmpxchg %rcx, (%rdi)
                setz %r9b
                mov %rax, %r10
                mov $3, %edx
                lock xadd %rdx, (%rdi)
                mov %rdx, %r12
                lock incl 8(%rdi)
                lock incw 13(%rdi)
                movq $1, 16(%rdi)
                movq $2, 24(%rdi)
                mov $1, %eax
                mov $2, %edx
                mov $0x33, %ebx
                mov $0x44, %ecx
                lock cmpxchg16b 16(%rdi)
                setz %r11b
                lock btsq $3, 32(%rdi)
                """)) {
            m.run();
            assertEquals(1, m.reg(8) & 0xFF);
            assertEquals(0, m.reg(9) & 0xFF);
            assertEquals(9, m.reg(10), "failed CMPXCHG loads the current value");
            assertEquals(9, m.reg(12), "XADD returns the old value");
            assertEquals(12, m.ram.readU64(0x200000));
            assertEquals(1, m.ram.readU32(0x200008));
            assertEquals(1, m.ram.readU16(0x20000D));
            assertEquals(1, m.reg(11) & 0xFF);
            assertEquals(0x33, m.ram.readU64(0x200010));
            assertEquals(0x44, m.ram.readU64(0x200018));
            assertEquals(8, m.ram.readU64(0x200020));
        }
    }

    @Test
    void selfModifyingCodeIsSeen() {
        try (TestMachine m = new TestMachine("""
                xor %ebx, %ebx
                mov $2, %ecx
            again:
            patch:
                mov $1, %al
                add %rax, %rbx
                movb $5, patch+1(%rip)
                dec %ecx
                jnz again
                """)) {
            m.run();
            assertEquals(6, m.reg(3) & 0xFF, "first pass adds 1, the patched second pass adds 5");
        }
    }

    @Test
    void invalidateCodeAfterOutsideWrite() {
        try (TestMachine m = new TestMachine("mov $1, %eax\n")) {
            m.run();
            assertEquals(1, m.reg(0));
            m.ram.writeU8(TestMachine.CODE + 1, (byte) 7); // as DMA would: behind the core's back
            m.cpu.invalidateCode(TestMachine.CODE, 5);
            m.st.rip = TestMachine.CODE;
            m.run();
            assertEquals(7, m.reg(0));
        }
    }

    @Test
    void storesOfOneVcpuInvalidateCodeOfAnother() throws Exception {
        try (TestMachine m = new TestMachine("mov $1, %eax\n")) {
            TcgAccelerator accel = new TcgAccelerator(new MachineBus(m.ram, m.io, m.mmio));
            TcgVcpu a = (TcgVcpu) accel.createVcpu(0, new ExitStats(false));
            TcgVcpu b = (TcgVcpu) accel.createVcpu(1, new ExitStats(false));
            a.loadState(m.st);
            a.cpu().runUntilRip(m.end, 100);
            assertEquals(1, a.cpu().state().gpr[0]);
            // vCPU b patches the immediate of the instruction a has decoded
            X86State bs = copyOf(m.st);
            m.ram.write(0x110000, Asm.assemble("movb $9, 0x100001\n"));
            bs.rip = 0x110000;
            b.loadState(bs);
            b.cpu().runUntilRip(0x110000 + 8, 100);
            assertEquals(9, m.ram.readU8(0x100001));
            a.cpu().state().rip = TestMachine.CODE;
            a.cpu().runUntilRip(m.end, 100);
            assertEquals(9, a.cpu().state().gpr[0], "a sees b's store at its next slice");
            a.close();
            b.close();
        }
    }

    private static X86State copyOf(X86State st) {
        X86State s = new X86State();
        s.copyFrom(st);
        return s;
    }

    @Test
    void apStartsInRealModeAfterInitSipiAndReachesLongMode() throws Exception {
        try (TestMachine m = new TestMachine("nop\n")) {
            // a trampoline at 0x8000 (SIPI vector 8): real mode -> protected mode -> long mode
            byte[] tramp = Asm.assembleAt("""
                .code16
                start:
                    cli
                    mov %cs, %ax
                    mov %ax, %ds
                    lgdtl gdtr - start
                    mov %cr0, %eax
                    or $1, %eax
                    mov %eax, %cr0
                    ljmpl $0x18, $pm32
                .code32
                pm32:
                    mov $0x20, %ax
                    mov %ax, %ds
                    mov %ax, %ss
                    mov $0x1000, %eax
                    mov %eax, %cr3
                    mov %cr4, %eax
                    or $0x20, %eax
                    mov %eax, %cr4
                    mov $0xC0000080, %ecx
                    rdmsr
                    or $0x100, %eax
                    wrmsr
                    mov %cr0, %eax
                    or $0x80000000, %eax
                    mov %eax, %cr0
                    ljmp $0x08, $lm64
                .code64
                lm64:
                    movq $0x600DF00D, 0x9000
                    mov $0x9100, %rsp
                    push $42
                    pop %rbx
                done:
                    hlt
                    jmp done
                .align 8
                gdt:
                    .quad 0
                    .quad 0x00AF9B000000FFFF
                    .quad 0x00CF93000000FFFF
                    .quad 0x00CF9B000000FFFF
                    .quad 0x00CF93000000FFFF
                gdtr:
                    .word 5 * 8 - 1
                    .long gdt
                """, 0x8000);
            m.ram.write(0x8000, tramp);
            TcgAccelerator accel = new TcgAccelerator(new MachineBus(m.ram, m.io, m.mmio));
            TcgVcpu ap = (TcgVcpu) accel.createVcpu(1, new ExitStats(false));
            ap.init();
            ap.startup(8);
            VcpuExit[] exit = new VcpuExit[1];
            Thread t = Thread.ofPlatform().start(() -> exit[0] = ap.run());
            while (t.isAlive() && (m.ram.readU32(0x9000) != 0x600DF00DL || !ap.cpu().halted)) {
                Thread.onSpinWait();
            }
            ap.kick();
            t.join();
            assertInstanceOf(VcpuExit.Kicked.class, exit[0]);
            X86State st = new X86State();
            ap.saveState(st);
            assertEquals(42, st.gpr[3]);
            assertTrue(st.longMode());
            assertEquals(0x08, st.cs.selector);
            ap.close();
        }
    }

    @Test
    void stringOperations() {
        try (TestMachine m = new TestMachine("""
                mov $0x200000, %rdi
                mov $0x41, %eax
                mov $100, %ecx
                rep stosb
                mov $0x200000, %rsi
                mov $0x201000, %rdi
                mov $100, %ecx
                rep movsb
                mov $0x201000, %rdi
                movb $0x42, 50(%rdi)
                mov $0x42, %eax
                mov $100, %ecx
                repne scasb
                mov %rcx, %r8
                mov $0x200000, %rsi
                mov $0x201000, %rdi
                mov $100, %ecx
                repe cmpsb
                mov %rcx, %r9
                std
                mov $0x200063, %rsi
                mov $4, %ecx
                lodsb
                cld
                """)) {
            m.run();
            assertEquals(49, m.reg(8));
            assertEquals(49, m.reg(9));
            assertEquals(0x41, m.reg(0) & 0xFF);
            assertEquals(0x200062, m.reg(6));
        }
    }

    /** IA32_APIC_BASE and the x2APIC MSRs reach the LAPIC through LocalApicPort (LocalApicPortTest). */
    @Test
    void fsBaseMsrWorksAndUnknownMsrsFault() {
        try (TestMachine m = new TestMachine("""
                mov $0xC0000100, %ecx
                mov $0x1234, %eax
                xor %edx, %edx
                wrmsr
                mov $0x12345, %ecx
                rdmsr
                """)) {
            m.installIdt(2);
            m.run();
            assertEquals(0x1234, m.st.fs.base);
            assertEquals(13, m.reg(15), "unknown MSR: #GP(0)");
            assertEquals(0, m.reg(14));
        }
    }

    @Test
    void externalInterruptAndNmiThroughTheSeam() {
        try (TestMachine m = new TestMachine("""
                nop
                sti
                nop
                nop
                cli
                mov %r13, %rbx
                """)) {
            m.installIdt(0);
            int[] nmis = {1};
            int[] irqs = {1};
            m.cpu.setInterruptSource(new InterruptSource() {
                @Override
                public boolean hasPendingInterrupt() {
                    return irqs[0] > 0;
                }

                @Override
                public int acknowledgeInterrupt() {
                    irqs[0]--;
                    return 20;
                }

                @Override
                public boolean takeNmi() {
                    return nmis[0]-- > 0;
                }
            });
            m.run();
            assertEquals(2, m.reg(3), "one NMI (with IF=0) and one external interrupt (after STI)");
            assertEquals(20, m.reg(15), "the last delivery was vector 20");
        }
    }

    @Test
    void cpuidAdvertisesWhatIsImplemented() {
        TcgAccelerator accel = new TcgAccelerator(null);
        var leaf1 = accel.cpuid().lookup(1, 0);
        assertEquals(0, leaf1.edx() & (1 << 9), "no APIC until the platform attaches one");
        assertTrue((leaf1.edx() & (1 << 26)) != 0, "SSE2");
        assertEquals(1 | 1 << 9, leaf1.ecx() & (1 | 1 << 9), "SSE3 and SSSE3");
        assertEquals(0, leaf1.ecx() & (1 << 3 | 1 << 19 | 1 << 20 | 1 << 26 | 1 << 28), "no MONITOR, SSE4.1/4.2, XSAVE, AVX");
        assertTrue((leaf1.ecx() & (1 << 31)) != 0, "hypervisor");
        assertEquals(0x4000_0001, accel.cpuid().lookup(0x4000_0000, 0).eax());
        accel.setLocalApicPresent(true, false);
        assertTrue((accel.cpuid().lookup(1, 0).edx() & (1 << 9)) != 0);
        assertTrue((accel.cpuid().lookup(0x8000_0001, 0).edx() & (1 << 29)) != 0, "long mode");
    }

    @Test
    void haltedVcpuWakesOnKick() throws Exception {
        try (TestMachine m = new TestMachine("cli\nhlt\n")) {
            TcgAccelerator accel = new TcgAccelerator(new MachineBus(m.ram, m.io, m.mmio));
            TcgVcpu vcpu = (TcgVcpu) accel.createVcpu(0, new ExitStats(false));
            vcpu.loadState(m.st);
            VcpuExit[] out = new VcpuExit[1];
            Thread t = Thread.ofPlatform().start(() -> out[0] = vcpu.run());
            while (!vcpu.cpu().halted) {
                Thread.onSpinWait();
            }
            vcpu.kick();
            t.join();
            assertInstanceOf(VcpuExit.Kicked.class, out[0]);
            X86State st = new X86State();
            vcpu.saveState(st);
            assertEquals(TestMachine.CODE + 2, st.rip);
        }
    }

    @Test
    void haltedVcpuWaitsWithoutATimeout() throws Exception {
        // an idle guest's vCPU must cost nothing until an interrupt or kick: no periodic wake-ups
        try (TestMachine m = new TestMachine("cli\nhlt\n")) {
            TcgAccelerator accel = new TcgAccelerator(new MachineBus(m.ram, m.io, m.mmio));
            TcgVcpu vcpu = (TcgVcpu) accel.createVcpu(0, new ExitStats(false));
            vcpu.loadState(m.st);
            Thread t = Thread.ofPlatform().start(vcpu::run);
            while (!vcpu.cpu().halted || t.getState() == Thread.State.RUNNABLE) {
                Thread.onSpinWait();
            }
            assertEquals(Thread.State.WAITING, t.getState(), "a halted vCPU parks until woken, with no timeout");
            vcpu.kick();
            t.join();
        }
    }
}
