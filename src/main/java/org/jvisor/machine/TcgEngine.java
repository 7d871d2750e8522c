package org.jvisor.machine;

import org.jvisor.cpu.Accelerator;
import org.jvisor.cpu.MachineBus;
import org.jvisor.devices.intc.LocalApic;
import org.jvisor.devices.timer.Clock;
import org.jvisor.tcg.InterruptSource;
import org.jvisor.tcg.LocalApicPort;
import org.jvisor.cpu.Vcpu;
import org.jvisor.memory.IdentityDma;
import org.jvisor.config.JitOptions;
import org.jvisor.tcg.TcgAccelerator;
import org.jvisor.tcg.TcgVcpu;
import org.jvisor.tcg.UnitLibrary;

/** Opens the software engine. */
final class TcgEngine {
    private TcgEngine() {
    }

    static Accelerator open(MachineBus bus, JitOptions jit, UnitLibrary translations) {
        return new TcgAccelerator(bus, jit, translations);
    }

    /**
     * The CPUID tcg's vCPUs can present: a local APIC, with x2APIC mode when {@code x2Apic}. Set
     * when the machine is built, before -cpu's choice is applied to it and before a snapshot's
     * vCPUs are checked against the result.
     */
    static void offerLocalApic(Accelerator accel, boolean x2Apic) {
        if (accel instanceof TcgAccelerator tcg) {
            tcg.setLocalApicPresent(true, x2Apic);
        }
    }

    /**
     * Makes {@code lapic} the interrupt controller of the next vCPU the tcg engine creates, with its
     * MSRs and CR8; {@code clock} is the LAPIC timer's time base (for IA32_TSC_DEADLINE). The
     * CPUID that says so is {@link #offerLocalApic}'s, which the machine set before.
     */
    static void attachLocalApic(Accelerator accel, LocalApic lapic, Clock clock) {
        if (accel instanceof TcgAccelerator tcg) {
            LocalApicPort port = new LapicPort(lapic, clock);
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

                @Override
                public boolean takeNmi() {
                    return lapic.takeNmi();
                }

                @Override
                public LocalApicPort localApic() {
                    return port;
                }
            });
        }
    }

    /**
     * INIT and startup IPIs from {@code lapic} reach the tcg vCPU: an application processor waits
     * for SIPI and starts in real mode at vector << 12 (SDM vol. 3, 8.4.4 MP initialization).
     */
    static void bindInitAndStartup(Vcpu vcpu, LocalApic lapic) {
        if (vcpu instanceof TcgVcpu tcg) {
            lapic.setListener(new LocalApic.Listener() {
                @Override
                public void onInit() {
                    tcg.init();
                }

                @Override
                public void onStartup(int vector) {
                    tcg.startup(vector);
                }

                @Override
                public void onNmi() {
                    tcg.kick();
                }
            });
        }
    }

    /** The translator's report for {@code -d jit}. */
    static String jitReport(Accelerator accel) {
        return accel instanceof TcgAccelerator tcg ? tcg.jitReport() : "== jit ==\nno translator on " + accel.name() + "\n";
    }

    /** Device DMA into guest RAM drops decoded code on tcg (self-modifying code, SDM vol. 3, 11.6). */
    static IdentityDma.WriteListener dmaListener(Accelerator accel) {
        return accel instanceof TcgAccelerator tcg ? tcg::invalidateCode : IdentityDma.WriteListener.NONE;
    }

    /** The LAPIC's MSR/CR8 side for the tcg CPU. */
    private record LapicPort(LocalApic lapic, Clock clock) implements LocalApicPort {
        @Override
        public long apicBase() {
            return lapic.apicBase();
        }

        @Override
        public boolean setApicBase(long value) {
            return lapic.setApicBase(value);
        }

        @Override
        public void setTscDeadline(boolean armed, long hostNanos) {
            if (!armed) {
                lapic.setTscDeadline(0);
                return;
            }
            // host time to the LAPIC clock's time; 0 means disarmed there, so a past deadline is 1
            long guestNs = clock.nanos() + (hostNanos - System.nanoTime());
            lapic.setTscDeadline(Math.max(1, guestNs));
        }

        @Override
        public boolean tscDeadlineArmed() {
            return lapic.tscDeadline() != 0;
        }

        @Override
        public boolean x2ApicMsrAccessible(int msr, boolean write) {
            return lapic.isX2Apic() && LocalApic.isX2ApicMsr(msr, write);
        }

        @Override
        public long readX2ApicMsr(int msr) {
            return lapic.readMsr(msr);
        }

        @Override
        public void writeX2ApicMsr(int msr, long value) {
            lapic.writeMsr(msr, value);
        }

        @Override
        public long cr8() {
            return lapic.cr8();
        }

        @Override
        public void setCr8(long value) {
            lapic.setCr8(value);
        }
    }
}
