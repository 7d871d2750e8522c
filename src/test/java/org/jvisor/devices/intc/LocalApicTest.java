package org.jvisor.devices.intc;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvisor.devices.intc.ApicBus.DeliveryMode;
import org.jvisor.devices.intc.ApicBus.DestMode;
import org.jvisor.devices.legacy.I8259Pair;
import org.jvisor.devices.timer.ManualClock;
import org.jvisor.devices.timer.TimerQueue;

import static org.jvisor.devices.intc.LocalApic.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Two vCPUs' LAPICs and an IOAPIC on one router, with a manual clock (SDM vol. 3, chapter 10). */
class LocalApicTest {
    private final ManualClock clock = new ManualClock(5_000);
    private final TimerQueue timers = new TimerQueue(clock);
    private final ApicRouter router = new ApicRouter();
    private final List<String> events = new ArrayList<>();
    private LocalApic cpu0;
    private LocalApic cpu1;
    private int wakeups1;

    @BeforeEach
    void setUp() {
        cpu0 = new LocalApic(0, true, timers, null);
        cpu1 = new LocalApic(1, false, timers, null);
        router.addLocalApic(cpu0);
        router.addLocalApic(cpu1);
        cpu1.setWakeup(() -> wakeups1++);
        cpu1.setListener(new LocalApic.Listener() {
            @Override
            public void onInit() {
                events.add("init");
            }

            @Override
            public void onStartup(int vector) {
                events.add("sipi " + Integer.toHexString(vector));
            }

            @Override
            public void onNmi() {
                events.add("nmi");
            }
        });
    }

    private static int r(LocalApic a, int reg) {
        return (int) a.read(reg, 4);
    }

    private static void w(LocalApic a, int reg, int v) {
        a.write(reg, 4, v & 0xFFFF_FFFFL);
    }

    private static void enable(LocalApic a) {
        w(a, REG_SVR, 0x1FF);
    }

    @Test
    void resetState() {
        assertEquals(VERSION, r(cpu0, REG_VERSION));
        assertEquals(0x50014, r(cpu0, REG_VERSION));
        assertEquals(1 << 24, r(cpu1, REG_ID));
        assertEquals(0xFF, r(cpu0, REG_SVR));
        assertEquals(0xFFFF_FFFF, r(cpu0, REG_DFR));
        assertEquals(0x10000, r(cpu0, REG_LVT_TIMER));
        assertEquals(0x700, r(cpu0, REG_LVT_LINT0), "BSP LINT0 in ExtINT (virtual wire)");
        assertEquals(0x10000, r(cpu1, REG_LVT_LINT0));
        assertEquals(0xFEE0_0900L, cpu0.apicBase());
        assertEquals(0xFEE0_0800L, cpu1.apicBase());
    }

    @Test
    void fixedInterruptIsAcceptedOnlyWhenSoftwareEnabled() {
        cpu0.accept(DeliveryMode.FIXED, 0x41, true, false);
        assertFalse(cpu0.irrBit(0x41), "software-disabled: dropped");
        enable(cpu0);
        cpu0.accept(DeliveryMode.FIXED, 0x41, true, false);
        assertEquals(0x41, cpu0.pendingInterruptVector());
        w(cpu0, REG_SVR, 0xFF);
        assertEquals(-1, cpu0.pendingInterruptVector(), "held in IRR while disabled");
        assertTrue(cpu0.irrBit(0x41));
        enable(cpu0);
        assertEquals(0x41, cpu0.pendingInterruptVector());
        assertTrue(cpu0.hasPendingInterrupt());
        assertEquals(0x41, cpu0.acknowledgeInterrupt());
        assertTrue(cpu0.isrBit(0x41));
        assertFalse(cpu0.irrBit(0x41));
        assertEquals(0x40, r(cpu0, REG_PPR));
        w(cpu0, REG_EOI, 0);
        assertFalse(cpu0.isrBit(0x41));
        assertEquals(0, r(cpu0, REG_PPR));
    }

    @Test
    void tprAndInServiceClassesGatePriority() {
        enable(cpu0);
        w(cpu0, REG_TPR, 0x50);
        cpu0.accept(DeliveryMode.FIXED, 0x45, true, false);
        assertEquals(-1, cpu0.pendingInterruptVector(), "class 4 <= TPR class 5");
        cpu0.accept(DeliveryMode.FIXED, 0x61, true, false);
        assertEquals(0x61, cpu0.pendingInterruptVector());
        cpu0.acknowledge(0x61);
        w(cpu0, REG_TPR, 0);
        assertEquals(0x60, r(cpu0, REG_PPR));
        cpu0.accept(DeliveryMode.FIXED, 0x62, true, false);
        assertEquals(-1, cpu0.pendingInterruptVector(), "same class as the one in service");
        cpu0.accept(DeliveryMode.FIXED, 0x71, true, false);
        assertEquals(0x71, cpu0.pendingInterruptVector());
        assertEquals(0x71, cpu0.acknowledgeInterrupt());
        w(cpu0, REG_EOI, 0); // ends 0x71, the highest in service
        assertTrue(cpu0.isrBit(0x61));
        w(cpu0, REG_EOI, 0);
        assertEquals(0x62, cpu0.pendingInterruptVector());
        cpu0.setCr8(7);
        assertEquals(0x70, r(cpu0, REG_TPR));
        assertEquals(-1, cpu0.pendingInterruptVector());
        assertEquals(7, cpu0.cr8());
    }

    @Test
    void registerArraysShowIrrIsrTmr() {
        enable(cpu0);
        cpu0.accept(DeliveryMode.FIXED, 0x21, true, true);
        assertEquals(1 << 1, r(cpu0, REG_IRR + 0x10), "vector 0x21 is bit 1 of IRR[1]");
        assertEquals(1 << 1, r(cpu0, REG_TMR + 0x10));
        cpu0.acknowledgeInterrupt();
        assertEquals(1 << 1, r(cpu0, REG_ISR + 0x10));
    }

    @Test
    void oneShotTimerFiresAtInitialCountTimesDivide() {
        enable(cpu0);
        w(cpu0, REG_TIMER_DIVIDE, 0x3); // divide by 16
        w(cpu0, REG_LVT_TIMER, 0x30);
        w(cpu0, REG_TIMER_INITIAL, 1000);
        long start = clock.nanos();
        timers.advanceTo(start + 16 * 250);
        assertEquals(750, r(cpu0, REG_TIMER_CURRENT));
        timers.advanceTo(start + 16_000 - 1);
        assertEquals(-1, cpu0.pendingInterruptVector());
        timers.advanceTo(start + 16_000);
        assertEquals(0x30, cpu0.pendingInterruptVector());
        assertEquals(0, r(cpu0, REG_TIMER_CURRENT));
        cpu0.acknowledgeInterrupt();
        w(cpu0, REG_EOI, 0);
        timers.advanceTo(start + 1_000_000);
        assertEquals(-1, cpu0.pendingInterruptVector(), "one-shot fires once");
    }

    @Test
    void periodicTimerReloads() {
        enable(cpu0);
        w(cpu0, REG_TIMER_DIVIDE, 0xB); // divide by 1
        w(cpu0, REG_LVT_TIMER, 0x20000 | 0xEC);
        w(cpu0, REG_TIMER_INITIAL, 250_000);
        long start = clock.nanos();
        int fired = 0;
        for (int i = 1; i <= 5; i++) {
            timers.advanceTo(start + i * 250_000L);
            if (cpu0.pendingInterruptVector() == 0xEC) {
                fired++;
                cpu0.acknowledgeInterrupt();
                w(cpu0, REG_EOI, 0);
            }
        }
        assertEquals(5, fired);
        timers.advanceTo(start + 1_312_500);
        assertEquals(187_500, r(cpu0, REG_TIMER_CURRENT));
        w(cpu0, REG_TIMER_INITIAL, 0);
        timers.advanceTo(start + 2_500_000);
        assertEquals(-1, cpu0.pendingInterruptVector(), "count 0 stops the timer");
    }

    /**
     * Found by ApicFuzzTest: a periodic timer with an initial count of 1 fired every nanosecond
     * of guest time (13132 callbacks in 92 µs). Periods shorter than 200 µs fire every 200 µs,
     * as KVM's min_timer_period_us has it.
     */
    @Test
    void periodicTimerFiresNoFasterThanKvmAllows() {
        enable(cpu0);
        w(cpu0, REG_TIMER_DIVIDE, 0xB); // divide by 1
        w(cpu0, REG_LVT_TIMER, 0x20000 | 0xEC);
        w(cpu0, REG_TIMER_INITIAL, 1);
        long start = clock.nanos();
        long fired = timers.firedCount();
        timers.advanceTo(start + 1_000_000);
        assertEquals(1_000_000 / LocalApic.MIN_PERIODIC_NS, timers.firedCount() - fired);
        assertEquals(0xEC, cpu0.pendingInterruptVector());
    }

    @Test
    void changingTheTimerModeDisarms() {
        enable(cpu0);
        w(cpu0, REG_TIMER_DIVIDE, 0xB);
        w(cpu0, REG_LVT_TIMER, 0x30);
        w(cpu0, REG_TIMER_INITIAL, 1000);
        w(cpu0, REG_LVT_TIMER, 0x40030); // to TSC-deadline
        timers.advanceTo(clock.nanos() + 5000);
        assertFalse(cpu0.irrBit(0x30));
        assertEquals(0, r(cpu0, REG_TIMER_CURRENT));
    }

    @Test
    void divideChangeKeepsTheCurrentCount() {
        enable(cpu0);
        w(cpu0, REG_TIMER_DIVIDE, 0xB); // by 1
        w(cpu0, REG_LVT_TIMER, 0x30);
        w(cpu0, REG_TIMER_INITIAL, 1000);
        long t = clock.nanos();
        timers.advanceTo(t + 400);
        w(cpu0, REG_TIMER_DIVIDE, 0x0); // by 2
        assertEquals(600, r(cpu0, REG_TIMER_CURRENT));
        timers.advanceTo(t + 400 + 1199);
        assertFalse(cpu0.irrBit(0x30));
        timers.advanceTo(t + 400 + 1200);
        assertTrue(cpu0.irrBit(0x30));
    }

    @Test
    void maskedTimerCountsButDoesNotInterrupt() {
        enable(cpu0);
        w(cpu0, REG_TIMER_DIVIDE, 0xB);
        w(cpu0, REG_LVT_TIMER, 0x10030);
        w(cpu0, REG_TIMER_INITIAL, 100);
        timers.advanceTo(clock.nanos() + 1000);
        assertFalse(cpu0.irrBit(0x30));
    }

    @Test
    void tscDeadlineTimer() {
        enable(cpu0);
        w(cpu0, REG_LVT_TIMER, 0x40000 | 0xEF);
        w(cpu0, REG_TIMER_INITIAL, 5); // ignored in TSC-deadline mode
        assertEquals(0, r(cpu0, REG_TIMER_INITIAL));
        cpu0.setTscDeadline(50_000);
        assertEquals(50_000, cpu0.tscDeadline());
        timers.advanceTo(49_999);
        assertEquals(-1, cpu0.pendingInterruptVector());
        timers.advanceTo(50_000);
        assertEquals(0xEF, cpu0.pendingInterruptVector());
        assertEquals(0, cpu0.tscDeadline(), "disarmed after firing");
        cpu0.acknowledgeInterrupt();
        w(cpu0, REG_EOI, 0);
        cpu0.setTscDeadline(60_000);
        cpu0.setTscDeadline(0);
        timers.advanceTo(100_000);
        assertEquals(-1, cpu0.pendingInterruptVector(), "writing 0 disarms");
        cpu0.setTscDeadline(clock.nanos() - 10);
        assertEquals(0xEF, cpu0.pendingInterruptVector(), "a past deadline fires at once");
        assertEquals(0, cpu0.tscDeadline());
        cpu0.acknowledgeInterrupt();
        w(cpu0, REG_EOI, 0);
        w(cpu0, REG_LVT_TIMER, 0xEF); // back to one-shot: deadline writes are ignored
        cpu0.setTscDeadline(200_000);
        assertEquals(0, cpu0.tscDeadline());
    }

    @Test
    void initAndStartupIpisReachTheOtherCpu() {
        enable(cpu0);
        w(cpu0, REG_ICR_HIGH, 1 << 24);
        w(cpu0, REG_ICR_LOW, 0x0000_C500); // INIT, level assert
        w(cpu0, REG_ICR_LOW, 0x0000_8500); // INIT level de-assert: ignored
        w(cpu0, REG_ICR_LOW, 0x0000_069A); // STARTUP, vector 0x9A -> 0x9A000
        w(cpu0, REG_ICR_LOW, 0x0000_069A);
        assertEquals(List.of("init", "sipi 9a", "sipi 9a"), events);
        assertEquals(0, r(cpu0, REG_ICR_LOW) & (1 << 12), "delivery status idle");
        assertEquals(1 << 24, r(cpu0, REG_ICR_HIGH));
    }

    @Test
    void initResetsTheTargetButKeepsItsId() {
        enable(cpu1);
        w(cpu1, REG_TPR, 0x20);
        w(cpu0, REG_ICR_HIGH, 1 << 24);
        w(cpu0, REG_ICR_LOW, 0x4500);
        assertEquals(0xFF, r(cpu1, REG_SVR));
        assertEquals(0, r(cpu1, REG_TPR));
        assertEquals(1 << 24, r(cpu1, REG_ID));
    }

    @Test
    void fixedIpiWakesTheTarget() {
        enable(cpu1);
        w(cpu0, REG_ICR_HIGH, 1 << 24);
        w(cpu0, REG_ICR_LOW, 0x00FD);
        assertEquals(0xFD, cpu1.pendingInterruptVector());
        assertTrue(wakeups1 > 0);
        assertFalse(cpu0.irrBit(0xFD));
    }

    @Test
    void shorthandsSelfAllAndAllButSelf() {
        enable(cpu0);
        enable(cpu1);
        w(cpu0, REG_ICR_LOW, 0x0004_0050); // self
        assertTrue(cpu0.irrBit(0x50));
        assertFalse(cpu1.irrBit(0x50));
        w(cpu0, REG_ICR_LOW, 0x0008_0051); // all including self
        assertTrue(cpu0.irrBit(0x51));
        assertTrue(cpu1.irrBit(0x51));
        w(cpu0, REG_ICR_LOW, 0x000C_0052); // all excluding self
        assertFalse(cpu0.irrBit(0x52));
        assertTrue(cpu1.irrBit(0x52));
        w(cpu0, REG_ICR_LOW, 0x000C_0400); // NMI to all but self
        assertTrue(cpu1.takeNmi());
        assertFalse(cpu1.takeNmi());
        assertTrue(events.contains("nmi"));
    }

    @Test
    void logicalFlatAndClusterDestinations() {
        enable(cpu0);
        enable(cpu1);
        w(cpu0, REG_LDR, 0x0100_0000);
        w(cpu1, REG_LDR, 0x0200_0000);
        router.deliver(0x02, DestMode.LOGICAL, DeliveryMode.FIXED, 0x60, true, false);
        assertFalse(cpu0.irrBit(0x60));
        assertTrue(cpu1.irrBit(0x60));
        router.deliver(0x03, DestMode.LOGICAL, DeliveryMode.FIXED, 0x61, true, false);
        assertTrue(cpu0.irrBit(0x61) && cpu1.irrBit(0x61));
        w(cpu0, REG_DFR, 0x0FFF_FFFF); // cluster model
        w(cpu0, REG_LDR, 0x3100_0000); // cluster 3, member 0
        assertTrue(cpu0.matches(0x31, DestMode.LOGICAL));
        assertFalse(cpu0.matches(0x21, DestMode.LOGICAL));
        assertTrue(cpu0.matches(0xF1, DestMode.LOGICAL));
        router.deliver(0x03, DestMode.LOGICAL, DeliveryMode.LOWEST_PRIORITY, 0x62, true, false);
        assertTrue(cpu1.irrBit(0x62) && !cpu0.irrBit(0x62), "lowest priority picks exactly one");
    }

    @Test
    void msiThroughTheRouter() {
        enable(cpu1);
        router.deliverMsi(0xFEE0_1000L, 0x0000_0063); // dest 1, fixed, edge
        assertEquals(0x63, cpu1.pendingInterruptVector());
        router.deliverMsi(0xFEE0_1000L, 0x0000_C064); // level-triggered assert
        assertTrue(cpu1.tmrBit(0x64));
        router.deliverMsi(0xFEEF_F000L, 0x0000_0400); // NMI broadcast
        assertTrue(cpu0.takeNmi() && cpu1.takeNmi());
    }

    @Test
    void illegalVectorsAreLoggedInEsr() {
        enable(cpu0);
        w(cpu0, REG_LVT_ERROR, 0xFE);
        w(cpu0, REG_ICR_LOW, 0x0004_0005); // self IPI with vector 5
        w(cpu0, REG_ESR, 0);
        assertEquals(ESR_SEND_ILLEGAL_VECTOR, r(cpu0, REG_ESR));
        assertEquals(0xFE, cpu0.pendingInterruptVector(), "error LVT interrupt");
        w(cpu0, REG_ESR, 0);
        assertEquals(0, r(cpu0, REG_ESR));
    }

    @Test
    void softwareDisableMasksLvts() {
        enable(cpu0);
        w(cpu0, REG_LVT_LINT1, 0x400);
        assertEquals(0x400, r(cpu0, REG_LVT_LINT1));
        w(cpu0, REG_SVR, 0xFF);
        assertEquals(0x10400, r(cpu0, REG_LVT_LINT1));
        w(cpu0, REG_LVT_LINT1, 0x400);
        assertEquals(0x10400, r(cpu0, REG_LVT_LINT1), "mask stays while disabled");
    }

    @Test
    void lint1InNmiModeRaisesNmi() {
        enable(cpu1);
        w(cpu1, REG_LVT_LINT1, 0x400);
        router.lint1().set(true);
        router.lint1().set(false);
        assertTrue(cpu1.takeNmi());
        assertFalse(cpu0.takeNmi(), "cpu0's LINT1 is masked");
    }

    @Test
    void levelTriggeredEoiReachesTheIoApic() {
        IoApic ioapic = new IoApic(0, router);
        router.addIoApic(ioapic);
        enable(cpu0);
        ioapic.write(0, 4, 0x10 + 2 * 10);
        ioapic.write(0x10, 4, 0x0000_A0B0L); // level, physical dest 0, vector 0xB0
        ioapic.pin(10).set(true);
        assertEquals(0xB0, cpu0.acknowledgeInterrupt());
        assertTrue(cpu0.tmrBit(0xB0));
        assertTrue((ioapic.redirectionEntry(10) & (1 << 14)) != 0);
        ioapic.pin(10).set(false);
        w(cpu0, REG_EOI, 0);
        assertEquals(0, ioapic.redirectionEntry(10) & (1 << 14), "EOI broadcast cleared remote IRR");
        assertFalse(cpu0.hasPendingInterrupt());
    }

    @Test
    void extIntFromThePicThroughLint0() {
        I8259Pair pic = new I8259Pair(router.lint0());
        cpu0.setExtIntSource(pic::acknowledge);
        IrqRouter irqs = new IrqRouter(pic, null);
        pic.masterPorts().write(0, 1, 0x11);
        pic.masterPorts().write(1, 1, 0x30);
        pic.masterPorts().write(1, 1, 0x04);
        pic.masterPorts().write(1, 1, 0x01);
        pic.masterPorts().write(1, 1, 0x00);
        irqs.isa(0).pulse();
        assertTrue(cpu0.hasPendingInterrupt(), "virtual wire: BSP LINT0 in ExtINT mode");
        assertFalse(cpu1.hasPendingInterrupt());
        assertEquals(-1, cpu0.pendingInterruptVector(), "not an APIC vector");
        assertEquals(0x30, cpu0.acknowledgeInterrupt());
        assertFalse(cpu0.hasPendingInterrupt());
        w(cpu0, REG_LVT_LINT0, 0x10700);
        pic.masterPorts().write(0, 1, 0x20);
        irqs.isa(0).pulse();
        assertFalse(cpu0.hasPendingInterrupt(), "LINT0 masked");
    }

    @Test
    void globallyDisabledApicPassesThePicThrough() {
        assertTrue(cpu1.setApicBase(0xFEE0_0000L));
        assertFalse(cpu1.isEnabled());
        cpu1.setLint0(true);
        assertTrue(cpu1.hasPendingInterrupt());
        cpu1.accept(DeliveryMode.FIXED, 0x40, true, false);
        assertFalse(cpu1.irrBit(0x40), "a disabled APIC accepts no messages");
    }

    @Test
    void crossIpisEoisAndIoApicTrafficDoNotDeadlock() throws InterruptedException {
        IoApic ioapic = new IoApic(0, router);
        router.addIoApic(ioapic);
        I8259Pair pic = new I8259Pair(router.lint0());
        cpu0.setExtIntSource(pic::acknowledge);
        for (int v : new int[] {0x11, 0x30, 0x04, 0x01, 0x00}) {
            pic.masterPorts().write(v == 0x11 ? 0 : 1, 1, v);
        }
        enable(cpu0);
        enable(cpu1);
        ioapic.write(0, 4, 0x10 + 2 * 5);
        ioapic.write(0x10, 4, 0x0000_A0B5L); // level, to cpu0
        int rounds = 20_000;
        Thread a = Thread.ofPlatform().start(() -> {
            for (int i = 0; i < rounds; i++) {
                w(cpu0, REG_ICR_HIGH, 1 << 24);
                w(cpu0, REG_ICR_LOW, 0x00C1);
                while (cpu0.hasPendingInterrupt()) {
                    int v = cpu0.acknowledgeInterrupt();
                    if (v >= 0x30 && v < 0x38) {
                        pic.masterPorts().write(0, 1, 0x20); // EOI to the PIC
                    } else {
                        w(cpu0, REG_EOI, 0);
                    }
                }
            }
        });
        Thread b = Thread.ofPlatform().start(() -> {
            for (int i = 0; i < rounds; i++) {
                w(cpu1, REG_ICR_HIGH, 0);
                w(cpu1, REG_ICR_LOW, 0x00C2);
                if (cpu1.pendingInterruptVector() >= 0) {
                    cpu1.acknowledgeInterrupt();
                    w(cpu1, REG_EOI, 0);
                }
            }
        });
        Thread c = Thread.ofPlatform().start(() -> {
            for (int i = 0; i < rounds; i++) {
                ioapic.pin(5).set((i & 1) == 0);
                pic.irq(3).set((i & 1) == 0);
            }
        });
        for (Thread t : new Thread[] {a, b, c}) {
            t.join(60_000);
            assertFalse(t.isAlive(), "deadlock: " + t);
        }
    }

    @Test
    void x2apicModeMsrs() {
        assertFalse(cpu1.setApicBase(0xFEE0_0400L), "EXTD without EN");
        assertTrue(cpu1.setApicBase(0xFEE0_0C00L));
        assertTrue(cpu1.isX2Apic());
        assertEquals(1, cpu1.readMsr(0x802));
        assertEquals(0x0000_0002L, cpu1.readMsr(0x80D), "cluster 0, bit 1");
        assertFalse(cpu1.setApicBase(0xFEE0_0800L), "x2APIC straight to xAPIC is illegal");
        assertTrue(LocalApic.isX2ApicMsr(0x830, true));
        assertFalse(LocalApic.isX2ApicMsr(0x80E, false), "no DFR in x2APIC mode");
        assertFalse(LocalApic.isX2ApicMsr(0x802, true));
        cpu1.writeMsr(0x80F, 0x1FF);
        cpu1.writeMsr(0x83F, 0x44); // SELF IPI
        assertEquals(0x44, cpu1.pendingInterruptVector());
        enable(cpu0);
        cpu1.writeMsr(0x830, 0x0000_0000_0000_0045L); // fixed IPI to x2APIC ID 0
        assertTrue(cpu0.irrBit(0x45));
        assertEquals(0x45L, cpu1.readMsr(0x830));
        cpu1.acknowledgeInterrupt();
        cpu1.writeMsr(0x80B, 0);
        assertFalse(cpu1.isrBit(0x44));
    }

    /**
     * A remapped MSI in x2APIC mode carries destination bits 31:8 in address bits 63:40 (KVM's
     * X2APIC_API layout): an x2APIC cluster other than the LAPIC's, or a physical ID above 255,
     * must not reach it, though the low 8 bits would.
     */
    @Test
    void msiWithAnX2apicDestinationSelectsByAll32Bits() {
        assertTrue(cpu0.setApicBase(0xFEE0_0D00L));
        assertTrue(cpu1.setApicBase(0xFEE0_0C00L));
        cpu0.writeMsr(0x80F, 0x1FF);
        cpu1.writeMsr(0x80F, 0x1FF);
        router.deliverMsi(0xFEE0_0000L | 0x02 << 12 | 4 | (0x1_0000L << 32), 0x51);   // logical, cluster 1, member 1
        router.deliverMsi(0xFEE0_0000L | 0x01 << 12 | (0x100L << 32), 0x52);           // physical 0x101
        assertFalse(cpu1.irrBit(0x51) || cpu1.irrBit(0x52) || cpu0.irrBit(0x51) || cpu0.irrBit(0x52),
            "destinations above the low 8 bits select nobody here");
        router.deliverMsi(0xFEE0_0000L | 0x02 << 12 | 4, 0x53);                        // logical, cluster 0, member 1
        router.deliverMsi(0xFEE0_0000L | 0x01 << 12, 0x54);                            // physical 1
        assertTrue(cpu1.irrBit(0x53) && cpu1.irrBit(0x54));
        assertFalse(cpu0.irrBit(0x53) || cpu0.irrBit(0x54));
    }
}
