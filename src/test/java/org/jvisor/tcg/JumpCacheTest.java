package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;
import org.jvisor.testing.TranslatedToo;

/** The vCPU's jump cache (linear RIP to block entry) finds only what a fetch would fetch now. */
@TranslatedToo
class JumpCacheTest {
    /** A supervisor-only 2 MiB page (the boot page tables have no U bit) holding "return 1". */
    private static final long FUNC = 0x800000;

    /**
     * Kernel code at FUNC (a supervisor page) runs translated and enters the vCPU's jump cache;
     * then user code calls FUNC. The fetch must raise #PF (SDM vol. 3, 4.6: a user-mode fetch
     * from a supervisor page), as the interpreter's fetch does, not find the kernel's unit by RIP.
     */
    @Test
    void userCodeCallingTranslatedKernelCodeFaults() {
        String asm = """
            mov $100, %ebx
            1: mov $0x800000, %rax
            call *%rax
            dec %ebx
            jnz 1b
            """ + TestMachine.syscallSetup("done") + TestMachine.sysretTo("user", 0x202) + """
            user:
            mov $0x800000, %rax
            call *%rax
            mov $99, %r15
            syscall
            done:
            """;
        for (JitOptions jit : new JitOptions[] {JitOptions.OFF, new JitOptions(true, 0, JitOptions.DEFAULT_MAX_INSNS)}) {
            try (TestMachine m = new TestMachine(asm, jit)) {
                m.ram.write(FUNC, Asm.assemble("mov $1, %eax\nret\n"));
                long gdt = 0x600;
                m.syscallGdt(gdt);
                // the first 2 MiB user-accessible (code, stack); FUNC's page stays supervisor-only
                m.userAccessibleFirst2MiB();
                m.ram.writeU64(0x4, 0x1E0000); // TSS (at 0) RSP0, for the #PF from ring 3
                m.gate(14, "mov $14, %r15\nmovabs $" + m.end + ", %rax\njmp *%rax\n");
                m.cpu.syncFromState();
                m.run();
                assertEquals(14, m.reg(15), "user code ran kernel code (jit " + jit.enabled() + ")");
            }
        }
    }
}
