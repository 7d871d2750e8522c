package org.jvisor.devices.intc;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.devices.timer.ManualClock;
import org.jvisor.devices.timer.TimerQueue;
import org.jvisor.testing.RegisterFuzz;

/**
 * Fuzzes the IOAPIC and the local APIC register files as a guest reaches them (MMIO at any
 * offset and size; the LAPIC's x2APIC MSRs and IA32_APIC_BASE too), mixed with what the rest of
 * the machine does: interrupt pins moving, messages arriving, INTA cycles, EOIs, guest time
 * passing. Nothing may escape, a read holds no bits beyond its size, every message sent names a
 * delivery mode and a vector in range, an acknowledged vector lies in 0-255, and the LAPIC timer
 * fires a bounded number of times as time passes.
 */
class ApicFuzzTest {
    /** The system bus as the APICs see it: checks every message. */
    static final class CheckingBus implements ApicBus {
        int messages;

        @Override
        public void deliver(int destination, DestMode destMode, DeliveryMode deliveryMode, int vector, boolean level,
                            boolean levelTriggered) {
            assertNotNull(destMode);
            assertNotNull(deliveryMode, "a message with a reserved delivery mode");
            assertTrue(vector >= 0 && vector <= 0xFF, "vector " + vector);
            // any 32 bits: x2APIC destinations are full-width (0xFFFFFFFF broadcasts)
            messages++;
        }

        @Override
        public void deliverToAll(LocalApic exclude, DeliveryMode deliveryMode, int vector, boolean level,
                                 boolean levelTriggered) {
            assertNotNull(deliveryMode, "a broadcast with a reserved delivery mode");
            assertTrue(vector >= 0 && vector <= 0xFF, "vector " + vector);
            messages++;
        }

        @Override
        public void eoi(int vector) {
            assertTrue(vector >= 0 && vector <= 0xFF, "EOI of vector " + vector);
        }
    }

    @FuzzTest(maxDuration = "60s")
    void ioapic(FuzzedDataProvider data) {
        CheckingBus bus = new CheckingBus();
        IoApic ioapic = new IoApic(0, bus);
        int[] regs = {0x00, 0x10, 0x40};
        for (int i = 0; i < 128 && data.remainingBytes() > 0; i++) {
            switch (data.consumeInt(0, 9)) {
                case 0, 1 -> ioapic.setIrq(data.consumeInt(0, 23), data.consumeBoolean());
                case 2 -> ioapic.eoi(data.consumeInt(0, 0xFF));
                case 3 -> {
                    // select a redirection entry or ID/VER/ARB, then write or read it
                    ioapic.write(0x00, 4, data.consumeInt(0, 0x3F + 8));
                    RegisterFuzz.access(data, ioapic, 0x20, new int[] {0x10});
                }
                default -> RegisterFuzz.access(data, ioapic, 0x1000, regs);
            }
        }
        ioapic.reset();
    }

    @FuzzTest(maxDuration = "60s")
    void lapic(FuzzedDataProvider data) {
        CheckingBus bus = new CheckingBus();
        ManualClock clock = new ManualClock(data.consumeLong(0, 1L << 50));
        try (TimerQueue timers = new TimerQueue(clock)) {
            LocalApic apic = new LocalApic(0, true, timers, bus);
            int[] regs = new int[64];
            for (int r = 0; r < regs.length; r++) {
                regs[r] = r << 4;
            }
            for (int i = 0; i < 128 && data.remainingBytes() > 0; i++) {
                switch (data.consumeInt(0, 11)) {
                    case 0 -> {
                        ApicBus.DeliveryMode mode = ApicBus.DeliveryMode.of(data.consumeInt(0, 7));
                        apic.accept(mode == null ? ApicBus.DeliveryMode.FIXED : mode, data.consumeInt(0, 0xFF),
                            data.consumeBoolean(), data.consumeBoolean());
                    }
                    case 1 -> {
                        int v = apic.acknowledgeInterrupt();
                        assertTrue(v >= -1 && v <= 0xFF, "acknowledged vector " + v);
                    }
                    case 2 -> {
                        long step = data.consumeLong(0, 20_000_000L);
                        long fired = timers.firedCount();
                        timers.advanceTo(clock.nanos() + step);
                        assertTrue(timers.firedCount() - fired <= step / 100 + 2,
                            (timers.firedCount() - fired) + " LAPIC timer callbacks in " + step + " ns");
                    }
                    case 3 -> apic.setApicBase(data.consumeLong());
                    case 4 -> {
                        int msr = 0x800 + data.consumeInt(0, 0x3F);
                        boolean write = data.consumeBoolean();
                        // the engine checks these before calling (and raises #GP otherwise)
                        if (apic.isX2Apic() && LocalApic.isX2ApicMsr(msr, write)) {
                            if (write) {
                                apic.writeMsr(msr, data.consumeLong());
                            } else {
                                apic.readMsr(msr);
                            }
                        }
                    }
                    case 5 -> apic.setCr8(data.consumeLong(0, 15));
                    default -> RegisterFuzz.access(data, apic, 0x1000, regs);
                }
                int p = apic.pendingInterruptVector();
                assertTrue(p >= -1 && p <= 0xFF, "pending vector " + p);
            }
            assertTrue(bus.messages <= 128, bus.messages + " messages from 128 register accesses");
        }
    }
}
