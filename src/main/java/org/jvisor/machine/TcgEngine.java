package org.jvisor.machine;

import org.jvisor.cpu.Accelerator;
import org.jvisor.cpu.MachineBus;

/** Opens the software engine. */
final class TcgEngine {
    private TcgEngine() {
    }

    static Accelerator open(MachineBus bus, int cpus) throws MachineException {
        throw new MachineException("-accel tcg: the software CPU engine is not built yet");
    }
}
