package org.jvisor.tcg;

import org.jvisor.cpu.Accelerator;
import org.jvisor.cpu.CpuidModel;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.Vcpu;
import org.jvisor.memory.IrqLine;

/**
 * The software engine: vCPUs are {@link TcgCpu} interpreters on their own threads. Interrupt lines
 * end in {@link IrqLevels} until the PIC/LAPIC models are wired behind {@link InterruptSource}.
 */
public final class TcgAccelerator implements Accelerator {
    private final MachineBus bus;
    private final CpuidModel cpuid = TcgCpuid.model();
    private final IrqLevels irqs = new IrqLevels();
    private final Object atomicLock = new Object();
    private volatile InterruptSource interruptSource = irqs;

    public TcgAccelerator(MachineBus bus) {
        this.bus = bus;
    }

    @Override
    public String name() {
        return "tcg";
    }

    @Override
    public Vcpu createVcpu(int index, ExitStats stats) {
        return new TcgVcpu(index, bus, cpuid, stats, atomicLock, interruptSource);
    }

    @Override
    public IrqLine irqLine(int gsi) {
        return irqs.line(gsi);
    }

    /** The levels of the GSI lines, as recorded so far. */
    public IrqLevels irqLevels() {
        return irqs;
    }

    /** Sets the interrupt controller the vCPUs created from now on will ask. */
    public void setInterruptSource(InterruptSource source) {
        this.interruptSource = source;
    }

    @Override
    public CpuidModel cpuid() {
        return cpuid;
    }

    @Override
    public void close() {
    }
}
