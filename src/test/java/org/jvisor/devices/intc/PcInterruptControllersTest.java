package org.jvisor.devices.intc;

import org.junit.jupiter.api.Test;
import org.jvisor.devices.legacy.Pit8254;
import org.jvisor.devices.timer.ManualClock;
import org.jvisor.devices.timer.TimerQueue;
import org.jvisor.memory.AddressSpace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The PIT's IRQ0 reaching a vCPU both ways Linux tries in check_timer(): via the PIC, then the IOAPIC. */
class PcInterruptControllersTest {
    private final ManualClock clock = new ManualClock();
    private final TimerQueue timers = new TimerQueue(clock);
    private final PcInterruptControllers pc = new PcInterruptControllers(2, timers);
    private final AddressSpace io = new AddressSpace("io", 0x10000);
    private final AddressSpace mem = new AddressSpace("memory", 1L << 40);
    private final Pit8254 pit = new Pit8254(timers, pc.isaIrq(0));

    PcInterruptControllersTest() {
        pc.register(io, mem);
        pit.registerPorts(io);
    }

    private void startPit1ms() {
        io.write(0x43, 1, 0x34);
        io.write(0x40, 1, 1193 & 0xFF);
        io.write(0x40, 1, 1193 >> 8);
    }

    @Test
    void pitThroughThePicAsExtInt() {
        LocalApic bsp = pc.lapic(0);
        io.write(0x20, 1, 0x11);
        io.write(0x21, 1, 0x30);
        io.write(0x21, 1, 0x04);
        io.write(0x21, 1, 0x01);
        io.write(0x21, 1, 0xFE); // only IRQ0
        startPit1ms();
        assertEquals(0x30, bsp.acknowledgeInterrupt(), "programming mode 2 raises OUT: the first edge");
        io.write(0x20, 1, 0x20);
        assertFalse(bsp.hasPendingInterrupt());
        timers.advanceTo(1_000_000);
        assertTrue(bsp.hasPendingInterrupt());
        assertEquals(0x30, bsp.acknowledgeInterrupt());
        io.write(0x20, 1, 0x20);
        assertFalse(pc.lapic(1).hasPendingInterrupt());
    }

    @Test
    void pitThroughTheIoApicPin2() {
        LocalApic bsp = pc.lapic(0);
        bsp.write(LocalApic.REG_SVR, 4, 0x1FF);
        mem.write(IoApic.DEFAULT_BASE, 4, 0x10 + 2 * 2);
        mem.write(IoApic.DEFAULT_BASE + 0x10, 4, 0x0000_0030L); // pin 2: edge, physical 0, vector 0x30
        startPit1ms();
        assertEquals(0x30, bsp.acknowledgeInterrupt());
        bsp.write(LocalApic.REG_EOI, 4, 0);
        int ticks = 0;
        for (int ms = 1; ms <= 5; ms++) {
            timers.advanceTo(ms * 1_000_000L);
            while (bsp.pendingInterruptVector() == 0x30) {
                bsp.acknowledgeInterrupt();
                bsp.write(LocalApic.REG_EOI, 4, 0);
                ticks++;
            }
        }
        assertEquals(5, ticks);
        mem.write(IoApic.DEFAULT_BASE, 4, 0x01);
        assertEquals(0x0017_0020L, mem.read(IoApic.DEFAULT_BASE + 0x10, 4));
    }

    @Test
    void msiWindowDeliversToTheNamedCpu() {
        LocalApic ap = pc.lapic(1);
        ap.write(LocalApic.REG_SVR, 4, 0x1FF);
        pc.router().msiWindow().write(0x1000, 4, 0x0055);
        assertEquals(0x55, ap.pendingInterruptVector());
    }
}
