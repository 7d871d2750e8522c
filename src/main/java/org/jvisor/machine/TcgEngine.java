package org.jvisor.machine;

import org.jvisor.cpu.Accelerator;
import org.jvisor.cpu.MachineBus;
import org.jvisor.devices.intc.LocalApic;
import org.jvisor.tcg.InterruptSource;
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

    /** Makes {@code lapic} the interrupt controller of the next vCPU the tcg engine creates. */
    static void attachLocalApic(Accelerator accel, LocalApic lapic) {
        if (accel instanceof TcgAccelerator tcg) {
            tcg.setInterruptSource(new InterruptSource() {
                @Override
                public boolean hasPendingInterrupt() {
                    return lapic.hasPendingInterrupt();
                }

                @Override
                public int acknowledgeInterrupt() {
                    return lapic.acknowledgeInterrupt();
                }

                @Override
                public void onPending(Runnable wake) {
                    lapic.setWakeup(wake);
                }
            });
        }
    }
}
