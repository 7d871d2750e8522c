package org.jvisor.tcg;

import org.jvisor.config.JitOptions;
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
    private volatile CpuidModel offered = TcgCpuid.model();
    /** What the vCPUs present, once the machine applied -cpu to the offer; null: the offer. */
    private volatile CpuidModel presented;
    private final IrqLevels irqs = new IrqLevels();
    private final Object atomicLock = new Object();
    private volatile InterruptSource interruptSource = irqs;

    /** Code-page tracking shared by this VM's vCPUs (cross-modifying code); created with the first vCPU. */
    private SharedCode sharedCode;

    private final JitOptions jit;
    private final UnitLibrary library;
    private final java.util.List<TcgVcpu> vcpus = new java.util.ArrayList<>();

    public TcgAccelerator(MachineBus bus) {
        this(bus, JitOptions.fromSystemProperties());
    }

    public TcgAccelerator(MachineBus bus, JitOptions jit) {
        this(bus, jit, new UnitLibrary());
    }

    /** An engine whose translations go into, and come from, {@code library} (shared with other VMs). */
    public TcgAccelerator(MachineBus bus, JitOptions jit, UnitLibrary library) {
        this.bus = bus;
        this.jit = jit;
        this.library = library;
    }

    @Override
    public synchronized void dropWriteMappings() {
        for (TcgVcpu v : vcpus) {
            v.cpu().mmu.dropAllWrites();
        }
    }

    @Override
    public boolean logsDirtyPages() {
        return true;
    }

    /** Drops decoded code on every vCPU for guest-physical [gpa, gpa + len) (DMA into code pages). */
    public void invalidateCode(long gpa, long len) {
        SharedCode sc;
        synchronized (this) {
            sc = sharedCode;
        }
        if (sc == null) {
            return;
        }
        long end = gpa + len;
        for (long p = gpa & ~0xFFFL; p < end; p += 0x1000) {
            long off = bus.ram().offsetOf(p, 0x1000);
            if (off >= 0) {
                sc.written(off, null);
            }
        }
    }

    /** The translator's report ({@code -d jit}): what it translated and what ran translated, all vCPUs. */
    public synchronized String jitReport() {
        if (!jit.enabled()) {
            return "== jit ==\ntranslation off (-accel tcg,jit=off)\n";
        }
        JitStats sum = new JitStats();
        long retired = 0;
        for (TcgVcpu v : vcpus) {
            v.cpu().jitStats.addTo(sum);
            retired += v.cpu().instructionsRetired();
        }
        JitStats background = sharedCode == null ? null : sharedCode.backgroundStats();
        if (background != null) {
            background.addTo(sum);
        }
        long invalidated = sharedCode == null ? 0 : sharedCode.units().invalidated();
        StringBuilder sb = new StringBuilder(sum.format(retired, invalidated));
        sb.append("guest RAM access   ").append(HostMemory.RAW ? "raw (sun.misc.Unsafe)"
            : "java.lang.foreign (run with --sun-misc-unsafe-memory-access=allow for raw accesses)").append('\n');
        if (sharedCode != null) {
            sb.append("pages rewritten    ").append(sharedCode.units().mostRewritten(8)).append('\n');
        }
        if (sharedCode != null) {
            sb.append(String.format("hottest units: %18s %6s %6s %12s %14s %8s  %s%n", "RIP", "insns", "interp", "runs", "retired", "per run",
                "class (as profilers and -XX:+PrintCompilation name it)"));
            for (Unit u : sharedCode.units().hottest(12)) {
                sb.append(String.format("               %18x %6d %6d %12d %14d %8.1f  %s%n", u.rip, u.insnCount,
                    u.insnCount - u.nativeCount, u.runs, u.retired, u.runs == 0 ? 0.0 : (double) u.retired / u.runs,
                    u.getClass().getName()));
            }
        }
        return sb.toString();
    }

    @Override
    public String name() {
        return "tcg";
    }

    @Override
    public Vcpu createVcpu(int index, ExitStats stats) {
        SharedCode sc;
        synchronized (this) {
            if (sharedCode == null) {
                sharedCode = new SharedCode(bus.ram().hostSize(), library);
            }
            sc = sharedCode;
        }
        TcgVcpu v = new TcgVcpu(index, bus, cpuid(), stats, atomicLock, interruptSource, sc, jit);
        synchronized (this) {
            vcpus.add(v);
        }
        return v;
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

    /**
     * Offers a local APIC (CPUID.1:EDX[9]), and with {@code x2Apic} its x2APIC mode
     * (CPUID.1:ECX[21]), to the vCPUs created from now on and in {@link #cpuid()}. A new offer
     * replaces what {@link #presentCpuid} set: the machine presents its choice after this.
     */
    public void setLocalApicPresent(boolean present, boolean x2Apic) {
        this.offered = TcgCpuid.model(present, x2Apic);
        this.presented = null;
    }

    /** What the interpreter implements: every flag here runs as the SDM says (TcgCpuid). */
    @Override
    public CpuidModel offeredCpuid() {
        return offered;
    }

    @Override
    public CpuidModel cpuid() {
        CpuidModel p = presented;
        return p != null ? p : offered;
    }

    @Override
    public void presentCpuid(CpuidModel guest) {
        this.presented = guest;
    }

    /** Stops the VM's background translator; the machine unmaps guest RAM after this. */
    @Override
    public void close() {
        SharedCode sc;
        synchronized (this) {
            sc = sharedCode;
        }
        if (sc != null) {
            sc.close();
        }
    }
}
