package org.jvisor.tcg;

import org.jvisor.config.JitOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.jvisor.testing.TranslatedToo;

/**
 * A memory read-modify-write whose write faults (the read succeeds, the page is read-only) must
 * leave the state from before the instruction, flags included, so the handler sees the flags the
 * guest had and the restarted instruction computes the same result as an unfaulted run (SDM vol. 3,
 * 6.5: a fault is reported with the state before the faulting instruction). A wrong CF here makes
 * a restarted ADC/SBB/RCL/RCR compute a different value.
 */
@TranslatedToo
class FaultRestartTest {
    private static final long PAGE = 0x4000_0000L;
    private static final long PD = 0x400000, PT = 0x401000, FRAME = 0x500000;
    private static final long INITIAL = 0x8000_0000_F0F0_8181L;
    private static final long ARITH = 0x8D5;
    /** The #PF handler: records error code and RFLAGS, maps the page writable, restarts. */
    private static final byte[] PF_HANDLER = Asm.assemble("""
        pop %r14
        mov 16(%rsp), %r12
        movq $0x500003, 0x401000
        invlpg 0x40000000
        incq %r13
        iretq
        """);

    /** Flags before the instruction, set either straight into RFLAGS or lazily by a compare. */
    record Before(String name, String asm, long arith) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static final List<Before> BEFORE = List.of(
        new Before("popf all set", "mov $0x8d7, %eax\npush %rax\npopfq\n", ARITH),
        // 1 - 2: borrow, negative, AF (bit 4 borrow) and PF (0xFF has eight bits) set
        new Before("cmp borrow", "mov $1, %r8d\ncmp $2, %r8\n", 0x95),
        new Before("popf all clear", "push $2\npopfq\n", 0));

    private static final List<String> FORMS = List.of(
        "adc %eax, (%rdi)", "adcq $0x7f, (%rdi)", "sbbb %al, (%rdi)", "sbbw $3, (%rdi)",
        "addq %rax, (%rdi)", "add %eax, (%rdi)", "addq $5, (%rdi)", "subl $5, (%rdi)", "orw %ax, (%rdi)",
        "andb $0x0f, (%rdi)", "xorq %rbx, (%rdi)",
        "incl (%rdi)", "decq (%rdi)", "incb (%rdi)", "negl (%rdi)", "notq (%rdi)",
        "shlq $3, (%rdi)", "shrl %cl, (%rdi)", "sarb (%rdi)", "roll $5, (%rdi)", "rorq %cl, (%rdi)",
        "rclq $3, (%rdi)", "rcrl %cl, (%rdi)", "rclb (%rdi)", "rcrw (%rdi)",
        "shldl $4, %eax, (%rdi)", "shrdq %cl, %rax, (%rdi)", "shldw %cl, %bx, (%rdi)",
        "btsl %eax, (%rdi)", "btrq $5, (%rdi)", "btcw %ax, (%rdi)",
        "xaddl %eax, (%rdi)", "xaddb %bl, (%rdi)", "cmpxchgq %rbx, (%rdi)", "cmpxchg8b (%rdi)",
        "lock adcl %eax, (%rdi)", "lock btsq $7, (%rdi)", "lock xaddq %rax, (%rdi)",
        "lock cmpxchgl %ebx, (%rdi)", "lock negq (%rdi)", "lock decw (%rdi)", "xchg %rax, (%rdi)");

    static List<Object[]> cases() {
        List<Object[]> c = new ArrayList<>();
        for (String form : FORMS) {
            for (Before b : BEFORE) {
                c.add(new Object[] {form, b});
            }
        }
        return c;
    }

    @ParameterizedTest(name = "{0} after {1}")
    @MethodSource("cases")
    void aFaultingWriteLeavesTheFlagsOfBeforeTheInstruction(String form, Before before) {
        String program = "mov $0x40000000, %rdi\n" + before.asm()
            + "mov $0x13, %eax\nmov $0xfedcba9876543210, %rbx\nmov $0x25, %ecx\nmov $7, %edx\n"
            + form + "\npushfq\npop %r11\n";
        byte[] code = Asm.assemble(program);
        try (TestMachine ok = run(code, 3); TestMachine ro = run(code, 1)) {
            assertEquals(0, ok.reg(13), "no fault on the writable page");
            assertEquals(1, ro.reg(13), "one #PF on the read-only page");
            assertEquals(3, ro.reg(14), "#PF error code P|W");
            assertEquals(before.arith(), ro.reg(12) & ARITH, "arithmetic flags pushed by the #PF");
            for (int r = 0; r <= 11; r++) {
                assertEquals(ok.reg(r), ro.reg(r), "register " + r + " after the restarted instruction");
            }
            assertEquals(ok.ram.readU64(FRAME), ro.ram.readU64(FRAME), "memory after the restarted instruction");
        }
    }

    /**
     * Runs the program with the data page mapped by a PTE with {@code pteFlags}; the #PF handler
     * records the pushed error code (R14) and RFLAGS (R12), makes the page writable and restarts.
     */
    private static TestMachine run(byte[] program, long pteFlags) {
        TestMachine m = new TestMachine(program, JitOptions.fromSystemProperties());
        m.ram.fill(PD, 0x2000, (byte) 0);
        m.ram.writeU64(0x2000 + 8, PD | 3); // PDPT slot 1 of the boot tables: 0x40000000
        m.ram.writeU64(PD, PT | 3);
        m.ram.writeU64(PT, FRAME | pteFlags);
        m.ram.writeU64(FRAME, INITIAL);
        m.installIdt(0);
        m.ram.write(TestMachine.HANDLERS + 14 * 64, PF_HANDLER);
        try {
            m.run();
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }
}
