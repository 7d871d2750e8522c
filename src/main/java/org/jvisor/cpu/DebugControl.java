package org.jvisor.cpu;

import java.util.Arrays;

/**
 * What a debugger (the gdbstub) asks of a vCPU's next runs: stop before executing an instruction
 * at one of {@code breakpoints} (linear addresses: CS.base + RIP outside 64-bit mode, as QEMU's
 * TCG compares its pc), or, with {@code singleStep}, run exactly one instruction and stop. A stop
 * is {@link VcpuExit.DebugStop}. Single steps take no interrupt, as QEMU's default gdbstub
 * stepping (SSTEP_ENABLE | SSTEP_NOIRQ | SSTEP_NOTIMER, "maintenance packet qemu.sstep").
 *
 * @param breakpoints sorted, without duplicates
 */
public record DebugControl(long[] breakpoints, boolean singleStep) {
    /** No debugger, or one that lets the vCPU run freely: the engine's fast path. */
    public static final DebugControl NONE = new DebugControl(new long[0], false);

    public DebugControl {
        breakpoints = breakpoints.clone();
        Arrays.sort(breakpoints);
        for (int i = 1; i < breakpoints.length; i++) {
            if (breakpoints[i] == breakpoints[i - 1]) {
                throw new IllegalArgumentException("breakpoint listed twice: 0x" + Long.toHexString(breakpoints[i]));
            }
        }
    }

    /** Whether the engine must look at each instruction (any breakpoint, or a step). */
    public boolean active() {
        return singleStep || breakpoints.length > 0;
    }

    /** Whether the instruction at linear address {@code pc} must not run before the debugger has seen it. */
    public boolean breaksAt(long pc) {
        // a handful of addresses: a linear scan beats a binary search's branches
        for (long b : breakpoints) {
            if (b == pc) {
                return true;
            }
        }
        return false;
    }

    /** The same breakpoints, stepping one instruction or not. */
    public DebugControl withSingleStep(boolean step) {
        return new DebugControl(breakpoints, step);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DebugControl d && d.singleStep == singleStep && Arrays.equals(d.breakpoints, breakpoints);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(breakpoints) * 31 + Boolean.hashCode(singleStep);
    }

    @Override
    public String toString() {
        return "DebugControl" + Arrays.toString(Arrays.stream(breakpoints).mapToObj(Long::toHexString).toArray())
            + (singleStep ? " step" : "");
    }
}
