package org.jvisor.machine;

import org.jvisor.cpu.Accelerator;
import org.jvisor.cpu.MachineBus;
import org.jvisor.tcg.TcgAccelerator;

/** Opens the software engine. */
final class TcgEngine {
    private TcgEngine() {
    }

    static Accelerator open(MachineBus bus, int cpus) throws MachineException {
        if (cpus > 1) {
            // APs need INIT/SIPI from a LAPIC model, which the tcg platform does not have yet.
            throw new MachineException("-smp " + cpus + ": tcg runs one vCPU for now (use -accel kvm for SMP)");
        }
        return new TcgAccelerator(bus);
    }
}
