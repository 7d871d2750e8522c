package org.jvisor.tcg;

/**
 * Measures interpreter speed on a simple loop ({@code dec %rcx; jnz}), a slightly busier one and
 * one of scalar/packed SSE floating point.
 * Run with: java -cp target/classes:target/test-classes org.jvisor.tcg.TcgMips [iterations]
 */
public final class TcgMips {
    private TcgMips() {
    }

    public static void main(String[] args) {
        long iters = args.length > 0 ? Long.parseLong(args[0]) : 200_000_000L;
        measure("dec/jnz", "mov $" + iters + ", %rcx\n1: dec %rcx\njnz 1b\n", iters * 2);
        measure("alu+mem", "mov $" + iters / 4 + ", %rcx\nmov $0x200000, %rdi\n1: add %rcx, %rax\nxor %rax, %rdx\n"
            + "mov %rdx, (%rdi)\nadd (%rdi), %rbx\nlea 1(%rbx), %rbx\ndec %rcx\njnz 1b\n", iters / 4 * 7);
        measure("sse-fp", "mov $" + iters / 16 + ", %rcx\nmov $1, %eax\ncvtsi2sd %eax, %xmm1\nmov $3, %eax\n"
            + "cvtsi2sd %eax, %xmm3\n1: mulsd %xmm1, %xmm0\naddsd %xmm3, %xmm0\nmovapd %xmm0, %xmm4\n"
            + "divsd %xmm3, %xmm4\nsqrtsd %xmm4, %xmm5\naddps %xmm1, %xmm6\ndec %rcx\njnz 1b\n", iters / 16 * 8);
    }

    private static void measure(String name, String asm, long expected) {
        for (int round = 0; round < 3; round++) {
            try (TestMachine m = new TestMachine(asm)) {
                var mx = java.lang.management.ManagementFactory.getThreadMXBean();
                long c0 = mx.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                m.cpu.runUntilRip(m.end, Long.MAX_VALUE);
                long dt = System.nanoTime() - t0;
                long dc = mx.getCurrentThreadCpuTime() - c0;
                long n = m.cpu.instructionsRetired();
                System.out.printf("%-8s round %d: %,d instructions in %.3f s wall (%.1f MIPS), %.3f s CPU (%.1f MIPS)%n",
                    name, round, n, dt / 1e9, n / (dt / 1e3), dc / 1e9, n / (dc / 1e3));
            }
        }
    }
}
